"""A native CUR 2.0 export pulled from an S3 server (moto) and booked: the pull brings the
export's layout into landing/aws_cur/, `costledger run` books the truth of
tests/fixtures/native/expected_totals.json, and a restatement delivered to the bucket moves only
the changed objects and replaces its period (issue 11)."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal

import duckdb
import pytest

from pipeline.landing.pull import adhoc_source, pull
from tests.conftest import FIXTURES
from tests.fixtures.cli import cli
from tests.integration.landing.test_pull import BUCKET, s3  # noqa: F401  (the moto server fixture)

NATIVE = FIXTURES / "native"
TRUTH = json.loads((NATIVE / "expected_totals.json").read_text())["truth"]
PREFIX = "cur2/acme-cur2"

pytestmark = pytest.mark.slow


def _upload(s3, tree) -> None:  # noqa: F811
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        s3.put(f"{PREFIX}/{path.relative_to(tree).as_posix()}", path.read_bytes())


def _booked(warehouse) -> dict:
    con = duckdb.connect(str(warehouse / "work.duckdb"), read_only=True)
    try:
        got = con.execute(
            "select strftime(month, '%Y-%m'), sum(billed_cost_original), sum(effective_cost_original), count(*) "
            "from core.line_items where source_system = 'aws_cur' and not is_superseded group by all"
        ).fetchall()
    finally:
        con.close()
    return {m: (b, e, n) for m, b, e, n in got}


def _truth(dataset: str) -> dict:
    (months,) = TRUTH[dataset]["by_account_month"].values()
    return {
        m: (Decimal(t["billed_cost"]), Decimal(t["effective_cost"]), t["rows"]) for m, t in months.items()
    }


def test_a_cur_export_pulled_from_s3_is_booked_and_its_restatement_replaces_the_period(s3, tmp_path):  # noqa: F811
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse"
    (landing / "fx_rates").mkdir(parents=True)
    shutil.copy(FIXTURES / "focus" / "fx_rates" / "rates.csv", landing / "fx_rates" / "rates.csv")
    from pipeline.config.settings import load_settings

    settings = load_settings(landing=landing, warehouse=warehouse)
    source = [adhoc_source(f"s3://{BUCKET}/{PREFIX}/", "aws_cur/acme-cur2")]

    _upload(s3, NATIVE / "aws_cur" / "acme-cur2")
    first = pull(settings, source)
    assert first["transferred"] == 4  # two periods: a data file and a manifest each
    res = cli("run", landing=landing, warehouse=warehouse)
    assert res.returncode == 0, res.stdout + res.stderr
    assert _booked(warehouse) == _truth("aws_cur2_parquet")

    _upload(s3, NATIVE / "aws_cur_restated" / "acme-cur2")
    second = pull(settings, source)
    assert second["transferred"] == 3  # October's restated file, its new second file, its manifest
    res = cli("run", landing=landing, warehouse=warehouse)
    assert res.returncode == 0, res.stdout + res.stderr
    assert _booked(warehouse) == _truth("aws_cur2_parquet_restated")
    assert pull(settings, source)["transferred"] == 0
