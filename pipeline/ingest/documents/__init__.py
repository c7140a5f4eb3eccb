"""Documents as companies actually have them: vendor invoices (CSV, XLSX, PDF, JSON) and time
trackers' exports (Tempo, Harvest, Toggl, Clockify), read under format profiles
(config/profiles/*.yaml, see profiles.py and README.md).

This package stands beside pipeline/ingest/common.py and does not touch raw tables; the ingest
layer wires it in with a small adapter. The output contract:

Invoices -- ``read_invoice(path, rel, profile, vendor) -> DocumentRead`` (small files, Python):

* ``header``: dict of text -- vendor, profile, invoice_number, invoice_date (YYYY-MM-DD),
  currency (ISO-4217), document_type (invoice | credit_note), service_period_start/end,
  printed_subtotal / printed_tax / printed_total (as printed; only those found), lines_total
  (Σ line amounts, credit notes negative), booked_total, reconciled ("ok" or "no printed
  total"), title (the first text above the table). These are the columns
  audit.reconciliation needs per invoice.
* ``rows``: list of (RowRef, {column: text}) -- one per line item, with exactly
  ``invoice.LINE_COLUMNS`` (raw.invoice_lines' columns) as canonical text: dates YYYY-MM-DD,
  numbers with '.' and a leading '-', header values filled into every line. A printed tax is
  one more row (line_number "tax") when the profile says ``tax: book``.
  ``RowRef.source_row`` is an int for raw's lineage column (CSV line, sheet row, PDF row
  ordinal, JSON record number); ``RowRef.label`` names it in messages ("sheet 'Invoice' row 14",
  "page 2 table row 3", "lines[4]").
* ``rejects``: [] on success. An invoice is a document: a line that cannot be read, or lines that
  do not sum to the printed total, refuse the whole invoice with one InputError naming the file,
  the row and the field, or the difference. Nothing of a refused invoice is booked.
* ``skipped``: rows inside the table with no amount at all (section headings, notes).

Time logs -- ``read_time_export(con, path, rel, profile) -> TimeRead`` (up to 100k+ rows,
set-based in DuckDB; the file is read once by read_csv with the profile's column mapping):

* leaves the temp view ``_incoming`` (``timelogs.ENTRY_COLUMNS`` as text + ``source_row``) and
  the temp table ``_rejects(source_row bigint, field varchar, reason varchar)`` -- the same
  shape ``common.read_table_file`` leaves, so ``load_file`` can insert from them unchanged.
  ``source_row`` is the physical line (header = 1). Reasons name the field and, for dates and
  hours, the value; never a name or an e-mail.
* returns ``TimeRead(rows_in_file, rows_rejected, profile)``.
* ``unmapped_values(con, activities, model_keys)`` lists activity/model values with no mapping,
  by value and row count, so a person can map them.

Errors a user sees are one line (pipeline.errors.InputError / ConfigError).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from pipeline.errors import InputError
from pipeline.ingest.documents.invoice import LINE_COLUMNS, DocumentRead, Reject, RowRef
from pipeline.ingest.documents.profiles import (
    Profile,
    check_vendor_profiles,
    load_profiles,
    recognise,
)
from pipeline.ingest.documents.timelogs import ENTRY_COLUMNS, TimeRead, read_time_export, unmapped_values

__all__ = [
    "ENTRY_COLUMNS",
    "LINE_COLUMNS",
    "DocumentRead",
    "Profile",
    "Reject",
    "RowRef",
    "TimeRead",
    "check_vendor_profiles",
    "file_format",
    "invoice_profile",
    "load_profiles",
    "read_invoice",
    "read_time_export",
    "recognise",
    "unmapped_values",
]

_FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".pdf": "pdf", ".json": "json"}


def file_format(path: Path, rel: str) -> str:
    """The document's format from its name under landing/ (`path` may be /proc/self/fd/N)."""
    fmt = _FORMATS.get((PurePosixPath(rel).suffix or path.suffix).lower())
    if fmt is None:
        raise InputError(f"{rel}: unsupported file type (expected .csv, .xlsx, .pdf or .json)")
    return fmt


def invoice_profile(
    path: Path, rel: str, profiles: dict[str, Profile], vendor_profile: str | None = None
) -> Profile:
    """The vendor's own profile when vendors.yaml names one (it must read this file type), else
    the one profile recognised from the file's header (CSV/XLSX) or the only one for the type."""
    fmt = file_format(path, rel)
    if vendor_profile:
        prof = profiles[vendor_profile]
        if prof.file.format == fmt:
            return prof
    candidates = [p for p in profiles.values() if p.kind == "invoice" and p.file.format == fmt]
    if len(candidates) == 1:
        return candidates[0]
    if fmt in ("csv", "xlsx") and candidates:
        rows = _first_rows(path, rel, fmt)
        fitting = [r for r in rows if len([c for c in r if c.strip()]) >= 2]
        for rec in fitting:
            try:
                return recognise(rec, profiles, "invoice", fmt, rel)
            except InputError:
                continue
        return recognise(
            fitting[0] if fitting else [], profiles, "invoice", fmt, rel
        )  # names what is missing
    if not candidates:
        raise InputError(f"{rel}: no invoice profile reads .{fmt} files")
    raise InputError(
        f"{rel}: several invoice profiles read .{fmt} files ({', '.join(sorted(p.id for p in candidates))}); "
        "name one for this vendor (vendors.yaml `profile:`)"
    )


def read_invoice(path: Path, rel: str, profile: Profile, vendor: str) -> DocumentRead:
    """One invoice file under its profile (see the module docstring for what comes back)."""
    fmt = file_format(path, rel)
    if profile.kind != "invoice" or profile.file.format != fmt:
        raise InputError(
            f"{rel}: profile '{profile.id}' reads {profile.kind} .{profile.file.format} files, not invoice .{fmt}"
        )
    if fmt == "csv":
        from pipeline.ingest.documents.invoice import read_csv_invoice as reader
    elif fmt == "xlsx":
        from pipeline.ingest.documents.xlsx import read_xlsx_invoice as reader
    elif fmt == "pdf":
        from pipeline.ingest.documents.pdf import read_pdf_invoice as reader
    else:
        from pipeline.ingest.documents.jsondoc import read_json_invoice as reader
    return reader(path, rel, profile, vendor)


def _first_rows(path: Path, rel: str, fmt: str, limit: int = 60) -> list[list[str]]:
    """The first rows of a CSV or of every XLSX sheet, as text: where a table's header may be."""
    if fmt == "csv":
        import csv
        import io

        from pipeline.ingest.documents.textfile import decode_file

        # recognition reads UTF-8 only: a GBK file is read only under the profile its vendor
        # names (vendors.yaml `profile:`) declaring that encoding, never by trying codecs
        text = decode_file(path, rel, "utf-8")
        return [r for _, r in zip(range(limit), csv.reader(io.StringIO(text, newline="")), strict=False)]
    from pipeline.ingest.documents.xlsx import open_workbook

    try:
        wb = open_workbook(path)
    except Exception as exc:
        raise InputError(f"{rel}: not a readable XLSX file: {exc}") from None
    try:
        out = []
        for ws in wb.worksheets:
            for _, values in zip(range(limit), ws.iter_rows(values_only=True), strict=False):
                out.append(["" if v is None else str(v) for v in values])
        return out
    finally:
        wb.close()
