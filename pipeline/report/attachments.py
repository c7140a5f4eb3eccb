"""The month's rollup and leaf tables as CSV (UTF-8 with BOM) and XLSX.

Money is written as plain two-decimal numbers; a text cell that a spreadsheet would read as a
formula (starting with = + - @, tab, CR or LF) is prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from pipeline.report.fmt import cents, plain
from pipeline.report.model import LEAF_SYMBOL, MONEY_COLUMNS, Report

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")

ROLLUP_COLUMNS = (
    "month",
    "model_id",
    "model_name",
    "scenario",
    "team",
    *MONEY_COLUMNS,
    "currency",
    "cost_basis",
)
LEAF_COLUMNS = (
    "month",
    "symbol",
    "leaf",
    "stage",
    "model_id",
    "model_name",
    "scenario",
    "team",
    "cost",
    "billed_cost",
    "effective_cost",
    "line_count",
    "currency",
)
TIE_OUT_COLUMNS = (
    "month",
    "source",
    "read",
    "c_total",
    "c_unallocated",
    "c_out_of_scope",
    "difference",
    "currency",
)
NUMERIC = {
    *MONEY_COLUMNS,
    "cost",
    "billed_cost",
    "effective_cost",
    "line_count",
    "read",
    "difference",
}


def neutralise(text: str) -> str:
    """Make a text cell inert in spreadsheets (OWASP CSV injection): prefix formula starters with '."""
    if text and (text[0] in FORMULA_START or text.lstrip(" ")[:1] in FORMULA_START):
        return "'" + text
    return text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def rollup_table(report: Report) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    """The month's rollup rows plus a last TOTAL row (so C_total itself is a cell)."""
    rows = [dict(r) for r in report.rollup_rows]
    total: dict[str, Any] = {c: sum((Decimal(r[c] or 0) for r in rows), Decimal(0)) for c in MONEY_COLUMNS}
    total.update(
        month=report.month,
        model_id="",
        model_name=report.t("csv_total"),
        scenario="",
        team="",
        currency=report.currency,
        cost_basis=report.cost_basis,
    )
    rows.append(total)
    return ROLLUP_COLUMNS, rows


def leaf_table(report: Report) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    rows = []
    for r in report.leaf_rows:
        row = dict(r)
        row.setdefault("symbol", LEAF_SYMBOL.get(r["leaf"], r["leaf"]))
        rows.append(row)
    return LEAF_COLUMNS, rows


def tie_out_table(report: Report) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    """Per source: cost read = C_total + unallocated + out of scope; the last row is all sources."""
    rows = [
        {
            "month": report.month,
            "source": r.source,
            "read": r.read,
            "c_total": r.c_total,
            "c_unallocated": r.unallocated,
            "c_out_of_scope": r.out_of_scope,
            "difference": r.difference,
            "currency": report.currency,
        }
        for r in report.tie_out
    ]
    return TIE_OUT_COLUMNS, rows


def _csv_cell(column: str, value: Any) -> str:
    if column in NUMERIC:
        if value is None:
            return ""
        return str(int(value)) if column == "line_count" else plain(Decimal(value))
    return neutralise(_text(value))


def to_csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([_csv_cell(c, r.get(c)) for c in columns])
    return buf.getvalue().encode("utf-8-sig")


def to_xlsx(sheets: dict[str, tuple[tuple[str, ...], list[dict[str, Any]]]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for name, (columns, rows) in sheets.items():
        ws = wb.create_sheet(title=name[:31])
        ws.append(list(columns))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for r in rows:
            ws.append([None] * len(columns))
            out = ws[ws.max_row]
            for cell, c in zip(out, columns, strict=True):
                v = r.get(c)
                if c in NUMERIC:
                    if v is None:
                        continue
                    if c == "line_count":
                        cell.value = int(v)
                    else:
                        cell.value = cents(Decimal(v))
                        cell.number_format = "#,##0.00"
                else:
                    # Assign as a string explicitly: openpyxl would otherwise turn '=...' into a formula.
                    cell.value = neutralise(_text(v))
                    cell.data_type = "s"
        ws.freeze_panes = "A2"
        for col_cells in ws.columns:
            width = max(len(str(c.value)) if c.value is not None else 0 for c in col_cells)
            ws.column_dimensions[col_cells[0].column_letter].width = min(max(10, width + 2), 40)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def build_attachments(report: Report) -> dict[str, tuple[str, bytes]]:
    """filename -> (mime type, bytes) for the month's CSV and XLSX attachments."""
    month = report.month_label
    rollup, leaves, tie_out = rollup_table(report), leaf_table(report), tie_out_table(report)
    out = {
        f"costledger-{month}-rollup.csv": ("text/csv", to_csv(*rollup)),
        f"costledger-{month}-leaves.csv": ("text/csv", to_csv(*leaves)),
    }
    sheets = {"rollup": rollup, "leaves": leaves}
    if tie_out[1]:
        out[f"costledger-{month}-tie-out.csv"] = ("text/csv", to_csv(*tie_out))
        sheets["tie-out"] = tie_out
    out[f"costledger-{month}.xlsx"] = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        to_xlsx(sheets),
    )
    return out
