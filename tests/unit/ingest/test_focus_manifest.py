"""Which files of an AWS Data Exports FOCUS delivery are loaded: a billing period only when
every file its manifest lists is there; files the newest manifest does not list are dropped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

from pipeline.ingest import focus
from pipeline.landing.walk import scan
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "focus"
EXPORT = "focus/aws/focus-ai-prod"


def landing_with_aws(tmp_path: Path) -> SimpleNamespace:
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES / "aws", landing / "focus" / "aws")
    return SimpleNamespace(landing=landing)


def plan(settings):
    loadable, pending, dropped = focus.plan(settings, scan(settings, "focus"))
    return sorted(f.rel for f in loadable), pending, dropped


def test_complete_periods_load_all_their_chunks(tmp_path):
    settings = landing_with_aws(tmp_path)
    loadable, pending, dropped = plan(settings)
    assert loadable == [
        f"{EXPORT}/data/BILLING_PERIOD=2026-01/focus-ai-prod-00001.csv.gz",
        f"{EXPORT}/data/BILLING_PERIOD=2026-01/focus-ai-prod-00002.csv.gz",
        f"{EXPORT}/data/BILLING_PERIOD=2026-02/focus-ai-prod-00001.csv.gz",
    ]
    assert pending == {} and dropped == {}


def test_a_period_with_a_listed_chunk_missing_waits_and_says_which(tmp_path):
    settings = landing_with_aws(tmp_path)
    (settings.landing / EXPORT / "data" / "BILLING_PERIOD=2026-01" / "focus-ai-prod-00002.csv.gz").unlink()
    loadable, pending, _ = plan(settings)
    assert loadable == [f"{EXPORT}/data/BILLING_PERIOD=2026-02/focus-ai-prod-00001.csv.gz"]
    why = pending[f"{EXPORT}/data/BILLING_PERIOD=2026-01/focus-ai-prod-00001.csv.gz"]
    assert "focus-ai-prod-00002.csv.gz" in why


def test_a_period_without_its_manifest_waits(tmp_path):
    settings = landing_with_aws(tmp_path)
    shutil.rmtree(settings.landing / EXPORT / "metadata" / "BILLING_PERIOD=2026-02")
    loadable, pending, _ = plan(settings)
    assert f"{EXPORT}/data/BILLING_PERIOD=2026-02/focus-ai-prod-00001.csv.gz" in pending
    assert all("2026-02" not in rel for rel in loadable)


def test_a_newer_manifest_that_no_longer_lists_a_chunk_drops_it(tmp_path):
    settings = landing_with_aws(tmp_path)
    mpath = settings.landing / EXPORT / "metadata" / "BILLING_PERIOD=2026-01" / "focus-ai-prod-Manifest.json"
    manifest = json.loads(mpath.read_text())
    manifest["dataFiles"] = [k for k in manifest["dataFiles"] if not k.endswith("00002.csv.gz")]
    mpath.write_text(json.dumps(manifest))
    loadable, _, dropped = plan(settings)
    assert f"{EXPORT}/data/BILLING_PERIOD=2026-01/focus-ai-prod-00002.csv.gz" in dropped
    assert f"{EXPORT}/data/BILLING_PERIOD=2026-01/focus-ai-prod-00001.csv.gz" in loadable


def test_manifests_are_not_data_files(tmp_path):
    settings = landing_with_aws(tmp_path)
    assert all(not f.rel.endswith(".json") for f in scan(settings, "focus"))


def test_azure_export_run_manifest_is_not_a_data_file(tmp_path):
    """Cost Management writes manifest.json next to the parts of each FOCUS export run."""
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES / "azure", landing / "focus" / "azure")
    files = [f.rel for f in scan(SimpleNamespace(landing=landing), "focus")]
    assert files and all(rel.endswith("part_0_0001.csv") for rel in files), files


def test_header_check_accepts_1_3_service_provider_and_refuses_a_header_without_any_provider():
    assert focus.check_header({"billedcost", "serviceprovidername"}) is None
    assert focus.check_header({"billedcost", "providername"}) is None
    problem = focus.check_header({"billedcost", "effectivecost"})
    assert problem and "ServiceProviderName" in problem


AZ_RANGE = "focus/azure/shopco-focus-daily/20260101-20260131"
AZ_RUN = "b2f6c0de-71a4-4c2e-9d15-3f8e2a6b9c41"


def landing_with_two_azure_runs(tmp_path: Path, newer_complete: bool = True) -> SimpleNamespace:
    """The Azure fixture's run, and a newer run of the same export and date range (Cost Management
    writes one per day for a month-to-date export, each restating the month so far)."""
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES / "azure", landing / "focus" / "azure")
    old, new = landing / AZ_RANGE / AZ_RUN, landing / AZ_RANGE / "c3d4e5f6-0000-4000-8000-000000000002"
    new.mkdir()
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["runInfo"]["submittedTime"] = "2026-02-02T05:11:02.0000000Z"
    manifest["runInfo"]["runId"] = new.name
    manifest["blobs"] = [{"blobName": f"{AZ_RANGE.removeprefix('focus/')}/{new.name}/part_0_0001.csv"}]
    if not newer_complete:
        manifest["blobs"].append(
            {"blobName": f"{AZ_RANGE.removeprefix('focus/')}/{new.name}/part_1_0001.csv"}
        )
    (new / "manifest.json").write_text(json.dumps(manifest))
    shutil.copy(old / "part_0_0001.csv", new / "part_0_0001.csv")
    return SimpleNamespace(landing=landing)


def test_the_newest_azure_export_run_of_a_range_replaces_the_older_one(tmp_path):
    settings = landing_with_two_azure_runs(tmp_path)
    loadable, pending, dropped = plan(settings)
    assert loadable == [f"{AZ_RANGE}/c3d4e5f6-0000-4000-8000-000000000002/part_0_0001.csv"]
    assert pending == {}
    assert dropped == {
        f"{AZ_RANGE}/{AZ_RUN}/part_0_0001.csv": (
            f"superseded by the newer export run c3d4e5f6-0000-4000-8000-000000000002 of {AZ_RANGE}"
        )
    }


def test_an_incomplete_newer_azure_run_waits_and_the_older_run_stays(tmp_path):
    settings = landing_with_two_azure_runs(tmp_path, newer_complete=False)
    loadable, pending, dropped = plan(settings)
    assert loadable == [f"{AZ_RANGE}/{AZ_RUN}/part_0_0001.csv"]
    assert dropped == {}
    (why,) = pending.values()
    assert "lists 1 file(s) not yet delivered, e.g. part_1_0001.csv" in why


def test_a_booked_file_of_an_older_run_that_is_gone_is_dropped_not_missing(tmp_path):
    settings = landing_with_two_azure_runs(tmp_path)
    old = f"{AZ_RANGE}/{AZ_RUN}/part_0_0001.csv"
    shutil.rmtree(settings.landing / AZ_RANGE / AZ_RUN)
    _, _, dropped = focus.plan(settings, scan(settings, "focus"), booked=[old])
    assert old in dropped
