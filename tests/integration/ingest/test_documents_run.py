"""Vendor documents (CSV, XLSX, PDF, JSON invoices) and trackers' exports (Tempo, Harvest, Toggl,
Clockify) booked by a real `costledger run`, from the files in tests/fixtures/documents/.

Expected figures come from tests/fixtures/documents/expected_totals.json, which make_fixtures.py
computes from the records it writes the files from (never by reading the files back); month
splits and hours are derived here with Decimal.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conftest import FIXTURES
from tests.fixtures.cli import cli
from tests.fixtures.config import config_with

pytestmark = pytest.mark.slow

DOCS = FIXTURES / "documents"
EXPECTED = json.loads((DOCS / "expected_totals.json").read_text(encoding="utf-8"))
NO_TOTAL = EXPECTED["invoice_lines_without_total"]
USD_CNY, EUR_CNY = D("7.1000"), D("7.8000")
RATE = {"USD": USD_CNY, "EUR": EUR_CNY, "CNY": D(1)}
# what the trackers' exports hold about people: none of it may leave raw
PEOPLE = [
    "Kowalski",
    "Lindqvist",
    "王芳",
    "芳 王",
    "伟 李",
    "shopco.example",
    "jdoe-0",
]
HR_RATES = """employee_id,role,effective_from,hourly_rate,currency
jdoe-01,,2025-12-01,300.00,CNY
jdoe-02,,2025-12-01,250.00,CNY
jdoe-03,,2025-12-01,280.00,CNY
jdoe-04,,2025-12-01,150.00,CNY
ana.kowalski@shopco.example,,2025-12-01,300.00,CNY
bo.lindqvist@shopco.example,,2025-12-01,250.00,CNY
wang.fang@shopco.example,,2025-12-01,280.00,CNY
li.wei@shopco.example,,2025-12-01,150.00,CNY
"""


def _config(dest: Path) -> Path:
    cfg = config_with(dest, max_reject_share=0.5)
    vendors = yaml.safe_load((cfg / "vendors.yaml").read_text())
    for v in vendors["vendors"]:
        if v["id"] == "crowdlabel":
            v["profile"] = "cn_labeling_gbk_csv"  # its CSVs are GBK; its XLSX is recognised
    vendors["vendors"].append(
        {"id": "datenwerk", "name": "Datenwerk GmbH", "kind": "data", "profile": "eu_vendor_csv"}
    )
    (cfg / "vendors.yaml").write_text(yaml.safe_dump(vendors, allow_unicode=True))
    return cfg


def _landing(root: Path, documents: bool = True) -> Path:
    for rel in [*EXPECTED["invoices"], *NO_TOTAL, *EXPECTED["timesheets"]] if documents else []:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DOCS / rel, root / rel)
    (root / "fx_rates").mkdir(parents=True)
    (root / "fx_rates" / "rates.csv").write_text(
        f"rate_date,from_currency,to_currency,rate\n2025-12-01,USD,CNY,{USD_CNY}\n2025-12-01,EUR,CNY,{EUR_CNY}\n"
    )
    (root / "hr_rates").mkdir()
    (root / "hr_rates" / "rates.csv").write_text(HR_RATES)
    return root


@pytest.fixture(scope="module")
def booked(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("documents")
    landing, warehouse = _landing(tmp / "landing"), tmp / "warehouse"
    cfg = _config(tmp / "cfg")
    r = cli("run", "--quiet", "--config", str(cfg), landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stdout + r.stderr
    return landing, warehouse, cfg, r


def _work(warehouse: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(warehouse / "work.duckdb"), read_only=True)


def test_every_invoice_format_is_booked_to_its_printed_total(booked):
    _, warehouse, _, _ = booked
    con = _work(warehouse)
    try:
        for rel, exp in EXPECTED["invoices"].items():
            lines, booked_sum = con.execute(
                """
                select count(*), sum(case when document_type = 'credit_note' then -abs(cast(amount as decimal(38,10)))
                                         else cast(amount as decimal(38,10)) end)
                from raw.invoice_lines where source_file = ?
                """,
                [rel],
            ).fetchone()
            assert booked_sum == D(exp["booked_total"]), rel
            # a printed tax the profile books is one more line
            tax_line = int(
                bool(exp["printed_tax"])
                and D(exp["printed_tax"]) != 0
                and exp["booked_total"] == exp["printed_total"]
            )
            assert lines == exp["lines"] + tax_line, rel
            # per invoice, in audit.reconciliation: Σ lines = printed total (as the profile books it)
            rec = con.execute(
                "select distinct invoice_number, printed_total, invoice_lines_booked, printed_total_difference "
                "from audit.reconciliation where source_file = ?",
                [rel],
            ).fetchall()
            assert len(rec) == 1, rel
            number, printed, lines_booked, diff = rec[0]
            assert number == exp["invoice_number"]
            assert lines_booked == D(exp["booked_total"])
            sign = -1 if exp["document_type"] == "credit_note" else 1
            assert printed == sign * abs(D(exp["printed_total"])), rel
            assert diff == 0, rel
            # the month split of the service period books the whole invoice, in reporting currency
            # (each month's part converted at 10 places: to the cent)
            cost = con.execute(
                "select sum(billed_cost) from core.line_items where source_file = ?", [rel]
            ).fetchone()[0]
            assert round(cost, 2) == round(D(exp["booked_total"]) * RATE[exp["currency"]], 2), rel
    finally:
        con.close()


def test_an_array_of_json_lines_is_booked_without_a_printed_total(booked):
    _, warehouse, _, _ = booked
    con = _work(warehouse)
    try:
        for rel, exp in NO_TOTAL.items():
            lines, total = con.execute(
                "select count(*), sum(cast(amount as decimal(38,10))) from raw.invoice_lines where source_file = ?",
                [rel],
            ).fetchone()
            assert (lines, total) == (exp["lines"], D(exp["lines_total"]))
            assert con.execute(
                "select distinct printed_total, printed_total_difference from audit.reconciliation where source_file = ?",
                [rel],
            ).fetchall() == [(None, None)]
    finally:
        con.close()


def test_a_service_period_across_months_is_pro_rated_by_days_exactly(booked):
    _, warehouse, _, _ = booked
    rel = "invoices/annotate-pro/AP-2026-0042.pdf"
    start, end = (date.fromisoformat(d) for d in EXPECTED["invoices"][rel]["service_period"])
    days = (end - start).days + 1
    jan_days = (date(2026, 1, 31) - start).days + 1
    con = _work(warehouse)
    try:
        per_month = dict(
            con.execute(
                "select strftime(month, '%Y-%m'), sum(billed_cost_original) from staging.stg_invoices "
                "where source_file = ? group by all",
                [rel],
            ).fetchall()
        )
        amounts = [D(a) for a in EXPECTED["invoices"][rel]["line_amounts"]] + [
            D(EXPECTED["invoices"][rel]["printed_tax"])
        ]
        q = D("0.0000000001")
        jan = sum(((a * jan_days / days).quantize(q, rounding="ROUND_FLOOR") for a in amounts), D(0))
        assert per_month["2026-01"] == jan
        assert per_month["2026-01"] + per_month["2026-02"] == D(EXPECTED["invoices"][rel]["booked_total"])
    finally:
        con.close()


def test_tracker_exports_are_read_as_exported(booked):
    _, warehouse, _, _ = booked
    con = _work(warehouse)
    try:
        for rel, exp in EXPECTED["timesheets"].items():
            rows, hours, profile = con.execute(
                "select count(*), sum(cast(hours as decimal(38,10))), any_value(source_profile) "
                "from raw.timesheet_entries where source_file = ?",
                [rel],
            ).fetchone()
            assert profile == exp["profile"]
            assert rows == exp["rows_in_file"] - exp["rows_rejected"]
            assert hours == D(exp["hours_total"]), rel
            rejects = con.execute(
                "select source_row, field from audit.rejected_rows where source_file = ? order by 1", [rel]
            ).fetchall()
            assert rejects == [(r["source_row"], r["field"]) for r in exp["rejects"]]
    finally:
        con.close()


def test_unmapped_tracker_values_go_to_unallocated_listed_by_value(booked):
    landing, warehouse, cfg, _ = booked
    harvest = next(r for r in EXPECTED["timesheets"] if "harvest" in r)
    con = _work(warehouse)
    try:
        listed = con.execute(
            "select field, value, time_entries from audit.unmapped_time_values where first_file = ?",
            [harvest],
        ).fetchall()
        # the task `Meetings` (3.00 h on 2026-01-13) is in no activities.yaml entry
        assert ("activity", "meetings", 1) in listed
        leaf, hours = con.execute(
            # the allocation is lean: the line's activity and hours are core.line_items'
            "select a.leaf, l.hours from core.allocated_line_items a join core.line_items l using (line_id) "
            "where a.source_file = ? and l.activity = 'meetings'",
            [harvest],
        ).fetchone()
        assert (leaf, hours) == ("unallocated", D("3.00"))
    finally:
        con.close()
    r = cli("status", "--config", str(cfg), landing=landing, warehouse=warehouse)
    assert "activity 'meetings': 1 time entry" in r.stdout


def test_names_and_emails_never_leave_raw(booked, tmp_path):
    landing, warehouse, cfg, run = booked
    published = duckdb.connect(str(warehouse / "costledger.duckdb"), read_only=True)
    try:
        tables = published.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR'"
        ).fetchall()
        assert tables
        for schema, table, column in tables:
            for who in PEOPLE:
                n = published.execute(
                    f'select count(*) from "{schema}"."{table}" where contains("{column}", ?)', [who]
                ).fetchone()[0]
                assert n == 0, f"{who!r} in {schema}.{table}.{column}"
    finally:
        published.close()
    out = tmp_path / "report"
    rep = cli(
        "report",
        "--month",
        "2026-01",
        "--out",
        str(out),
        "--config",
        str(cfg),
        landing=landing,
        warehouse=warehouse,
    )
    assert rep.returncode == 0, rep.stderr
    status = cli("status", "--config", str(cfg), landing=landing, warehouse=warehouse)
    texts = [run.stdout, run.stderr, rep.stdout, status.stdout]
    texts += [p.read_text(errors="replace") for p in (warehouse / "logs").rglob("*") if p.is_file()]
    texts += [
        p.read_text(errors="replace")
        for p in out.rglob("*")
        if p.is_file() and p.suffix in (".html", ".csv", ".txt", ".md")
    ]
    for text in texts:
        for who in PEOPLE:
            assert who not in text


@pytest.mark.parametrize(
    ("fixture", "vendor", "said"),
    [
        ("invoices/bad/lines-dont-sum.pdf", "annotate-pro", "(difference -100.00); the invoice is refused"),
        ("invoices/bad/scanned.pdf", "annotate-pro", "scanned PDFs are not read (no OCR)"),
        ("invoices/bad/protected.pdf", "annotate-pro", "password-protected"),
        ("invoices/bad/merged-header.xlsx", "annotate-pro", "C7:D7"),
        ("invoices/bad/gbk-undeclared.csv", "annotate-pro", "not valid UTF-8"),
    ],
)
def test_a_bad_document_is_refused_in_one_line(tmp_path, fixture, vendor, said):
    landing, warehouse = _landing(tmp_path / "landing", documents=False), tmp_path / "warehouse"
    cfg = _config(tmp_path / "cfg")
    rel = f"invoices/{vendor}/{Path(fixture).name}"
    (landing / rel).parent.mkdir(parents=True)
    shutil.copy(DOCS / fixture, landing / rel)
    r = cli("run", "--quiet", "--config", str(cfg), landing=landing, warehouse=warehouse)
    assert r.returncode != 0
    con = _work(warehouse)
    try:
        status, message = con.execute(
            "select status, message from audit.files where source_file = ?", [rel]
        ).fetchone()
        assert status == "refused"
        assert said in message and message.startswith(rel) and "\n" not in message
        assert (
            con.execute("select count(*) from raw.invoice_lines where source_file = ?", [rel]).fetchone()[0]
            == 0
        )
        assert (
            con.execute("select count(*) from raw.invoice_documents where source_file = ?", [rel]).fetchone()[
                0
            ]
            == 0
        )
    finally:
        con.close()


def test_a_profile_that_does_not_fit_names_the_missing_columns(tmp_path):
    landing, warehouse = _landing(tmp_path / "landing", documents=False), tmp_path / "warehouse"
    cfg = _config(tmp_path / "cfg")
    rel = "invoices/datenwerk/RE-2026-0200.csv"
    (landing / rel).parent.mkdir(parents=True)
    (landing / rel).write_text("Rechnungsnummer;Betrag\nRE-2026-0200;10,00\n", encoding="utf-8")
    r = cli("run", "--quiet", "--config", str(cfg), landing=landing, warehouse=warehouse)
    assert r.returncode != 0
    con = _work(warehouse)
    try:
        message = con.execute("select message from audit.files where source_file = ?", [rel]).fetchone()[0]
    finally:
        con.close()
    assert message.startswith(rel) and "missing" in message
    for column in ("Rechnungsdatum", "Währung", "Leistungsbeginn", "Leistungsende"):
        assert column in message


def test_a_bad_redelivery_keeps_what_was_booked(tmp_path):
    """The vendor re-sends AP-2026-0042.pdf with lines that do not add up: refused, naming the
    difference, and the first version stays booked as it was."""
    landing, warehouse = _landing(tmp_path / "landing", documents=False), tmp_path / "warehouse"
    cfg = _config(tmp_path / "cfg")
    rel = "invoices/annotate-pro/AP-2026-0042.pdf"
    (landing / rel).parent.mkdir(parents=True)
    shutil.copy(DOCS / rel, landing / rel)
    assert cli("run", "--quiet", "--config", str(cfg), landing=landing, warehouse=warehouse).returncode == 0
    booked_sql = (
        "select sum(cast(amount as decimal(38,10))), count(*) from raw.invoice_lines where source_file = ?"
    )
    con = _work(warehouse)
    before = con.execute(booked_sql, [rel]).fetchone()
    con.close()
    assert before[0] == D(EXPECTED["invoices"][rel]["booked_total"])
    shutil.copy(DOCS / "invoices/bad/lines-dont-sum.pdf", landing / rel)
    r = cli("run", "--quiet", "--config", str(cfg), landing=landing, warehouse=warehouse)
    assert r.returncode != 0
    assert "difference -100.00" in r.stderr
    con = _work(warehouse)
    try:
        assert con.execute(booked_sql, [rel]).fetchone() == before
        printed = con.execute(
            "select printed_total from raw.invoice_documents where source_file = ?", [rel]
        ).fetchone()
        assert printed == (EXPECTED["invoices"][rel]["printed_total"],)
    finally:
        con.close()
