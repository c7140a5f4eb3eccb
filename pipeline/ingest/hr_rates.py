"""Loaded hourly rates, effective-dated, by employee or by role (docs/formats.md).

Pay rates are people data: they stay in raw.hr_rates; rejected-row reasons never quote them.
"""

from __future__ import annotations

from pipeline.ingest.common import Column, RowCheck, not_currency, not_date, read_table_file

RAW_TABLE = "raw.hr_rates"
FORMAT = "hourly-rate CSV"

COLUMNS = (
    Column("employee_id"),
    Column("role"),
    Column("effective_from", required=True),
    Column("hourly_rate", required=True),
    Column("currency", required=True),
)
RAW_COLUMNS = tuple(c.name for c in COLUMNS)

CHECKS = (
    RowCheck(
        "employee_id",
        "nullif(trim(employee_id), '') is null and nullif(trim(role), '') is null",
        "'employee_id/role: one of them must be filled'",
    ),
    not_date("effective_from"),
    RowCheck(
        "hourly_rate",
        "try_cast(trim(hourly_rate) as decimal(38,10)) is null or try_cast(trim(hourly_rate) as decimal(38,10)) < 0",
        "'hourly_rate: not a non-negative number'",
    ),
    not_currency("currency"),
)


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS)
