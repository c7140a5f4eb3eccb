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

from pipeline.ingest.common import (
    Column,
    RowCheck,
    missing,
    not_currency,
    not_date,
    not_number,
    read_table_file,
)

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

_REG = "nullif(trim(contract_id), '') is null"
_MNT = "nullif(trim(contract_id), '') is not null"


def _on(kind: str, check: RowCheck) -> RowCheck:
    """A check that applies to one kind of row only."""
    return RowCheck(check.field, f"({kind}) and {check.invalid}", check.reason)


CHECKS = (
    missing("asset_id"),
    not_currency("currency"),
    _on(_REG, not_date("in_service_date")),
    _on(_REG, not_date("purchase_date", required=False)),
    _on(_REG, not_number("cost")),
    _on(
        _REG,
        RowCheck(
            "useful_life_months",
            "coalesce(try_cast(trim(useful_life_months) as integer), 0) <= 0",
            "'useful_life_months: ''' || coalesce(useful_life_months, '') || ''' is not a positive whole number'",
        ),
    ),
    _on(_REG, not_number("salvage_value", required=False)),
    _on(
        _REG,
        RowCheck(
            "salvage_value",
            "coalesce(try_cast(trim(salvage_value) as decimal(38,10)), 0) > try_cast(trim(cost) as decimal(38,10))",
            "'salvage_value: more than the cost'",
        ),
    ),
    _on(
        _REG,
        RowCheck(
            "serves",
            "nullif(trim(serves), '') is null or (lower(trim(serves)) not like 'pool:%' "
            "and lower(trim(serves)) not in (select alias from config.model_aliases))",
            "'serves: ''' || coalesce(serves, '') || ''' is neither a model in config/models.yaml nor pool:<name>'",
        ),
    ),
    _on(
        _REG,
        RowCheck(
            "leaf",
            "lower(trim(coalesce(leaf, ''))) not in (select leaf from config.leaves)",
            "'leaf: ''' || coalesce(leaf, '') || ''' is not one of the nine leaves'",
        ),
    ),
    _on(
        _REG,
        RowCheck(
            "effective_month",
            "nullif(trim(effective_month), '') is not null and try_cast(trim(effective_month) || '-01' as date) is null",
            "'effective_month: ''' || effective_month || ''' is not YYYY-MM'",
        ),
    ),
    _on(_REG, not_date("disposal_date", required=False)),
    _on(
        _REG,
        RowCheck(
            "disposal_date",
            "try_cast(trim(disposal_date) as date) < try_cast(trim(in_service_date) as date)",
            "'disposal_date: before in_service_date'",
        ),
    ),
    _on(_REG, not_number("disposal_proceeds", required=False)),
    _on(_MNT, not_date("contract_start")),
    _on(_MNT, not_date("contract_end")),
    _on(
        _MNT,
        RowCheck(
            "contract_end",
            "try_cast(trim(contract_end) as date) < try_cast(trim(contract_start) as date)",
            "'contract_end: ends before contract_start'",
        ),
    ),
    _on(_MNT, not_number("contract_amount")),
)

REJECTED_COST = (f"case when {_MNT} then trim(contract_amount) else trim(cost) end", "currency")


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS, cost=REJECTED_COST)
