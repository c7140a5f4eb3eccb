"""The raw tables are created once and brought up to date with one catalog query: every step calls
ensure_raw_tables, so a night with nothing new must not pay for hundreds of catalog statements."""

from __future__ import annotations

import duckdb

from pipeline import ingest


class Recording:
    """A connection that records the statements it runs."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con, self.statements = con, []

    def execute(self, sql, *args):
        self.statements.append(sql)
        return self.con.execute(sql, *args)


def _raw_columns(con) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for table, column in con.execute(
        "select table_name, column_name from duckdb_columns() where schema_name = 'raw' order by table_name, column_index"
    ).fetchall():
        out.setdefault(table, []).append(column)
    return out


def test_a_warehouse_with_every_raw_table_runs_only_the_catalog_query():
    con = duckdb.connect()
    con.execute("create schema raw")
    ingest.ensure_raw_tables(con)
    built = _raw_columns(con)
    assert {f"raw.{t}" for t in built} >= {m.RAW_TABLE for m in ingest.MODULES.values()} | {
        "raw.employee_keys"
    }
    rec = Recording(con)
    ingest.ensure_raw_tables(rec)
    assert len(rec.statements) == 1 and "duckdb_columns()" in rec.statements[0]
    assert _raw_columns(con) == built


def test_a_raw_table_of_an_older_warehouse_gains_its_missing_columns():
    con = duckdb.connect()
    con.execute("create schema raw")
    ingest.ensure_raw_tables(con)
    built = _raw_columns(con)
    con.execute('alter table raw.focus_line_items drop column "Tags"')
    con.execute("drop table raw.employee_keys")
    rec = Recording(con)
    ingest.ensure_raw_tables(rec)
    assert [s for s in rec.statements if "duckdb_columns()" not in s] == [
        'alter table raw.focus_line_items add column if not exists "Tags" varchar',
        "create table if not exists raw.employee_keys (employee_id varchar primary key, employee_key varchar)",
    ]
    assert set(_raw_columns(con)["focus_line_items"]) == set(built["focus_line_items"])
