"""Which native deliveries load: legacy CUR assemblies, CUR 2.0 manifests (issue 11)."""

from __future__ import annotations

import json
import shutil

from pipeline.ingest.native import aws_cur
from pipeline.landing.walk import survey
from tests.conftest import FIXTURES

LEGACY = FIXTURES / "native" / "aws_cur" / "acme-legacy-cur"
PERIOD = "aws_cur/acme-legacy-cur/20260901-20261001"
OLD = "9f3e1c5a-2b7d-4e8f-a6c0-1d3f5b7a9c2e"
NEW = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"


def _plan(settings, booked=()):
    files = survey(settings, "aws_cur").files
    return aws_cur.plan(settings, files, booked)


def _redeliver(landing, assembly: str, names: list[str]) -> None:
    manifest_path = landing / PERIOD / "acme-legacy-cur-Manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["assemblyId"] = assembly
    manifest["reportKeys"] = [f"cur/acme-legacy-cur/20260901-20261001/{assembly}/{n}" for n in names]
    manifest_path.write_text(json.dumps(manifest))


def test_the_manifests_assembly_loads_and_older_assemblies_are_dropped(tmp_path, settings_for):
    landing = tmp_path / "landing"
    shutil.copytree(LEGACY, landing / "aws_cur" / "acme-legacy-cur")
    settings = settings_for(landing)
    loadable, pending, dropped = _plan(settings)
    assert (
        [f.rel for f in loadable] == [f"{PERIOD}/{OLD}/acme-legacy-cur-1.csv.gz"]
        and not pending
        and not dropped
    )

    # AWS delivers the period again under a new assembly id, in two files; one has arrived
    (landing / PERIOD / NEW).mkdir()
    shutil.copy(
        landing / PERIOD / OLD / "acme-legacy-cur-1.csv.gz",
        landing / PERIOD / NEW / "acme-legacy-cur-1.csv.gz",
    )
    _redeliver(landing, NEW, ["acme-legacy-cur-1.csv.gz", "acme-legacy-cur-2.csv.gz"])
    booked = [f"{PERIOD}/{OLD}/acme-legacy-cur-1.csv.gz"]
    loadable, pending, dropped = _plan(settings, booked)
    assert loadable == []
    assert pending == {
        f"{PERIOD}/{NEW}/acme-legacy-cur-1.csv.gz": (
            "manifest acme-legacy-cur-Manifest.json lists 1 file(s) not yet delivered, e.g. acme-legacy-cur-2.csv.gz"
        )
    }
    assert set(dropped) == {f"{PERIOD}/{OLD}/acme-legacy-cur-1.csv.gz"}

    # the second file arrives: the new assembly loads whole
    shutil.copy(
        landing / PERIOD / NEW / "acme-legacy-cur-1.csv.gz",
        landing / PERIOD / NEW / "acme-legacy-cur-2.csv.gz",
    )
    loadable, pending, dropped = _plan(settings, booked)
    assert sorted(f.rel for f in loadable) == [
        f"{PERIOD}/{NEW}/acme-legacy-cur-1.csv.gz",
        f"{PERIOD}/{NEW}/acme-legacy-cur-2.csv.gz",
    ]
    assert not pending and set(dropped) == {f"{PERIOD}/{OLD}/acme-legacy-cur-1.csv.gz"}


def test_a_cur2_period_waits_for_every_file_its_manifest_lists(tmp_path, settings_for):
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES / "native" / "aws_cur_restated", landing / "aws_cur")
    data = landing / "aws_cur" / "acme-cur2" / "data" / "BILLING_PERIOD=2026-10"
    (data / "acme-cur2-00002.snappy.parquet").unlink()
    loadable, pending, dropped = _plan(settings_for(landing))
    assert loadable == [] and not dropped
    assert list(pending) == ["aws_cur/acme-cur2/data/BILLING_PERIOD=2026-10/acme-cur2-00001.snappy.parquet"]
