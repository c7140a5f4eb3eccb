"""`costledger demo --landing L --warehouse W` leaves a setup that keeps working: later commands
with the same folders use the demo's config without --config; and a first run of the shipped
config on an empty landing folder says so in one line. Real processes, a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipeline.config.settings import CONFIG_POINTER, DEMO_CONFIG

pytestmark = pytest.mark.slow


def _clean_env() -> dict[str, str]:
    """No COSTLEDGER_* at all (not even the tests' PII key): what a user's shell has."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COSTLEDGER_")}


def costledger(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.app.cli", *args],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_after_the_demo_run_report_status_and_query_use_its_config(tmp_path):
    where = ["--landing", "acme/landing", "--warehouse", "acme/warehouse"]  # relative to the cwd
    done = costledger("demo", *where, "--no-report", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    warehouse = tmp_path / "acme" / "warehouse"
    assert (warehouse / CONFIG_POINTER).read_text().strip() == str(DEMO_CONFIG)
    assert (tmp_path / "acme" / "landing" / CONFIG_POINTER).read_text().strip() == str(DEMO_CONFIG)

    run = costledger("run", "--quiet", *where, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "succeeded" in run.stdout.splitlines()[0]

    query = costledger(
        "query", "select distinct model_id from marts.monthly_cost_rollup order by 1", "--format", "csv",
        *where, cwd=tmp_path,
    )  # fmt: skip
    assert query.returncode == 0, query.stderr
    models = set(query.stdout.split()[1:])
    assert {"search-rerank-bert", "reco-llm", "ads-ctr-dcn"} <= models  # the demo company's models

    report = costledger("report", "--month", "2026-10", "--out", str(tmp_path / "out"), *where, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert any((tmp_path / "out").rglob("*.html"))
    assert "CNY" in report.stdout  # the demo's reporting currency; the shipped config's is USD

    status = costledger("status", *where, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert str(warehouse) in status.stdout

    # the warehouse alone is enough
    alone = costledger("query", "select count(*) from marts.cost_line_items", "--warehouse", "acme/warehouse",
                       cwd=tmp_path)  # fmt: skip
    assert alone.returncode == 0, alone.stderr


def test_the_shipped_config_on_an_empty_landing_is_one_clean_line(tmp_path):
    (tmp_path / "landing").mkdir()
    done = costledger("run", "--quiet", "--landing", "landing", "--warehouse", "warehouse", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    (line,) = done.stdout.splitlines()
    assert line.startswith("run ") and ": succeeded: " in line and "holds no files yet" in line, line
    assert str(tmp_path / "landing") in line
