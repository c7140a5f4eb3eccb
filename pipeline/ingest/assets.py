"""Owned hardware: the asset register and its maintenance contracts under landing/assets/.

One CSV shape holds both kinds of row (docs/formats.md, "Asset register"):
- a register row (no `contract_id`): an asset bought and depreciated straight-line from its
  in-service month over `useful_life_months` down to `salvage_value`. Several rows of one
  asset with different `effective_month`s change its useful life or salvage from that month
  on (a change in estimate: earlier months keep what they booked). `disposal_date` and
  `disposal_proceeds` stop the depreciation and book the gain or loss.
- a maintenance row (`contract_id` set): a contract on an asset, pro-rated by days over its
  period like a vendor invoice.
Depreciation and pro-rating happen in sql/staging/stg_assets.sql.
"""

from __future__ import annotations

from pipeline.ingest.common import Column, read_table_file
from pipeline.ingest.rules import rules_for

RAW_TABLE = "raw.asset_register"
FORMAT = "asset register CSV"

COLUMNS = (
    Column("asset_id", required=True),
    Column("description"),
    Column("purchase_date"),
    Column("in_service_date"),
    Column("cost"),
    Column("currency", required=True),
    Column("useful_life_months"),
    Column("salvage_value"),
    Column("serves", aliases=("model_or_pool", "model_id", "pool")),
    Column("leaf"),
    Column("effective_month"),
    Column("disposal_date"),
    Column("disposal_proceeds"),
    Column("contract_id"),
    Column("contract_start"),
    Column("contract_end"),
    Column("contract_amount"),
)
RAW_COLUMNS = tuple(c.name for c in COLUMNS)

# What a valid row is: pipeline/ingest/assets.rules.yml (used at ingest and by the raw gate).
CHECKS = rules_for("assets").rules
_MNT = "nullif(trim(contract_id), '') is not null"

REJECTED_COST = (f"case when {_MNT} then trim(contract_amount) else trim(cost) end", "currency")


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS, cost=REJECTED_COST)
