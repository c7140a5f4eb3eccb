"""Currency rates: one unit of from_currency is worth `rate` units of to_currency from rate_date."""

from __future__ import annotations

from pipeline.ingest.common import Column, read_table_file
from pipeline.ingest.rules import rules_for

RAW_TABLE = "raw.fx_rates"
FORMAT = "FX rate CSV"

COLUMNS = (
    Column("rate_date", required=True, aliases=("date",)),
    Column("from_currency", required=True, aliases=("base_currency",)),
    Column("to_currency", required=True, aliases=("quote_currency",)),
    Column("rate", required=True),
)
RAW_COLUMNS = tuple(c.name for c in COLUMNS)

# What a valid row is: pipeline/ingest/fx_rates.rules.yml (used at ingest and by the raw gate).
CHECKS = rules_for("fx_rates").rules


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS)
