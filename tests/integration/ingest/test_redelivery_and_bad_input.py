"""Reruns, re-deliveries and bad input, through the CLI as a user runs it."""

from __future__ import annotations

import shutil
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

from tests.conftest import SMALL_LANDING, sha
from tests.fixtures.cli import cli
from tests.fixtures.config import config_with

pytestmark = pytest.mark.slow

FOCUS = "focus/acme-cloud/focus-2026-09.csv"


def total(warehouse: Path, where: str = "true") -> D:
    con = duckdb.connect(str(warehouse / "costledger.duckdb"), read_only=True)
    try:
        return con.execute(f"select sum(effective_cost) from marts.cost_line_items where {where}").fetchone()[
            0
        ]
    finally:
        con.close()


@pytest.fixture
def env(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse"
    shutil.copytree(SMALL_LANDING, landing)
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    return landing, warehouse


def test_rerun_on_unchanged_landing_changes_nothing(env):
    landing, warehouse = env
    before = total(warehouse)
    rollup = "select * from marts.monthly_cost_rollup order by all"
    con = duckdb.connect(str(warehouse / "costledger.duckdb"), read_only=True)
    first = con.execute(rollup).fetchall()
    con.close()
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    focus_row = r.stdout.splitlines()[2].split()
    assert focus_row[:3] == ["focus", "0", "1"]  # nothing loaded again, one file unchanged
    con = duckdb.connect(str(warehouse / "costledger.duckdb"), read_only=True)
    assert con.execute(rollup).fetchall() == first
    assert (
        con.execute("select count(*) from audit.load_log where action in ('loaded', 'replaced')").fetchone()[
            0
        ]
        == 8
    )
    con.close()
    assert total(warehouse) == before


def test_redelivery_with_new_content_replaces_never_adds(env):
    landing, warehouse = env
    path = landing / FOCUS
    lines = path.read_text().splitlines()
    # the export is restated: the hardware line is now 200 USD instead of 100
    lines[1] = lines[1].replace(",100.00,100.00,100.00,100.00,", ",200.00,200.00,200.00,200.00,")
    path.write_text("\n".join(lines) + "\n")
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    assert total(warehouse, f"source_file = '{FOCUS}'") == D("3013.95")  # 2303.95 + 100 USD x 7.10
    con = duckdb.connect(str(warehouse / "costledger.duckdb"), read_only=True)
    actions = con.execute(
        "select action from audit.load_log where source_file = ? order by load_id", [FOCUS]
    ).fetchall()
    assert actions == [("loaded",), ("replaced",)]
    assert (
        con.execute("select count(*) from marts.cost_line_items where source_file = ?", [FOCUS]).fetchone()[0]
        == 9 + 1 + 4
    )
    con.close()


def test_identical_redelivery_is_a_noop(env):
    landing, warehouse = env
    path = landing / FOCUS
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data)  # same bytes, new inode and mtime
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    con = duckdb.connect(str(warehouse / "costledger.duckdb"), read_only=True)
    assert (
        con.execute("select count(*) from audit.load_log where source_file = ?", [FOCUS]).fetchone()[0] == 1
    )
    con.close()


def test_revised_invoice_replaces_the_earlier_revision(env):
    landing, warehouse = env
    (landing / "invoices/annotate-pro/INV-1001-rev2.csv").write_text(
        "vendor,invoice_number,invoice_date,revision,document_type,line_number,description,service_period_start,"
        "service_period_end,quantity,unit,unit_price,amount,currency,model_or_project\n"
        "annotate-pro,INV-1001,2026-10-09,2,invoice,1,Relevance labels (corrected),2026-09-01,2026-09-30,1,lot,500.00,500.00,CNY,PRJ-SEARCH-RR\n"
    )
    (landing / "invoices/annotate-pro/CN-5.csv").write_text(
        "vendor,invoice_number,invoice_date,document_type,line_number,description,service_period_start,"
        "service_period_end,amount,currency,model_or_project\n"
        "annotate-pro,CN-5,2026-10-09,credit_note,1,Goodwill credit,2026-09-01,2026-09-30,50.00,CNY,PRJ-SEARCH-RR\n"
    )
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    assert total(warehouse, "invoice_number = 'INV-1001'") == D("500.00")
    assert total(warehouse, "invoice_number = 'CN-5'") == D("-50.00")
    con = duckdb.connect(str(warehouse / "costledger.duckdb"), read_only=True)
    rec = con.execute(
        "select sum(superseded_cost), sum(abs(difference)) from audit.reconciliation where source_file like 'invoices/annotate-pro/INV-1001.csv'"
    ).fetchone()
    con.close()
    assert rec == (D("1000.00"), 0)  # revision 1 is superseded, visibly, and conservation holds


def test_a_later_time_log_export_replaces_the_same_days(env):
    landing, warehouse = env
    (landing / "timesheets/timelog-2026-09-restated.csv").write_text(
        "employee_id,employee_name,employee_email,role,work_date,hours,activity,model_or_project,exported_at\n"
        "E001,Li Wei,li.wei@example.com,ml_engineer,2026-09-02,8,fine_tuning,reco-llm,2026-10-02T06:00:00Z\n"
    )
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    # the two people's September time (4,240.00) with E001's 2 September restated: 8 h x 300
    # replaces 6 h x 300, it is not added (published as one group, docs/privacy.md)
    assert total(warehouse, "source_system = 'timesheet'") == D("4240.00") - 1800 + 2400


@pytest.mark.parametrize(
    "rel, content, reason",
    [
        (
            "focus/x/bad-number.csv",
            "BilledCost,EffectiveCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ProviderName\n"
            "1.00,1.00,USD,2026-09-01T00:00:00Z,2026-09-02T00:00:00Z,Usage,AWS\n"
            "abc,1.00,USD,2026-09-01T00:00:00Z,2026-09-02T00:00:00Z,Usage,AWS\n",
            (3, "BilledCost", "BilledCost: 'abc' is not a number"),
        ),
        (
            "focus/x/malformed.csv",
            "BilledCost,EffectiveCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ProviderName\n"
            "1.00,1.00,USD,2026-09-01T00:00:00Z,2026-09-02T00:00:00Z,Usage,AWS\n"
            "1.00,1.00,USD,2026-09-01T00:00:00Z\n"
            "2.00,2.00,USD,2026-09-01T00:00:00Z,2026-09-02T00:00:00Z,Usage,AWS\n",
            (3, None, "line 3: 4 fields, header has 7"),
        ),
        (
            "invoices/unknown/INV-9.csv",
            "vendor,invoice_number,invoice_date,line_number,service_period_start,service_period_end,amount,currency\n"
            "nobody-inc,INV-9,2026-09-30,1,2026-09-01,2026-09-30,10.00,CNY\n",
            (2, "vendor", "vendor: 'nobody-inc' is not in config/vendors.yaml"),
        ),
        (
            "timesheets/bad-hours.csv",
            "employee_id,employee_name,employee_email,role,work_date,hours,activity,model_or_project\n"
            "E001,Li Wei,li.wei@example.com,ml_engineer,2026-09-04,0,fine_tuning,reco-llm\n"
            "E001,Li Wei,li.wei@example.com,ml_engineer,2026-09-05,25,fine_tuning,reco-llm\n",
            (2, "hours", "hours: 0 is outside (0, 24]"),
        ),
    ],
)
def test_bad_rows_are_rejected_with_file_line_and_reason(env, rel, content, reason, tmp_path):
    """Row-level rejects, in files small enough that one bad row is over the default
    `ingest.max_reject_share`: the share is raised here so the rows are kept one by one."""
    landing, warehouse = env
    (landing / rel).parent.mkdir(parents=True, exist_ok=True)
    (landing / rel).write_text(content)
    cfg = config_with(tmp_path / "cfg", max_reject_share=1)
    r = cli("run", "--quiet", "--config", str(cfg), landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    con = duckdb.connect(str(warehouse / "costledger.duckdb"), read_only=True)
    rows = con.execute(
        "select source_row, field, reason from audit.rejected_rows where source_file = ? order by source_row",
        [rel],
    ).fetchall()
    rec = con.execute(
        "select rows_in_file, rows_read, rows_rejected from audit.load_log where source_file = ?", [rel]
    ).fetchone()
    con.close()
    line, field, text = reason
    assert rows[0][0] == line
    if field:
        assert rows[0][1] == field
    assert text in rows[0][2]
    assert rec[0] == rec[1] + rec[2]  # rows read + rows rejected = rows in the file
    for secret in ("Li Wei", "li.wei@example.com", "E001"):
        assert secret not in rows[0][2]


@pytest.mark.parametrize(
    "rel, content, message",
    [
        ("focus/x/empty.csv", "", "focus/x/empty.csv: the file is empty"),
        (
            "focus/x/no-cost.csv",
            "ProviderName,ServiceName,ChargePeriodStart\nAWS,EC2,2026-09-01\n",
            "focus/x/no-cost.csv: header fits no known FOCUS format: missing column(s) BilledCost",
        ),
        (
            "budgets/odd.csv",
            "when,what\n2026-09,x\n",
            "budgets/odd.csv: header fits no known budget CSV format",
        ),
    ],
)
def test_a_file_that_cannot_be_read_fails_the_run_and_keeps_the_published_file(env, rel, content, message):
    landing, warehouse = env
    published = warehouse / "costledger.duckdb"
    before = sha(published)
    (landing / rel).parent.mkdir(parents=True, exist_ok=True)
    (landing / rel).write_text(content)
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse, subprocess_run=True)
    assert r.returncode == 3
    # the small company's two people are too few for a group of three: every run warns about it
    err = [e for e in r.stderr.strip().splitlines() if not e.startswith("costledger: warning: ")]
    assert len(err) == 1 and message in err[0], r.stderr
    assert sha(published) == before
    status = cli("status", landing=landing, warehouse=warehouse)
    assert "refused" in status.stdout and rel in status.stdout


def test_missing_file_keeps_its_rows_and_is_listed(env):
    landing, warehouse = env
    before = total(warehouse)
    (landing / "invoices/vectorops/VO-77.csv").unlink()
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    assert total(warehouse) == before
    status = cli("status", landing=landing, warehouse=warehouse)
    assert "missing  invoices/vectorops/VO-77.csv" in status.stdout


def test_missing_fx_rate_is_a_named_error(env):
    landing, warehouse = env
    before = sha(warehouse / "costledger.duckdb")
    (landing / "invoices/vectorops/VO-78.csv").write_text(
        "vendor,invoice_number,invoice_date,line_number,service_period_start,service_period_end,amount,currency\n"
        "vectorops,VO-78,2026-09-30,1,2026-09-01,2026-09-30,10.00,JPY\n"
    )
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode != 0
    assert "JPY" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert sha(warehouse / "costledger.duckdb") == before


def test_a_second_run_waits_then_exits_with_a_clear_message(env):
    from pipeline.config.settings import load_settings
    from pipeline.db import run_lock

    landing, warehouse = env
    (Path(warehouse) / "cfg").mkdir()
    settings = load_settings(landing=landing, warehouse=warehouse)
    with run_lock(settings, timeout=0):
        cfg = Path(warehouse) / "cfg"
        shutil.copytree(settings.config_dir, cfg, dirs_exist_ok=True)
        text = (
            (cfg / "costledger.yaml")
            .read_text()
            .replace("lock_timeout_seconds: 60", "lock_timeout_seconds: 1")
        )
        (cfg / "costledger.yaml").write_text(text)
        r = cli(
            "run", "--quiet", "--config", str(cfg), landing=landing, warehouse=warehouse, subprocess_run=True
        )
    assert r.returncode == 75
    assert "another costledger run holds" in r.stderr


def test_an_open_analyst_connection_never_blocks_a_run(env):
    landing, warehouse = env
    analyst = duckdb.connect(str(warehouse / "costledger.duckdb"), read_only=True)
    old = analyst.execute("select sum(effective_cost) from marts.cost_line_items").fetchone()[0]
    (landing / "invoices/vectorops/VO-79.csv").write_text(
        "vendor,invoice_number,invoice_date,line_number,service_period_start,service_period_end,amount,currency,model_or_project\n"
        "vectorops,VO-79,2026-09-30,1,2026-09-01,2026-09-30,10.00,CNY,reco-llm\n"
    )
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    # the analyst still reads the ledger as it was; a new connection sees the new one whole
    assert analyst.execute("select sum(effective_cost) from marts.cost_line_items").fetchone()[0] == old
    analyst.close()
    assert total(warehouse) == old + 10


def test_query_and_status_commands(env):
    landing, warehouse = env
    r = cli(
        "query",
        "select strftime(month, '%Y-%m') as m, sum(c_total) as c_total from marts.monthly_cost_rollup group by 1 order by 1",
        landing=landing,
        warehouse=warehouse,
    )
    assert r.returncode == 0, r.stderr
    assert "2026-09" in r.stdout and "7282.70" in r.stdout
    bad = cli("query", "select * from nowhere", landing=landing, warehouse=warehouse)
    assert bad.returncode != 0 and bad.stderr.startswith("costledger: error: query failed")
    st = cli("status", landing=landing, warehouse=warehouse)
    assert st.returncode == 0 and "succeeded" in st.stdout
