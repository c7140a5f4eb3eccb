"""Google Cloud Billing export extracts (standard or detailed usage cost tables) under
landing/gcp_billing/: JSON Lines (`bq extract --destination_format=NEWLINE_DELIMITED_JSON`),
Parquet (nested STRUCT/LIST columns as BigQuery writes them) or CSV (BigQuery cannot extract
nested fields to CSV: the flattening query in docs/formats.md gives the columns read here).

Every format lands in raw.gcp_billing_line_items with the flat column names of that query
(`service.id` -> `service_id`, ...); repeated fields (`labels`, `project.labels`, `credits`)
stay JSON text. Numbers stay the text the file holds (a Parquet DOUBLE: its shortest round-trip
text); sql/staging/stg_gcp_billing.sql nets the credits and decides which extraction counts.
"""

from __future__ import annotations

import duckdb

from pipeline.db import in_file_order
from pipeline.errors import InputError
from pipeline.ingest.common import (
    Column,
    _first_line_of,
    drop_temp,
    q,
    read_table_file,
    reader_max_line_size,
)
from pipeline.ingest.native.common import drop_own_temp, finish_read
from pipeline.ingest.rules import rules_for
from pipeline.landing.prescan import human_bytes

RAW_TABLE = "raw.gcp_billing_line_items"
FORMAT = "GCP billing export"

# flat name -> JSON path in the export's nested row
FIELDS = {
    "billing_account_id": "$.billing_account_id",
    "service_id": "$.service.id",
    "service_description": "$.service.description",
    "sku_id": "$.sku.id",
    "sku_description": "$.sku.description",
    "usage_start_time": "$.usage_start_time",
    "usage_end_time": "$.usage_end_time",
    "project_id": "$.project.id",
    "project_number": "$.project.number",
    "project_name": "$.project.name",
    "project_labels": "$.project.labels",
    "labels": "$.labels",
    "system_labels": "$.system_labels",
    "location_region": "$.location.region",
    "location_zone": "$.location.zone",
    "resource_name": "$.resource.name",
    "resource_global_name": "$.resource.global_name",
    "transaction_type": "$.transaction_type",
    "seller_name": "$.seller_name",
    "export_time": "$.export_time",
    "cost": "$.cost",
    "currency": "$.currency",
    "currency_conversion_rate": "$.currency_conversion_rate",
    "usage_amount": "$.usage.amount",
    "usage_unit": "$.usage.unit",
    "credits": "$.credits",
    "credits_amount": None,  # the CSV flattening query's Σ credits.amount; derived from credits elsewhere
    "invoice_month": "$.invoice.month",
    "invoice_publisher_type": "$.invoice.publisher_type",
    "cost_type": "$.cost_type",
    "adjustment_id": "$.adjustment_info.id",
    "adjustment_description": "$.adjustment_info.description",
    "adjustment_mode": "$.adjustment_info.mode",
    "adjustment_type": "$.adjustment_info.type",
    "cost_at_list": "$.cost_at_list",
}
_JSON_VALUED = {"project_labels", "labels", "system_labels", "credits"}
_REQUIRED = {"billing_account_id", "cost", "currency", "usage_start_time"}
COLUMNS = tuple(
    Column(name, required=name in _REQUIRED, aliases=((path[2:],) if path and "." in path[2:] else ()))
    for name, path in FIELDS.items()
)
RAW_COLUMNS = tuple(FIELDS)

CHECKS = rules_for("gcp_billing").rules
_COST = ("trim(cost)", q("currency"))


def _extract(name: str, path: str | None) -> str:
    if path is None:
        return f"cast(null as varchar) as {q(name)}"
    if name in _JSON_VALUED:
        return f"cast(__j -> '{path}' as varchar) as {q(name)}"
    return f"(__j ->> '{path}') as {q(name)}"


def read(con, settings, f, load_id):
    name = f.path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS, cost=_COST)
    drop_temp(con)
    drop_own_temp(con)
    fields = ", ".join(_extract(n, p) for n, p in FIELDS.items())
    footer_rows = None
    if name.endswith(".parquet"):
        where = "record"
        try:
            footer_rows, uncompressed = con.execute(
                "select (select sum(num_rows) from parquet_file_metadata($p)), "
                "(select coalesce(sum(total_uncompressed_size), 0) from parquet_metadata($p))",
                {"p": [f.reader_path]},
            ).fetchone()
            if f.caps and uncompressed > f.caps.max_decompressed_bytes:
                raise InputError(
                    f"{f.rel}: more than {human_bytes(f.caps.max_decompressed_bytes)} once decompressed "
                    "(cap ingest.max_decompressed_bytes); refused unread as a possible decompression bomb"
                )
            # the nested row as JSON: one extraction for every format
            con.execute(
                "create temp table _lines as select file_row_number + 1 as __row, "
                "cast(to_json(p) as varchar) as __text from read_parquet(?, file_row_number = true) p",
                [[f.reader_path]],
            )
        except duckdb.Error as exc:
            raise InputError(f"{f.rel}: not a readable Parquet file: {_first_line_of(exc, f)}") from None
    elif name.endswith((".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz")):
        where = "line"
        try:
            # one record per line, read as text (no quoting, a separator JSON never holds raw)
            # Numbered in file order: insertion order is kept for this statement, and the number
            # is row_number() over (), not rowid (inside the load's transaction rowid starts far up).
            with in_file_order(con):
                con.execute(
                    "create temp table _lines as select row_number() over () as __row, __text "
                    "from read_csv(?, columns = {'__text': 'VARCHAR'}, "
                    "header = false, auto_detect = false, delim = ?, quote = '', escape = '', "
                    "compression = ?, max_line_size = ?)",
                    [
                        [f.reader_path],
                        "\x01",
                        "gzip" if name.endswith(".gz") else "none",
                        reader_max_line_size(f),
                    ],
                )
        except duckdb.Error as exc:
            raise InputError(f"{f.rel}: not a readable JSON Lines file: {_first_line_of(exc, f)}") from None
    else:
        raise InputError(
            f"{f.rel}: unsupported file type (expected .json, .json.gz, .parquet, .csv or .csv.gz)"
        )
    con.execute(
        f"""
        create temp table _read as
        with parsed as (select __row, __text, try_cast(__text as json) as __j from _lines)
        select {fields}, __row,
               case when __j is null or json_type(__j) <> 'OBJECT' then 'not a JSON object' end as __error
        from parsed
        """
    )
    if not con.execute("select count(*) from _read").fetchone()[0] and footer_rows is None:
        raise InputError(f"{f.rel}: the file is empty (expected one billing export row per line)")
    return finish_read(con, RAW_COLUMNS, CHECKS, where, cost=_COST, footer_rows=footer_rows)
