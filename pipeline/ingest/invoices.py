"""Vendor invoices under landing/invoices/<vendor>/ (docs/formats.md): costledger's own line CSV,
and the vendors' own documents -- CSV, XLSX, PDF, JSON -- read under a format profile
(config/profiles/, pipeline/ingest/documents/).

(vendor, invoice_number) is the document key wherever the file sits; revisions and
credit notes are resolved in staging (sql/staging/stg_invoices.sql).

A vendor document is read whole or refused whole: its lines go to raw.invoice_lines, its
printed totals to raw.invoice_documents (one row per file), where audit.reconciliation checks
Σ lines = printed total per invoice. The profile is the vendor's own (vendors.yaml `profile:`),
else the one its header is recognised by.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.errors import InputError
from pipeline.ingest.common import (
    Column,
    Incoming,
    _csv_header,
    _resolve_columns,
    drop_temp,
    q,
    read_table_file,
)
from pipeline.ingest.rules import rules_for

RAW_TABLE = "raw.invoice_lines"
FORMAT = "vendor invoice CSV"
CONFIG_PARTS = ("vendors", "profiles")

COLUMNS = (
    Column("vendor", required=True),
    Column("invoice_number", required=True, aliases=("invoice_no", "invoice_id")),
    Column("invoice_date", required=True),
    Column("revision"),
    Column("document_type"),
    Column("line_number", required=True, aliases=("line",)),
    Column("description"),
    Column("service_period_start", required=True),
    Column("service_period_end", required=True),
    Column("quantity"),
    Column("unit"),
    Column("unit_price"),
    Column("amount", required=True),
    Column("currency", required=True),
    Column("model_or_project", aliases=("model", "project")),
)
RAW_COLUMNS = tuple(c.name for c in COLUMNS)

# What a valid row is: pipeline/ingest/invoices.rules.yml (used at ingest and by the raw gate).
CHECKS = rules_for("invoices").rules


# What a rejected line carried, as staging would book it (credit notes negative).
REJECTED_COST = (
    "case when lower(coalesce(nullif(trim(document_type), ''), 'invoice')) = 'credit_note' "
    "then -abs(try_cast(trim(amount) as decimal(38,10))) else try_cast(trim(amount) as decimal(38,10)) end",
    "currency",
)


# One row per vendor document: what it prints, what its lines sum to (pipeline/ingest/documents).
DOCUMENTS_TABLE = "raw.invoice_documents"
DOCUMENT_COLUMNS = (
    "vendor",
    "invoice_number",
    "invoice_date",
    "document_type",
    "revision",
    "currency",
    "service_period_start",
    "service_period_end",
    "printed_subtotal",
    "printed_tax",
    "printed_total",
    "tax_treatment",
    "lines_total",
    "booked_total",
    "reconciled",
    "profile",
    "lines",
)
# raw tables besides RAW_TABLE that a file fills: table -> (its columns, the temp table read() leaves)
SIDE_TABLES = {DOCUMENTS_TABLE: (DOCUMENT_COLUMNS, "_documents")}


def read(con, settings, f, load_id):
    con.execute("drop table if exists _documents")
    vendor = _vendor_folder(f.rel)
    cfg = _vendor_cfg(settings, vendor) if vendor else None
    if not (cfg and cfg.profile) and _is_line_csv(f):
        return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS, cost=REJECTED_COST)
    if vendor is None:
        raise InputError(
            f"{f.rel}: a vendor's own invoice belongs under invoices/<vendor>/ (the vendor id of vendors.yaml)"
        )
    if cfg is None:
        raise InputError(
            f"{f.rel}: vendor folder '{vendor}' is not in config/vendors.yaml (add it, with its kind)"
        )
    return _read_document(con, settings, f, cfg)


def _vendor_folder(rel: str) -> str | None:
    parts = rel.split("/")
    return parts[1] if len(parts) >= 3 else None


def _vendor_cfg(settings, name: str):
    for v in settings.vendors:
        if name.lower() in (v.id.lower(), *(a.lower() for a in v.aliases)):
            return v
    return None


def _is_line_csv(f) -> bool:
    """A UTF-8 CSV whose header holds costledger's own invoice columns (read set-based, as ever)."""
    if not f.path.name.lower().endswith((".csv", ".csv.gz")):
        return False
    try:
        _resolve_columns(_csv_header(f), COLUMNS, f, FORMAT)
    except InputError:
        return False
    return True


def _read_document(con, settings, f, vendor) -> Incoming:
    """One vendor document under its profile: lines into `_incoming`, its totals into `_documents`."""
    from pipeline.ingest.documents import invoice_profile, read_invoice

    drop_temp(con)
    path = Path(f.reader_path) if f.reader_path and f.reader_path.startswith("/proc/") else f.path
    profile = invoice_profile(path, f.rel, settings.profiles, vendor.profile)
    doc = read_invoice(path, f.rel, profile, vendor.id)
    cols = ", ".join(f"{q(c)} varchar" for c in RAW_COLUMNS)
    con.execute(f"create temp table _read ({cols}, source_row bigint)")
    if doc.rows:
        con.executemany(
            f"insert into _read values ({', '.join('?' for _ in range(len(RAW_COLUMNS) + 1))})",
            [[row.get(c) for c in RAW_COLUMNS] + [where.source_row] for where, row in doc.rows],
        )
    con.execute("create temp view _incoming as select * from _read")
    con.execute(
        "create temp table _rejects (source_row bigint, field varchar, reason varchar, "
        "cost decimal(38,10), currency varchar)"
    )
    head = {
        **doc.header,
        "tax_treatment": profile.tax,
        "lines": str(len(doc.rows)),
    }
    dcols = ", ".join(f"{q(c)} varchar" for c in DOCUMENT_COLUMNS)
    con.execute(f"create temp table _documents ({dcols})")
    con.execute(
        f"insert into _documents values ({', '.join('?' for _ in DOCUMENT_COLUMNS)})",
        [head.get(c) or None for c in DOCUMENT_COLUMNS],
    )
    # a document's rows are its line items (and a booked tax line), counted by its reader: the
    # title, address and totals rows around the table are not data rows
    return Incoming(rows_in_file=len(doc.rows), document=True)
