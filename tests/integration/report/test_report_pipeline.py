"""The report on the real pipeline: the demo company run end to end, then `costledger report`.

Done-when of the report: from a fresh demo, `costledger report --month <latest> --send --to
finance@example.com` against a local SMTP server delivers exactly one message with both bodies,
all fourteen symbols and a CSV holding the month's C_total as a plain two-decimal number, with
no formula-like cell; a second send delivers nothing.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pytest

from examples.demo import generate as demo
from pipeline.app import steps
from pipeline.config.settings import DEMO_CONFIG, load_settings
from pipeline.ledger import LEAF_TABLE, STAGE_SYMBOLS
from pipeline.report import build_report, write_report
from tests.fixtures.report.smtp_server import Recorder, SmtpServer

pytestmark = pytest.mark.slow

LATEST = demo.DEFAULT_MONTHS[-1]
SYMBOLS = (*(s for _, _, s, _ in LEAF_TABLE), *STAGE_SYMBOLS.values(), "C_total")
PII_KEY = "report-e2e-test-key"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("report_e2e")
    landing, warehouse = root / "landing", root / "warehouse"
    demo.generate(landing)
    with pytest.MonkeyPatch.context() as mp:
        for var in [v for v in os.environ if v.startswith("COSTLEDGER_")]:
            mp.delenv(var)
        mp.setenv("COSTLEDGER_PII_KEY", PII_KEY)
        mp.setenv("COSTLEDGER_CONFIG", str(DEMO_CONFIG))
        settings = load_settings(landing=landing, warehouse=warehouse)
        steps.run_all(settings)
    return settings


def cents(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_report_figures_equal_the_published_rollup(ledger):
    rep = build_report(ledger, LATEST)
    con = duckdb.connect(str(ledger.published_db), read_only=True)
    try:
        cols = [r.symbol.lower() for r in rep.equation]
        sums = con.execute(
            f"select {', '.join(f'sum({c})' for c in cols)}, sum(c_unallocated), sum(c_out_of_scope) "
            "from marts.monthly_cost_rollup where strftime(month, '%Y-%m') = ?",
            [LATEST],
        ).fetchone()
        by_model = {
            m: (total, n)
            for m, total, n in con.execute(
                "select coalesce(model_id, ''), sum(c_total), count(*) from marts.monthly_cost_rollup "
                "where strftime(month, '%Y-%m') = ? group by 1",
                [LATEST],
            ).fetchall()
        }
    finally:
        con.close()
    # displayed figures are rounded to add up (pipeline/report/rounding.py): C_total is its own
    # rounding, every other figure a neighbouring cent of its exact value
    cent = Decimal("0.01")
    assert rep.total.amount == cents(sums[len(cols) - 1])
    for row, exact in zip(rep.equation, sums[: len(cols)], strict=True):
        assert abs(row.amount - exact) < cent, row.symbol
    assert abs(rep.unallocated - sums[-2]) < cent and abs(rep.out_of_scope - sums[-1]) < cent
    assert rep.total.amount > 0 and all(r.amount > 0 for r in rep.equation)
    for row in rep.by_model:
        exact, n_rows = by_model[row.key or ""]
        assert abs(row.amount - exact) < cent * n_rows, row.key
    assert sum((b.amount for b in rep.by_model), Decimal(0)) == rep.total.amount
    assert rep.quality.status in ("passed", "warnings") and rep.quality.checks > 0
    assert rep.freshness and rep.total.previous is not None


def test_every_table_of_the_demo_report_adds_up_and_ties_out(ledger):
    from tests.fixtures.report.adds_up import assert_report_adds_up

    rep = build_report(ledger, LATEST)
    assert assert_report_adds_up(rep) >= 8  # equation, models, scenarios, movers, tie-out, 3 CSVs
    # the tie-out's sources are the demo's (cloud FOCUS and the ML lab's CUR 2.0, vendor invoices,
    # time logs, owned hardware), each read in full
    assert {r.source for r in rep.tie_out[:-1]} == {"focus", "aws_cur", "invoice", "timesheet", "asset"}
    assert all(r.difference == 0 for r in rep.tie_out)
    assert rep.top_unallocated and all(g.cost > 0 for g in rep.top_unallocated)


def test_written_report_holds_no_people_data(ledger, tmp_path):
    paths = write_report(build_report(ledger, LATEST), tmp_path)
    con = duckdb.connect(str(ledger.work_db), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "select distinct employee_name from raw.timesheet_entries where employee_name is not null"
            ).fetchall()
        ]
        emails = [
            r[0]
            for r in con.execute(
                "select distinct employee_email from raw.timesheet_entries where employee_email is not null"
            ).fetchall()
        ]
    finally:
        con.close()
    assert names and emails
    blob = b"".join(p.read_bytes() for p in paths if p.suffix in (".html", ".txt", ".csv"))
    text = blob.decode("utf-8", errors="replace")
    for value in [*names, *emails]:
        assert value not in text
    assert "employee_key" not in text


def test_cli_send_delivers_exactly_one_message(ledger):
    with SmtpServer(Recorder()) as srv:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COSTLEDGER_")}
        env.update(
            COSTLEDGER_PII_KEY=PII_KEY,
            COSTLEDGER_CONFIG=str(DEMO_CONFIG),
            COSTLEDGER_SMTP_HOST="127.0.0.1",
            COSTLEDGER_SMTP_PORT=str(srv.port),
            COSTLEDGER_SMTP_FROM="costledger@example.com",
        )
        args = [sys.executable, "-m", "pipeline.app.cli", "report", "--month", LATEST, "--send",
                "--to", "finance@example.com", "--landing", str(ledger.landing),
                "--warehouse", str(ledger.warehouse)]  # fmt: skip
        first = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    assert second.returncode == 0, second.stderr[-2000:]
    assert "already sent" in second.stdout
    assert len(srv.handler.messages) == 1
    msg = srv.handler.messages[0]
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for symbol in SYMBOLS:
        assert symbol in plain and symbol in html, symbol
    total = build_report(ledger, LATEST).total.amount
    assert f"{cents(total):,.2f}" in msg["Subject"]
    rollup = next(p for p in msg.iter_attachments() if p.get_filename().endswith("-rollup.csv"))
    rows = list(csv.reader(io.StringIO(rollup.get_payload(decode=True).decode("utf-8-sig"))))
    cells = [c for r in rows for c in r]
    assert f"{cents(total):.2f}" in cells
    for cell in cells:
        assert cell[:1] not in ("=", "+", "@", "\t", "\r"), cell
        if cell.startswith("-"):
            Decimal(cell)
