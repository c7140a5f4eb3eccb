"""The quality gates inside a real run: a currency with no rate stops the run before publish and
leaves the published file byte for byte as it was; a good run publishes its GX results."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline.config.settings import DEMO_CONFIG, load_settings
from pipeline.errors import InputError, QualityGateError
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures"
SMALL_COMPANY = FIXTURES / "ledger" / "landing"
JPY_EXPORT = FIXTURES / "quality" / "landing_jpy"

pytestmark = pytest.mark.slow


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """One good run of the small company; yields its settings."""
    import os

    from pipeline.app import steps

    os.environ.setdefault("COSTLEDGER_PII_KEY", "test-pii-key")
    root = tmp_path_factory.mktemp("quality_run")
    shutil.copytree(SMALL_COMPANY, root / "landing")
    settings = load_settings(config=DEMO_CONFIG, landing=root / "landing", warehouse=root / "warehouse")
    summary = steps.run_all(settings)
    assert summary.status == "succeeded"
    return settings


def test_good_run_publishes_gx_results_for_both_gates(published):
    con = duckdb.connect(str(published.published_db), read_only=True)
    try:
        rows = con.execute(
            "select stage, table_name, check_name, severity, success from audit.quality_results"
        ).fetchall()
    finally:
        con.close()
    assert {r[0] for r in rows} == {"raw", "marts"}
    assert all(r[4] for r in rows if r[3] == "critical")
    checks = {r[2] for r in rows}
    assert {
        "expect_column_values_to_be_in_set",
        "expect_column_pair_values_to_be_equal",
        "assert_cost_conserved_per_file_month.sql",
        "assert_no_duplicate_lines.sql",
    } <= checks
    tables = {r[1] for r in rows}
    assert {
        "raw.focus_line_items",
        "staging.stg_focus",
        "core.allocated_line_items",
        "marts.monthly_cost_rollup",
        "audit.reconciliation",
    } <= tables


BAD_DELIVERIES = [
    pytest.param(
        "landing_jpy",
        "focus/tokyo-cloud",
        [
            "quality gate failed: expect_column_values_to_be_in_set on staging.stg_focus.billing_currency",
            "no FX rate to CNY for currency 'JPY' (2026-09-03 .. 2026-09-20",
            "focus/tokyo-cloud/focus-2026-09-jpy.csv",
        ],
        id="currency_without_rate",
    ),
    # ChargeCategory is an input rule (focus.rules.yml): the row is rejected at ingest, and a file
    # rejected whole (one row of one, over ingest.max_reject_share) stops the run before the gate.
    pytest.param(
        "landing_refund",
        "focus/acme-cloud/focus-2026-09-refunds.csv",
        [
            "focus/acme-cloud/focus-2026-09-refunds.csv: 1 of 1 rows rejected",
            "line 2: ChargeCategory: 'Refund' is not Adjustment, Credit, Purchase, Tax or Usage",
        ],
        id="charge_category_not_in_focus",
    ),
]


@pytest.mark.parametrize("delivery, added, expected", BAD_DELIVERIES)
def test_critical_failure_stops_the_run_and_leaves_the_published_file_unchanged(
    published, tmp_path, delivery, added, expected
):
    from pipeline.app import steps

    # each case starts from a copy of the good run (a loaded file keeps its rows once read)
    shutil.copytree(published.landing, tmp_path / "landing")
    shutil.copytree(published.warehouse, tmp_path / "warehouse")
    settings = dataclasses.replace(published, landing=tmp_path / "landing", warehouse=tmp_path / "warehouse")
    before = sha256(settings.published_db)
    shutil.copytree(FIXTURES / "quality" / delivery, settings.landing, dirs_exist_ok=True)
    assert (settings.landing / added).exists()
    with pytest.raises((QualityGateError, InputError)) as err:
        steps.run_all(settings)
    message = str(err.value)
    assert "\n" not in message
    for part in expected:
        assert part in message, message
    assert sha256(settings.published_db) == before

    # the failed run is on record in the work database, with the failed check
    con = duckdb.connect(str(settings.work_db), read_only=True)
    try:
        status = con.execute(
            "select status, message from audit.runs order by started_at desc limit 1"
        ).fetchone()
        failed = con.execute(
            "select check_name, observed from audit.quality_results "
            "where not success and severity = 'critical' and run_id = (select run_id from audit.runs "
            "order by started_at desc limit 1)"
        ).fetchall()
    finally:
        con.close()
    assert status[0] == "failed" and expected[1] in status[1]
    if isinstance(err.value, QualityGateError):
        assert any(expected[1] in observed for _, observed in failed)
