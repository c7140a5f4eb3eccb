"""The employer's loading on labour cost, effective-dated (docs/formats.md `hr_loadings/`):
social insurance, benefits, overhead, ... as a percentage of the hourly rate, an amount per hour,
or an amount per person-month, for an employee, a role, or everyone.

Loadings are people data like pay rates: they stay in raw.hr_loadings; the components of each
time entry's cost are in the work database only (staging.stg_time_cost_components), and reject
reasons never quote a value.
"""

from __future__ import annotations

from pipeline.ingest.common import Column, read_table_file
from pipeline.ingest.rules import rules_for

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

# What a valid row is: pipeline/ingest/hr_loadings.rules.yml (used at ingest and by the raw gate).
CHECKS = rules_for("hr_loadings").rules


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS)
