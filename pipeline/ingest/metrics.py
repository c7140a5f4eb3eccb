"""Usage metrics per month and model (GPU-hours, requests) used by `split: {by: metric}` rules."""

from __future__ import annotations

from pipeline.ingest.common import Column, read_table_file
from pipeline.ingest.rules import rules_for

RAW_TABLE = "raw.usage_metrics"
FORMAT = "usage-metric CSV"

COLUMNS = (
    Column("month", required=True),
    Column("model_id", required=True),
    Column("metric", required=True),
    Column("value", required=True),
)
RAW_COLUMNS = tuple(c.name for c in COLUMNS)

# What a valid row is: pipeline/ingest/metrics.rules.yml (used at ingest and by the raw gate).
CHECKS = rules_for("metrics").rules


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS)
