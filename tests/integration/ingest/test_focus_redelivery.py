"""AWS Data Exports restate a billing period by writing a new manifest: the period's rows are
replaced by what the new manifest lists, never added to (DESIGN §4)."""

from __future__ import annotations

import gzip
import json
import shutil
from decimal import Decimal

import duckdb
import pytest

from pipeline.app.steps import run_all
from pipeline.config.settings import load_settings
from tests.conftest import REPO, isolated_env

FIXTURES = REPO / "tests" / "fixtures" / "focus"
EXPECTED = json.loads((FIXTURES / "expected_totals.json").read_text())
EXPORT = "focus/aws/focus-ai-prod"
JAN = f"{EXPORT}/data/BILLING_PERIOD=2026-01"

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(tmp_path, monkeypatch):
    isolated_env(monkeypatch, pii_key="focus-fixture-test-key")
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES / "aws", landing / "focus" / "aws")
    (landing / "fx_rates").mkdir()
    shutil.copy(FIXTURES / "fx_rates" / "rates.csv", landing / "fx_rates" / "rates.csv")
    return load_settings(landing=landing, warehouse=tmp_path / "warehouse")


def january_by_file(settings) -> dict[str, Decimal]:
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        rows = con.execute(
            "select source_file, sum(effective_cost_original) from marts.cost_line_items "
            "where month = date '2026-01-01' group by 1"
        ).fetchall()
    finally:
        con.close()
    return {f.removeprefix(f"{EXPORT}/data/"): v for f, v in rows}


def expected_january() -> dict[str, Decimal]:
    return {
        rel.removeprefix("aws/focus-ai-prod/data/"): Decimal(months["2026-01"]["effective_cost"])
        for rel, months in EXPECTED["files"].items()
        if rel.startswith("aws/") and "2026-01" in months
    }


def test_a_restated_period_replaces_the_chunks_the_new_manifest_no_longer_lists(settings):
    run_all(settings)
    assert january_by_file(settings) == expected_january()

    # AWS restates January: chunk 00002 is superseded by 00003, which holds the same rows
    # plus one late tax line; the new manifest lists 00001 and 00003. The stale 00002 file
    # is still in the landing folder (the copy job never deletes).
    jan = settings.landing / JAN
    old = gzip.decompress((jan / "focus-ai-prod-00002.csv.gz").read_bytes()).decode()
    lines = old.rstrip("\n").split("\n")
    new = "\n".join([*lines, lines[-1]]) + "\n"
    (jan / "focus-ai-prod-00003.csv.gz").write_bytes(gzip.compress(new.encode(), mtime=0))
    mpath = settings.landing / EXPORT / "metadata" / "BILLING_PERIOD=2026-01" / "focus-ai-prod-Manifest.json"
    manifest = json.loads(mpath.read_text())
    manifest["dataFiles"] = [k.replace("00002", "00003") for k in manifest["dataFiles"]]
    manifest["executionId"] = "2026-01-restated"
    mpath.write_text(json.dumps(manifest, indent=2))

    run_all(settings)
    got = january_by_file(settings)
    want = expected_january()
    late_tax = want.pop("BILLING_PERIOD=2026-01/focus-ai-prod-00002.csv.gz") + Decimal("89.74")
    want["BILLING_PERIOD=2026-01/focus-ai-prod-00003.csv.gz"] = late_tax
    assert got == want


def test_a_period_whose_manifest_lists_an_undelivered_chunk_is_not_booked_yet(settings):
    (settings.landing / JAN / "focus-ai-prod-00002.csv.gz").unlink()
    run_all(settings)
    got = january_by_file(settings)
    assert not any(f.startswith("BILLING_PERIOD=2026-01/") for f in got), (
        "half a billing period was booked before all its files arrived"
    )
    # February is complete and its correction of January is booked.
    assert got == {"BILLING_PERIOD=2026-02/focus-ai-prod-00001.csv.gz": Decimal("-9.0000000000")}
