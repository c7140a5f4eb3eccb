"""Publish: copy marts and audit into a brand-new DuckDB file, then os.replace() it over
warehouse/costledger.duckdb.

Analysts open the published file read-only. On POSIX, os.replace() swaps the directory entry
atomically: an open connection keeps reading the old inode until it reconnects, a new one
sees the new file whole. Nothing is ever written into the published file in place.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path

import duckdb

from pipeline.config.settings import Settings
from pipeline.crashpoints import crashpoint
from pipeline.errors import ResourceError
from pipeline.transform.contracts import load_contracts, published_tables

log = logging.getLogger(__name__)

# A view is sized by the table it reads (marts.cost_line_items selects from the allocated lines).
SIZE_PROXY = {"marts.cost_line_items": "core.allocated_line_items"}
SIZE_MARGIN = 1.25
SIZE_OVERHEAD = 2 * 1024 * 1024  # file header, catalog and metadata blocks


def _literal(text: str) -> str:
    # COMMENT ON takes a literal, not a bound parameter; the text is the contract's own
    return "'" + text.replace("'", "''") + "'"


def describe(con: duckdb.DuckDBPyConnection, target: str, name: str) -> None:
    """COMMENT ON the table and every column of `target` from the contract of `name`, so that
    duckdb_tables(), duckdb_columns() and any SQL client show what they mean."""
    contract = load_contracts()[name]
    con.execute(
        f"comment on table {target} is {_literal(f'{contract.description} Grain: {contract.grain}.')}"
    )
    present = {r[0] for r in con.execute(f"describe {target}").fetchall()}
    for col in contract.columns:
        if col.name in present:
            con.execute(f"comment on column {target}.{col.name} is {_literal(col.description)}")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def building_path(settings: Settings, run_id: str) -> Path:
    return settings.warehouse / f".costledger.{run_id}.building.duckdb"


def expected_size(con: duckdb.DuckDBPyConnection) -> int:
    """Bytes the published file is expected to take: the storage blocks of the tables it copies
    (DuckDB's own, so compression is counted) plus what is not written to blocks yet, with a margin."""
    block_size = con.execute(
        "select block_size from pragma_database_size() where database_name = current_database()"
    ).fetchone()[0]
    tables, views = [], 0
    for name in published_tables():
        proxy = SIZE_PROXY.get(name, name)
        kind = _kind(con, proxy)
        if kind == "BASE TABLE":
            tables.append(proxy)
        elif _kind(con, name) == "VIEW":  # no table to measure: every value at 8 bytes
            rows = con.execute(f"select count(*) from {name}").fetchone()[0]
            cols = con.execute(f"select count(*) from (describe {name})").fetchone()[0]
            views += rows * cols * 8
    raw = views
    if tables:
        union = " union all ".join(
            f"select '{t}' as t, block_id, persistent, count from pragma_storage_info('{t}')"
            for t in dict.fromkeys(tables)
        )
        # per table: its own blocks (a fresh file gives every table at least one), plus the values
        # not written to blocks yet (small tables before a checkpoint) at 16 bytes each at most
        per_table = con.execute(
            f"""
            select greatest(count(distinct block_id) filter (where persistent and block_id >= 0), 1),
                   coalesce(sum(count) filter (where not persistent), 0)
            from ({union}) group by t
            """
        ).fetchall()
        raw += sum(blocks * block_size + pending * 16 for blocks, pending in per_table)
    return int(raw * SIZE_MARGIN) + SIZE_OVERHEAD


def _kind(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    schema, table = name.split(".")
    row = con.execute(
        "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return row[0][0] if row else None


def check_free_space(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """Fail early, naming the folder and the space needed, when the published file cannot fit
    beside the old one (which stays until the swap). Returns the bytes expected."""
    need = expected_size(con)
    st = os.statvfs(settings.warehouse)
    free = st.f_bavail * st.f_frsize
    if free < need:
        raise ResourceError(
            f"publish: not enough free space in {settings.warehouse} to build the published file: "
            f"needs about {_mb(need)}, {_mb(free)} free; free space there (the ledger published "
            "before stays as it was) and run again"
        )
    return need


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:,.1f} MB"


# Published tables with one row per line and month: an incremental run replaces only their changed
# months in a copy of the previous file; every other published table is small and copied whole.
MONTH_GRAINED = ("marts.cost_line_items",)


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"describe select * from {relation}").fetchall()]


def _same_schema(con: duckdb.DuckDBPyConnection) -> str | None:
    """None when the attached previous file (pub) holds every published table with the columns
    its source has now; else what differs."""
    present = {
        f"{r[0]}.{r[1]}"
        for r in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'pub'"
        ).fetchall()
    }
    for name, source in published_tables().items():
        if name not in present:
            return f"{name} is not in the previous file"
        if _columns(con, f"pub.{name}") != _columns(con, source):
            return f"{name} has other columns than its contract now"
    return None


def _fill_full(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema pub.marts")
    con.execute("create schema pub.audit")
    # what is published, and from which relation, is declared in each table's contract
    # (`published`, `published_from`: sql/<schema>/<table>.yml)
    for name, source in published_tables().items():
        months = _ledger_months(con) if name in MONTH_GRAINED else None
        if months:
            # one month at a time: each month's lines are joined back to their shares on their
            # own, so the join holds one month of lines, not the whole ledger's (memory stays
            # bounded as the ledger grows, and nothing spills at 5M lines)
            con.execute(f"create table pub.{name} as select * from {source} limit 0")
            for month in months:
                listed = f"date '{month.isoformat()}'"
                con.execute(f"insert into pub.{name} by name {months_select(name, source, listed)}")
        else:
            con.execute(f"create table pub.{name} as select * from {source}")
        describe(con, f"pub.{name}", name)


def _ledger_months(con: duckdb.DuckDBPyConnection) -> list | None:
    """The months of the ledger's rows (the month-partitioned allocation and the people groups),
    or None when a row has no month (then the month-grained table is built in one statement)."""
    rows = con.execute(
        """
        select month from core.allocated_line_items group by month
        union
        select month from core.people_cost_rows group by month
        """
    ).fetchall()
    months = sorted(r[0] for r in rows if r[0] is not None)
    return None if len(months) < len(rows) else months


def months_select(name: str, source: str, listed: str) -> str:
    """The rows of `source` in the listed months, computed from those months only.

    A month-grained view (marts.cost_line_items) joins and windows its lines by line_id, which
    never crosses a month: its SQL is run with the month-partitioned core tables narrowed to the
    listed months, so only they are joined back (a filter on the view itself would not reach
    through its windows). Anything else is filtered as it is."""
    contract = load_contracts().get(source)
    if contract is None or contract.materialized != "view" or contract.sql_path is None:
        return f"select * from {source} where month in ({listed})"
    from pipeline.transform.runner import model_sql, narrow_to_months

    sql = narrow_to_months(model_sql(contract), f"month in ({listed})")
    return f"select * from (\n{sql}\n) where month in ({listed})"


def _fill_months(con: duckdb.DuckDBPyConnection, months: list) -> None:
    """The previous file is attached as pub: replace the changed months of the month-grained
    tables, every other table whole."""
    listed = ", ".join(f"date '{m.isoformat()}'" for m in months) or "null"
    for name, source in published_tables().items():
        if name in MONTH_GRAINED:
            con.execute(f"delete from pub.{name} where month in ({listed})")
            if months:
                con.execute(f"insert into pub.{name} by name {months_select(name, source, listed)}")
        else:
            con.execute(f"create or replace table pub.{name} as select * from {source}")
        describe(con, f"pub.{name}", name)


def publish_file(
    con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, months: list | None = None
) -> tuple[Path, str]:
    """Build the published database and swap it in; returns (its path, 'full' or 'months').

    `months` (an incremental run whose transform recomputed only those months, on top of what
    the current published file holds): the building file starts as a copy of the published
    one, and only those months of the month-grained tables are replaced in it. Without
    `months`, or when the previous file is missing or its tables differ from the contracts, the
    file is built anew from the work database. Either way it is a new file, swapped in whole.

    On any failure the half-built file and its WAL are removed at once (a killed run's are
    removed by the next run: pipeline.db.clear_leftovers).
    """
    target = settings.published_db
    tmp = building_path(settings, run_id)
    wal = Path(str(tmp) + ".wal")
    for p in (tmp, wal):
        p.unlink(missing_ok=True)
    need = check_free_space(con, settings)
    attached = False
    mode = "full"
    try:
        if months is not None and target.exists():
            shutil.copyfile(target, tmp)
            con.execute("attach ? as pub", [str(tmp)])
            attached = True
            differs = _same_schema(con)
            if differs is None:
                mode = "months"
                _fill_months(con, months)
            else:
                log.info("publish: building the file anew: %s", differs)
                con.execute("detach pub")
                attached = False
                tmp.unlink()
        if mode == "full":
            con.execute("attach ? as pub", [str(tmp)])
            attached = True
            _fill_full(con)
        con.execute("checkpoint pub")
        con.execute("detach pub")
        attached = False
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        log.info(
            "built %s (%s): %s bytes (expected at most %s)",
            tmp.name,
            "changed months replaced in a copy" if mode == "months" else "anew",
            f"{tmp.stat().st_size:,}",
            f"{need:,}",
        )
        crashpoint("mid_publish")
        os.replace(tmp, target)
    except BaseException:
        if attached:
            with contextlib.suppress(duckdb.Error):
                con.execute("detach pub")
        for p in (tmp, wal):
            with contextlib.suppress(OSError):
                p.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):
        _fsync_dir(target.parent)
    return target, mode
