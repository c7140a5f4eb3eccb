"""XLSX invoices, read with openpyxl in read-only mode: the line-item table on a sheet, the
header rows above it, the totals rows below it.

Merged cells in the table's header row (or inside the table) are refused with one line naming
the sheet and the range: a merged header covers several columns but names only the first, so
which column holds which value is not defined. Merged cells above the table (a title across
the page, an address block) are fine. openpyxl's read-only sheets do not expose merged ranges,
so they are read from the sheet's XML (<mergeCell ref="B7:C7"/>).
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
from openpyxl.utils.cell import range_boundaries

from pipeline.errors import InputError
from pipeline.ingest.documents.invoice import DocumentRead, GridRow, RowRef, _Doc, finish, read_grid
from pipeline.ingest.documents.profiles import Profile, fit

_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}
MAX_ROWS = 5000  # an invoice, not a data dump: bounded so a huge sheet is refused, not read


def merged_ranges(path: Path) -> dict[str, list[str]]:
    """sheet title -> merged ranges ('B7:C7'), from the workbook's XML."""
    out: dict[str, list[str]] = {}
    with zipfile.ZipFile(path) as z:
        wb = ElementTree.fromstring(z.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        target = {r.get("Id"): r.get("Target") for r in rels.findall("rel:Relationship", _NS)}
        for sh in wb.findall("m:sheets/m:sheet", _NS):
            rid = sh.get(f"{{{_NS['r']}}}id")
            t = target.get(rid, "")
            part = t.lstrip("/") if t.startswith("/") else posixpath.normpath(posixpath.join("xl", t))
            if part not in z.namelist():
                continue
            root = ElementTree.fromstring(z.read(part))
            out[sh.get("name")] = [m.get("ref") for m in root.findall("m:mergeCells/m:mergeCell", _NS)]
    return out


def open_workbook(path: Path):
    """The workbook, read-only, from its bytes: the landing file is read through its open descriptor
    (/proc/self/fd/N), a name without the .xlsx suffix openpyxl insists on."""
    return openpyxl.load_workbook(io.BytesIO(Path(path).read_bytes()), read_only=True, data_only=True)


def read_xlsx_invoice(path: Path, rel: str, profile: Profile, vendor: str) -> DocumentRead:
    try:
        merged = merged_ranges(path)
        wb = open_workbook(path)
    except (zipfile.BadZipFile, KeyError, OSError, ElementTree.ParseError) as exc:
        raise InputError(f"{rel}: not a readable XLSX file: {exc}") from None
    try:
        sheets = [profile.file.sheet] if profile.file.sheet else wb.sheetnames
        first_header = None
        for name in sheets:
            if name not in wb.sheetnames:
                raise InputError(f"{rel}: no sheet '{name}' (sheets: {', '.join(wb.sheetnames)})")
            ws = wb[name]
            rows = []
            for r, values in enumerate(ws.iter_rows(values_only=True), 1):
                if r > MAX_ROWS:
                    raise InputError(f"{rel}: sheet '{name}' has more than {MAX_ROWS} rows; not an invoice")
                rows.append(GridRow(RowRef(r, f"sheet '{name}' row {r}"), list(values)))
            if first_header is None:
                first_header = next(([str(c or "") for c in g.cells] for g in rows if any(g.cells)), None)
            doc = _Doc(rel, profile, vendor)
            if not read_grid(doc, rows, f"sheet '{name}'"):
                continue
            _refuse_merged_in_table(rel, name, merged.get(name, []), doc.table_rows)
            return finish(doc)
    finally:
        wb.close()
    fit(profile, first_header or [], rel)  # raises naming the missing columns
    raise InputError(f"{rel}: no line-item table found for profile '{profile.id}'")


def _refuse_merged_in_table(rel: str, sheet: str, ranges: list[str], table_rows: tuple[int, int]) -> None:
    """Merged cells above the table (titles) and in the totals rows (labels) are fine; in the
    header row or among the lines they leave columns without a name or a value."""
    first, last = table_rows
    for ref in ranges:
        _, min_row, _, max_row = range_boundaries(ref)
        if min_row <= last and max_row >= first:
            where = "header row" if min_row <= first <= max_row else "line-item rows"
            raise InputError(
                f"{rel}: sheet '{sheet}' cells {ref} are merged in the table's {where} (row {first}); "
                "unmerge them so each column has its own header and value"
            )
