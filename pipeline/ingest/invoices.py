"""Vendor invoices: CSV line items under landing/invoices/<vendor>/ (docs/formats.md).

(vendor, invoice_number) is the document key wherever the file sits; revisions and
credit notes are resolved in staging (sql/staging/stg_invoices.sql).
"""

from __future__ import annotations

from pipeline.ingest.common import Column, read_table_file
from pipeline.ingest.rules import rules_for

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

# What a valid row is: pipeline/ingest/invoices.rules.yml (used at ingest and by the raw gate).
CHECKS = rules_for("invoices").rules


# What a rejected line carried, as staging would book it (credit notes negative).
REJECTED_COST = (
    "case when lower(coalesce(nullif(trim(document_type), ''), 'invoice')) = 'credit_note' "
    "then -abs(try_cast(trim(amount) as decimal(38,10))) else try_cast(trim(amount) as decimal(38,10)) end",
    "currency",
)


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS, cost=REJECTED_COST)
