"""The two drifts of issue 9 between ingest and the raw gate, in a real run (`costledger run`).

Before the input rules were declared once (pipeline/ingest/<source>.rules.yml), an hourly rate of
0 passed ingest and then failed the raw gate as critical, and the currency `RMB` passed ingest
(three capital letters) and then stopped the whole run at the gate (not ISO-4217). Now each is
one rejected row, with its file, line and a reason naming the field; the gate is clean and the
run goes on, since the rejected share stays under `ingest.max_reject_share`.
"""

from __future__ import annotations

import shutil

import duckdb
import pytest

from tests.conftest import SMALL_LANDING
from tests.fixtures.cli import cli
from tests.fixtures.config import config_with

pytestmark = pytest.mark.slow

RATES = "hr_rates/rates-2026-extra.csv"
INVOICE = "invoices/vectorops/VO-78.csv"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("input_rules")
    landing, warehouse = root / "landing", root / "warehouse"
    shutil.copytree(SMALL_LANDING, landing)
    # roles nobody in the time logs has: the rates change no booked cost
    (landing / RATES).write_text(
        "employee_id,role,effective_from,hourly_rate,currency\n"
        ",intern,2026-01-01,0,CNY\n"
        ",contractor,2026-01-01,200.00,CNY\n"
    )
    (landing / INVOICE).write_text(
        "vendor,invoice_number,invoice_date,line_number,description,service_period_start,service_period_end,"
        "amount,currency,model_or_project\n"
        "vectorops,VO-78,2026-09-30,1,Vector DB support,2026-09-01,2026-09-30,10.00,USD,PRJ-RECO-LLM\n"
        "vectorops,VO-78,2026-09-30,2,Vector DB storage,2026-09-01,2026-09-30,20.00,RMB,PRJ-RECO-LLM\n"
    )
    # one bad row of two: under the share, so the good row is booked and the run goes on
    cfg = config_with(root / "cfg", max_reject_share=0.5)
    r = cli("run", "--quiet", "--config", str(cfg), landing=landing, warehouse=warehouse)
    return r, warehouse


def published(warehouse, sql, params=()):
    con = duckdb.connect(str(warehouse / "costledger.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_the_run_goes_on(run):
    r, _ = run
    assert r.returncode == 0, r.stderr


def test_an_hourly_rate_of_zero_is_one_rejected_row_with_a_clear_reason(run):
    _, warehouse = run
    rows = published(
        warehouse, "select source_row, field, reason from audit.rejected_rows where source_file = ?", [RATES]
    )
    assert rows == [(2, "hourly_rate", "line 2: hourly_rate: not above 0")]
    assert published(
        warehouse,
        "select rows_in_file, rows_read, rows_rejected from audit.load_log where source_file = ?",
        [RATES],
    ) == [(2, 1, 1)]


def test_an_unknown_currency_is_one_rejected_row_and_the_rest_of_the_file_is_booked(run):
    _, warehouse = run
    rows = published(
        warehouse,
        "select source_row, field, reason from audit.rejected_rows where source_file = ?",
        [INVOICE],
    )
    assert rows == [(3, "currency", "line 3: currency: 'RMB' is not an ISO-4217 currency code")]
    booked = published(
        warehouse,
        "select count(*), sum(billed_cost_original) from marts.cost_line_items where source_file = ?",
        [INVOICE],
    )
    assert booked[0][1] == 10  # the good line, in its own currency (USD)


def test_the_raw_gate_is_clean(run):
    _, warehouse = run
    raw = published(
        warehouse,
        "select table_name, check_name, severity, success, observed from audit.quality_results "
        "where stage = 'raw'",
    )
    assert {t for t, *_ in raw} >= {"raw.hr_rates", "raw.invoice_lines"}
    failed = [
        r for r in raw if not r[3] and (r[2] == "critical" or r[0] in ("raw.hr_rates", "raw.invoice_lines"))
    ]
    assert failed == []
