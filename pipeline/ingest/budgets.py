"""Budgets per month x stage (x leaf, x model optional)."""

from __future__ import annotations

from pipeline.ingest.common import Column, RowCheck, not_currency, not_month, not_number, read_table_file

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

CHECKS = (
    not_month("month"),
    RowCheck(
        "stage",
        "lower(trim(coalesce(stage, ''))) not in ('pretrain', 'tuning', 'deploy', 'maintenance')",
        "'stage: ''' || coalesce(stage, '') || ''' is not pretrain, tuning, deploy or maintenance'",
    ),
    RowCheck(
        "leaf",
        "nullif(trim(leaf), '') is not null and lower(trim(leaf)) not in (select leaf from config.leaves)",
        "'leaf: ''' || leaf || ''' is not one of the nine leaves'",
    ),
    RowCheck(
        "leaf",
        "nullif(trim(leaf), '') is not null and lower(trim(leaf)) in (select leaf from config.leaves) "
        "and lower(trim(leaf)) || '/' || lower(trim(stage)) not in (select leaf || '/' || stage from config.leaves)",
        "'leaf: ''' || leaf || ''' does not belong to stage ''' || stage || ''''",
    ),
    RowCheck(
        "model_id",
        "nullif(trim(model_id), '') is not null and lower(trim(model_id)) not in (select alias from config.model_aliases)",
        "'model_id: ''' || model_id || ''' is not in config/models.yaml'",
    ),
    not_currency("currency"),
    not_number("amount"),
)


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS)
