"""Currency rates: one unit of from_currency is worth `rate` units of to_currency from rate_date."""

from __future__ import annotations

from pipeline.ingest.common import Column, RowCheck, not_currency, not_date, read_table_file

RAW_TABLE = "raw.fx_rates"
FORMAT = "FX rate CSV"

COLUMNS = (
    Column("rate_date", required=True, aliases=("date",)),
    Column("from_currency", required=True, aliases=("base_currency",)),
    Column("to_currency", required=True, aliases=("quote_currency",)),
    Column("rate", required=True),
)
RAW_COLUMNS = tuple(c.name for c in COLUMNS)

CHECKS = (
    not_date("rate_date"),
    not_currency("from_currency"),
    not_currency("to_currency"),
    RowCheck(
        "rate",
        "try_cast(trim(rate) as decimal(38,10)) is null or try_cast(trim(rate) as decimal(38,10)) <= 0",
        "'rate: ''' || coalesce(rate, '') || ''' is not a positive number'",
    ),
)


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS)
