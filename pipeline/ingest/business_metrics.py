"""Business metrics per month and model or scenario (searches, recommendations, impressions,
orders, GMV) under landing/business_metrics/: the denominators of marts.unit_cost.

The same CSV shape as landing/metrics/ (month, model_id, metric, value), except that the
subject may be a model or a scenario (`model_or_scenario`), and money metrics (GMV) may carry
a currency. A later file restates a value (sql/staging/stg_business_metrics.sql).
"""

from __future__ import annotations

from pipeline.ingest.common import Column, read_table_file
from pipeline.ingest.rules import rules_for

RAW_TABLE = "raw.business_metrics"
FORMAT = "business-metric CSV"

COLUMNS = (
    Column("month", required=True),
    Column("model_or_scenario", required=True, aliases=("model_id", "scenario", "model", "subject")),
    Column("metric", required=True),
    Column("value", required=True),
    Column("currency"),
)
RAW_COLUMNS = tuple(c.name for c in COLUMNS)

# What a valid row is: pipeline/ingest/business_metrics.rules.yml (used at ingest and by the raw gate).
CHECKS = rules_for("business_metrics").rules


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS)
