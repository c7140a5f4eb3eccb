"""Loaded hourly rates, effective-dated, by employee or by role (docs/formats.md).

Pay rates are people data: they stay in raw.hr_rates; rejected-row reasons never quote them.
"""

from __future__ import annotations

from pipeline.ingest.common import Column, read_table_file
from pipeline.ingest.rules import rules_for

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

# What a valid row is: pipeline/ingest/hr_rates.rules.yml (used at ingest and by the raw gate).
CHECKS = rules_for("hr_rates").rules


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS)
