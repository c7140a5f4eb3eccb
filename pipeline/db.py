"""The work database: one writer at a time (a file lock), schemas, and running SQL files."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from pipeline.errors import LockBusyError
from pipeline.settings import SQL_DIR, Settings

SCHEMAS = ("raw", "config", "staging", "core", "marts", "audit")


@contextlib.contextmanager
def run_lock(settings: Settings, timeout: float | None = None) -> Iterator[None]:
    """Hold the warehouse's run lock; wait up to `timeout` seconds, then raise LockBusyError.

    The lock is an flock on warehouse/.work.lock, so a crashed run never leaves it held.
    """
    settings.warehouse.mkdir(parents=True, exist_ok=True)
    timeout = settings.lock_timeout_seconds if timeout is None else timeout
    fd = os.open(settings.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = Path(settings.lock_file).read_text(errors="replace").strip() or "unknown"
                    raise LockBusyError(
                        f"another costledger run holds {settings.work_db} ({holder}); "
                        f"waited {timeout:.0f}s — try again when it has finished"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def connect_work(settings: Settings) -> duckdb.DuckDBPyConnection:
    """Open the work database read-write with its schemas and audit tables in place."""
    settings.warehouse.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.work_db))
    # A missing table must be an error, never a Python variable of the same name.
    con.execute("set python_enable_replacements = false")
    con.execute("set TimeZone = 'UTC'")
    # Bounded memory: big loads and joins spill to warehouse/.tmp instead of taking the machine.
    con.execute("set memory_limit = ?", [os.environ.get("COSTLEDGER_DUCKDB_MEMORY_LIMIT", "8GB")])
    con.execute("set temp_directory = ?", [str(settings.warehouse / ".tmp")])
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    run_sql_script(con, SQL_DIR / "audit" / "create_audit_tables.sql")
    upgrade_audit_tables(con)
    return con


# Columns added after the first release: (table, column, type). A warehouse built before them
# gets them in place; its rows keep working (NULL where nothing was recorded).
ADDED_COLUMNS = (
    ("files", "delivery", "varchar"),
    ("files", "booked_sha256", "varchar"),
    ("files", "duplicate_of", "varchar"),
    ("rejected_rows", "cost", "decimal(38,10)"),
    ("rejected_rows", "currency", "varchar"),
)


def upgrade_audit_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Add the audit columns an older warehouse lacks, once, and fill what can be derived."""
    have = {
        (t, c)
        for t, c in con.execute(
            "select table_name, column_name from information_schema.columns where table_schema = 'audit'"
        ).fetchall()
    }
    for table, column, ctype in ADDED_COLUMNS:
        if (table, column) in have:
            continue
        con.execute(f"alter table audit.{table} add column {column} {ctype}")
        if (table, column) == ("files", "booked_sha256"):
            # What is on the books under each path: the content of its last successful load, unless
            # it was dropped since (the only way the old version took rows out).
            con.execute(
                """
                update audit.files f set booked_sha256 = l.file_sha256
                from (
                    select source_file, arg_max(file_sha256, load_id) as file_sha256
                    from audit.load_log where action in ('loaded', 'replaced') group by source_file
                ) l
                where f.source_file = l.source_file and f.status <> 'dropped'
                """
            )


@contextlib.contextmanager
def work_db(settings: Settings, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """The run lock plus an open work-database connection, closed on exit."""
    with run_lock(settings, timeout):
        con = connect_work(settings)
        try:
            yield con
        finally:
            con.close()


def read_sql(path: Path) -> str:
    return Path(path).read_text(encoding="utf-8")


def run_sql_script(con: duckdb.DuckDBPyConnection, path: Path, params: dict | None = None) -> None:
    """Run a file of `;`-separated statements (DDL); statements here never contain literal `;`."""
    for stmt in read_sql(path).split(";"):
        body = "\n".join(line for line in stmt.splitlines() if not line.strip().startswith("--")).strip()
        if body:
            con.execute(body, params or {}) if params else con.execute(body)


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> list[dict]:
    cur = con.execute(sql, params) if params is not None else con.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
