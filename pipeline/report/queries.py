"""The report's queries: one SQL file each in sql/report/, run against the published ledger.

A query is named by its file (`dicts(con, "unallocated_groups", {...})` runs
sql/report/unallocated_groups.sql); parameters are bound, never formatted into the SQL.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pipeline.config.settings import SQL_DIR
from pipeline.db import read_sql
from pipeline.report.errors import ReportError

REPORT_SQL = SQL_DIR / "report"


@cache
def query_sql(name: str) -> str:
    return read_sql(REPORT_SQL / f"{name}.sql").strip().rstrip(";")


def dicts(con, name: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows of sql/report/<name>.sql as dicts."""
    cur = con.execute(query_sql(name), params or {})
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def connect_published(settings):
    """The published ledger, read-only; a one-line ReportError when there is none or it will not open."""
    import duckdb

    path = settings.published_db
    if not path.is_file():
        raise ReportError(
            f"{path}: no published ledger yet; run `costledger run` (or `costledger demo`) first"
        )
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise ReportError(
            f"{path}: cannot open the published ledger read-only: {str(exc).splitlines()[0]}"
        ) from None


def tables(con) -> set[str]:
    """schema.table of everything in the file (older published files lack some tables)."""
    rows = con.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
    return {r[0] for r in rows}


def columns(con, table: str) -> set[str]:
    schema, name = table.split(".")
    return {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()
    }
