"""Vendor invoices: CSV line items under landing/invoices/<vendor>/ (docs/formats.md).

(vendor, invoice_number) is the document key wherever the file sits; revisions and
credit notes are resolved in staging (sql/staging/stg_invoices.sql).
"""

from __future__ import annotations

from pipeline.ingest.common import (
    Column,
    RowCheck,
    missing,
    not_currency,
    not_date,
    not_number,
    read_table_file,
)

RAW_TABLE = "raw.invoice_lines"
FORMAT = "vendor invoice CSV"
CONFIG_PARTS = ("vendors",)

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

CHECKS = (
    RowCheck(
        "vendor",
        "lower(trim(coalesce(vendor, ''))) not in (select alias from config.vendor_aliases)",
        "'vendor: ''' || coalesce(vendor, '') || ''' is not in config/vendors.yaml'",
    ),
    missing("invoice_number"),
    not_date("invoice_date"),
    RowCheck(
        "revision",
        "(nullif(trim(revision), '') is not null and try_cast(trim(revision) as integer) is null)",
        "'revision: ''' || revision || ''' is not an integer'",
    ),
    RowCheck(
        "document_type",
        "lower(coalesce(nullif(trim(document_type), ''), 'invoice')) not in ('invoice', 'credit_note')",
        "'document_type: ''' || document_type || ''' is not invoice or credit_note'",
    ),
    missing("line_number"),
    not_date("service_period_start"),
    not_date("service_period_end"),
    RowCheck(
        "service_period_end",
        "try_cast(trim(service_period_end) as date) < try_cast(trim(service_period_start) as date)",
        "'service_period_end: ends before service_period_start'",
    ),
    not_number("amount"),
    not_number("quantity", required=False),
    not_number("unit_price", required=False),
    not_currency("currency"),
)


# What a rejected line carried, as staging would book it (credit notes negative).
REJECTED_COST = (
    "case when lower(coalesce(nullif(trim(document_type), ''), 'invoice')) = 'credit_note' "
    "then -abs(try_cast(trim(amount) as decimal(38,10))) else try_cast(trim(amount) as decimal(38,10)) end",
    "currency",
)


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS, cost=REJECTED_COST)
