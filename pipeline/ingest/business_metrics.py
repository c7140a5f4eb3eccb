"""Business metrics per month and model or scenario (searches, recommendations, impressions,
orders, GMV) under landing/business_metrics/: the denominators of marts.unit_cost.

The same CSV shape as landing/metrics/ (month, model_id, metric, value), except that the
subject may be a model or a scenario (`model_or_scenario`), and money metrics (GMV) may carry
a currency. A later file restates a value (sql/staging/stg_business_metrics.sql).
"""

from __future__ import annotations

from pipeline.ingest.common import Column, RowCheck, missing, not_month, read_table_file

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

CHECKS = (
    not_month("month"),
    RowCheck(
        "model_or_scenario",
        "lower(trim(coalesce(model_or_scenario, ''))) not in (select alias from config.model_aliases) "
        "and lower(trim(coalesce(model_or_scenario, ''))) not in (select distinct scenario from config.models "
        "where scenario is not null)",
        "'model_or_scenario: ''' || coalesce(model_or_scenario, '') || ''' is neither a model nor a scenario "
        "in config/models.yaml'",
    ),
    missing("metric"),
    RowCheck(
        "value",
        "try_cast(trim(value) as decimal(38,10)) is null or try_cast(trim(value) as decimal(38,10)) < 0",
        "'value: ''' || coalesce(value, '') || ''' is not a non-negative number'",
    ),
    RowCheck(
        "currency",
        "nullif(trim(currency), '') is not null and not regexp_full_match(upper(trim(currency)), '[A-Z]{3}')",
        "'currency: ''' || currency || ''' is not an ISO-4217 currency code'",
    ),
)


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS)
