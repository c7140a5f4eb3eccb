"""Budgets per month x stage (x leaf, x model optional)."""

from __future__ import annotations

from pipeline.ingest.common import Column, read_table_file
from pipeline.ingest.rules import rules_for

RAW_TABLE = "raw.budgets"
FORMAT = "budget CSV"

COLUMNS = (
    Column("month", required=True),
    Column("stage", required=True),
    Column("leaf"),
    Column("model_id"),
    Column("currency", required=True),
    Column("amount", required=True),
)
RAW_COLUMNS = tuple(c.name for c in COLUMNS)

# What a valid row is: pipeline/ingest/budgets.rules.yml (used at ingest and by the raw gate).
CHECKS = rules_for("budgets").rules


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS)
