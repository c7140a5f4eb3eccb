"""Usage metrics per month and model (GPU-hours, requests) used by `split: {by: metric}` rules."""

from __future__ import annotations

from pipeline.ingest.common import Column, RowCheck, missing, not_month, read_table_file

RAW_TABLE = "raw.usage_metrics"
FORMAT = "usage-metric CSV"

COLUMNS = (
    Column("month", required=True),
    Column("model_id", required=True),
    Column("metric", required=True),
    Column("value", required=True),
)
RAW_COLUMNS = tuple(c.name for c in COLUMNS)

CHECKS = (
    not_month("month"),
    RowCheck(
        "model_id",
        "lower(trim(coalesce(model_id, ''))) not in (select alias from config.model_aliases)",
        "'model_id: ''' || coalesce(model_id, '') || ''' is not in config/models.yaml'",
    ),
    missing("metric"),
    RowCheck(
        "value",
        "try_cast(trim(value) as decimal(38,10)) is null or try_cast(trim(value) as decimal(38,10)) < 0",
        "'value: ''' || coalesce(value, '') || ''' is not a non-negative number'",
    ),
)


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS)
