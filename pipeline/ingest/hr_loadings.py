"""The employer's loading on labour cost, effective-dated (docs/formats.md `hr_loadings/`):
social insurance, benefits, overhead, ... as a percentage of the hourly rate, an amount per hour,
or an amount per person-month, for an employee, a role, or everyone.

Loadings are people data like pay rates: they stay in raw.hr_loadings; the components of each
time entry's cost are in the work database only (staging.stg_time_cost_components), and reject
reasons never quote a value.
"""

from __future__ import annotations

from pipeline.ingest.common import Column, RowCheck, missing, not_date, read_table_file

RAW_TABLE = "raw.hr_loadings"
FORMAT = "labour-cost loading CSV"

COLUMNS = (
    Column("effective_from", required=True),
    Column("employee_id"),
    Column("role"),
    Column("component", required=True),
    Column("basis", required=True),
    Column("value", required=True),
    Column("currency"),
)
RAW_COLUMNS = tuple(c.name for c in COLUMNS)
BASES = ("percent", "per_hour", "per_month")

CHECKS = (
    not_date("effective_from"),
    missing("component"),
    RowCheck(
        "component",
        "lower(trim(component)) = 'base'",
        "'component: ''base'' is the hourly rate itself (hr_rates/); name the loading'",
    ),
    RowCheck(
        "basis",
        "lower(trim(coalesce(basis, ''))) not in ('percent', 'per_hour', 'per_month')",
        "'basis: ''' || coalesce(basis, '') || ''' is not percent, per_hour or per_month'",
    ),
    RowCheck(
        "value",
        "try_cast(trim(value) as decimal(38,10)) is null or try_cast(trim(value) as decimal(38,10)) < 0",
        "'value: not a non-negative number'",
    ),
    RowCheck(
        "currency",
        "lower(trim(basis)) <> 'percent' and not regexp_full_match(coalesce(trim(currency), ''), '[A-Z]{3}')",
        "'currency: an amount needs an ISO-4217 currency'",
    ),
)


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS)
