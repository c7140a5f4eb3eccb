"""The demo company's documents as its vendors and trackers send them (issue 12): a labeling
vendor's invoice workbook (XLSX), another's text PDF, and time logs exported from Jira Tempo and
Harvest. Each writer takes the same records generate.py writes its CSVs from, so the figures
agree; every file is byte-identical for the same records (fixed document dates and zip times).

Shapes follow tests/fixtures/documents/ (see its README for where each comes from); the
profiles that read them are config/profiles/invoice_xlsx.yaml, invoice_pdf.yaml,
tempo_worklogs.yaml and harvest_detailed.yaml.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

_FIXED = datetime(2026, 1, 1, tzinfo=UTC)


def _money(d: Decimal) -> str:
    return f"{d:,.2f}"


def _activity_label(activity: str) -> str:
    """How a person names an activity in a tracker ('fine_tuning' -> 'Fine tuning'); the profile
    maps it back to activities.yaml's key."""
    return activity.replace("_", " ").capitalize()


# ----------------------------------------------------------------------------- invoices


def _document(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], Decimal]:
    head = rows[0]
    total = sum((Decimal(r["amount"]) for r in rows), Decimal(0))
    return head, total


def write_xlsx_invoice(path: Path, rows: list[dict[str, Any]], vendor_name: str) -> None:
    """An invoice workbook: a title, the vendor's address, label-value header fields, the line
    items, then Subtotal and Total due rows."""
    import openpyxl

    head, total = _document(rows)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Invoice"
    wb.properties.creator = vendor_name
    wb.properties.created = _FIXED.replace(tzinfo=None)
    wb.properties.modified = _FIXED.replace(tzinfo=None)
    ws.append([f"{vendor_name} — Invoice"])
    ws.merge_cells("A1:F1")  # a title across the page, above the table
    ws.append([f"{vendor_name}, 88 Tianmu Road, Shanghai"])
    ws.append([])
    ws.append(["Invoice No.:", head["invoice_number"], None, "Invoice date:", head["invoice_date"]])
    ws.append(
        [
            "Currency:",
            head["currency"],
            None,
            "Service period:",
            f"{head['service_period_start']} to {head['service_period_end']}",
        ]
    )
    ws.append([])
    ws.append(["#", "Description", "Quantity", "Unit price", "Amount", "Project"])
    for r in rows:
        ws.append(
            [
                int(r["line_number"]),
                r["description"],
                int(r["quantity"]),
                float(Decimal(r["unit_price"])),
                float(Decimal(r["amount"])),
                r["model_or_project"],
            ]
        )
    ws.append([])
    ws.append([None, None, None, "Subtotal", float(total)])
    ws.append([None, None, None, "Total due", float(total)])
    ws.append(["Payment within 30 days by bank transfer."])
    buf = io.BytesIO()
    wb.save(buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    # rewrite the zip with fixed times, so the bytes do not depend on the clock
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(path, "w") as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time as `modified`
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2026-01-01T00:00:00Z", data)
            zi = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(zi, data)


def write_pdf_invoice(path: Path, rows: list[dict[str, Any]], vendor_name: str) -> None:
    """A text PDF invoice: header fields as text lines, a ruled line-item table, the total under it."""
    from fpdf import FPDF

    head, total = _document(rows)
    pdf = FPDF()
    pdf.set_creation_date(_FIXED)
    pdf.set_producer(vendor_name)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 9, "INVOICE", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    pdf.cell(0, 5, f"{vendor_name}, 20 Fenchurch Street, London", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5, "Bill to: Acme Shop Group, ML Platform team", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", size=10)
    issued = date.fromisoformat(head["invoice_date"])
    for text in (
        f"Invoice No.: {head['invoice_number']}",
        f"Invoice date: {issued:%d %b %Y}",
        f"Currency: {head['currency']}",
        f"Service period: {head['service_period_start']} to {head['service_period_end']}",
    ):
        pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    with pdf.table(
        col_widths=(8, 70, 22, 22, 26, 42),
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
        first_row_as_headings=True,
    ) as table:
        row = table.row()
        for h in ("#", "Description", "Qty", "Unit price", "Amount", "Project"):
            row.cell(h)
        for r in rows:
            row = table.row()
            for c in (
                str(r["line_number"]),
                r["description"],
                f"{int(r['quantity']):,}",
                f"{Decimal(r['unit_price']):,.4f}",
                _money(Decimal(r["amount"])),
                r["model_or_project"],
            ):
                row.cell(c)
    pdf.ln(3)
    pdf.set_x(120)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(70, 6, f"Total ({head['currency']}): {_money(total)}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=8)
    pdf.ln(6)
    pdf.multi_cell(0, 4, "Payment within 30 days by bank transfer.")
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))


# ----------------------------------------------------------------------------- time logs

TEMPO_COLUMNS = (
    "Issue Key", "Issue summary", "Hours", "Work date", "Username", "Full name", "Period", "Account Key",
    "Account Name", "Activity Name", "Project Key", "Project Name", "Work Description", "Billed Hours",
)  # fmt: skip
HARVEST_COLUMNS = (
    "Date", "Client", "Project", "Project Code", "Task", "Notes", "Hours", "Hours Rounded", "Billable?",
    "Invoiced?", "First Name", "Last Name", "Employee Id", "Roles", "Teams", "Employee?", "Billable Rate",
    "Billable Amount", "Cost Rate", "Cost Amount", "Currency", "External Reference URL",
)  # fmt: skip


def _write(path: Path, columns: tuple[str, ...], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(columns)
        w.writerows(rows)


def write_tempo(path: Path, entries: list[dict[str, Any]], model_names: dict[str, str]) -> None:
    """A Jira Tempo worklog export: one worklog per entry, the model as the Tempo account, the
    activity as the work attribute `Activity Name`, the person as the Jira username."""
    rows = []
    for i, e in enumerate(entries, 1):
        key = f"ML-{1000 + i}"
        rows.append(
            [
                key,
                f"{_activity_label(e['activity'])} for {e['model_or_project']}",
                e["hours"],
                f"{e['work_date']} 00:00",
                e["employee_id"],
                e["employee_name"],
                e["work_date"][:7],
                e["model_or_project"],
                model_names.get(e["model_or_project"], e["model_or_project"]),
                _activity_label(e["activity"]),
                "ML",
                "Machine Learning",
                "",
                e["hours"],
            ]
        )
    _write(path, TEMPO_COLUMNS, rows)


def write_harvest(path: Path, entries: list[dict[str, Any]], model_names: dict[str, str]) -> None:
    """A Harvest detailed time report: the task is the activity, the project code the model."""
    rows = []
    for e in entries:
        first, _, last = e["employee_name"].partition(" ")
        rows.append(
            [
                e["work_date"],
                "Acme Shop Group",
                model_names.get(e["model_or_project"], e["model_or_project"]),
                e["model_or_project"],
                _activity_label(e["activity"]),
                "",
                e["hours"],
                e["hours"],
                "No",
                "No",
                first,
                last,
                e["employee_id"],
                e["role"],
                "ML",
                "Yes",
                "0",
                "0",
                "",
                "",
                "Chinese Yuan - CNY",
                "",
            ]
        )
    _write(path, HARVEST_COLUMNS, rows)
