"""The work database: one writer at a time (a file lock), schemas, and running SQL files."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from pipeline.config.settings import SQL_DIR, Settings
from pipeline.errors import LockBusyError, one_line

SCHEMAS = ("raw", "config", "staging", "core", "marts", "audit")
log = logging.getLogger(__name__)


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
        with contextlib.suppress(OSError):  # who holds it is a courtesy; a full disk must not stop the run
            os.ftruncate(fd, 0)
            os.write(
                fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}".encode()
            )
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def run_in_progress(settings: Settings) -> str | None:
    """Who holds the run lock right now ('pid N since ...'), or None when no run is alive.

    Asks the kernel (a non-blocking shared flock), so a run that was killed is never 'alive'.
    """
    try:
        fd = os.open(settings.lock_file, os.O_RDONLY)
    except OSError:
        return None  # no lock file: no run ever took the lock here
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return Path(settings.lock_file).read_text(errors="replace").strip() or "a running costledger"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def building_files(settings: Settings) -> list[Path]:
    """Files a publish builds before its swap (and their WAL): leftovers once no run is alive."""
    return sorted(settings.warehouse.glob(".costledger.*.building.duckdb*"))


def clear_leftovers(settings: Settings) -> list[str]:
    """Remove what failed or killed runs left in the warehouse: half-built published files and
    their WAL, DuckDB's spill files in warehouse/.tmp. Call it holding the run lock (no other
    costledger process uses these then). Returns what was removed, for the log."""
    removed = []
    spill = settings.warehouse / ".tmp"
    leftovers = building_files(settings) + (sorted(spill.iterdir()) if spill.is_dir() else [])
    for p in leftovers:
        try:
            size = p.stat().st_size
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        except FileNotFoundError:
            continue
        removed.append(f"{p} ({size:,} bytes)")
    if removed:
        log.info("removed what an earlier run left behind: %s", "; ".join(removed))
    return removed


_DUCKDB_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


def _describe_process(exe: str, pid: int) -> str:
    """'pid 123: python3 analysis.py' from /proc when we can see it, else DuckDB's words."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    except OSError:
        argv = []
    if argv:
        argv[0] = Path(argv[0]).name
    cmd = one_line(" ".join(" ".join(a.split()) for a in argv) or Path(exe).name or exe, limit=100)
    return f"pid {pid}: {cmd}"


def work_db_holder(message: str) -> str | None:
    """The process named by DuckDB's 'Could not set lock' error, or None for any other error."""
    m = _DUCKDB_HOLDER.search(message)
    return _describe_process(m.group(1), int(m.group(2))) if m else None


def _connect(settings: Settings, deadline: float, waited_from: float) -> duckdb.DuckDBPyConnection:
    """Open work.duckdb read-write, waiting while another process (an analyst, even read-only)
    has it open: DuckDB allows one writer or many readers, never both."""
    while True:
        try:
            return duckdb.connect(str(settings.work_db))
        except duckdb.IOException as exc:
            holder = work_db_holder(str(exc))
            if holder is None:
                raise
            if time.monotonic() >= deadline:
                raise LockBusyError(
                    f"{settings.work_db} is open in another process ({holder}); waited "
                    f"{time.monotonic() - waited_from:.0f}s — close that connection (to read the ledger, open "
                    f"{settings.published_db.name} instead) and run again"
                ) from None
            time.sleep(0.2)


def apply_resource_limits(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Bounded memory by design (docs/scaling.md): DuckDB's buffer pool under duckdb.memory_limit,
    spilling big loads, joins and sorts to warehouse/.tmp (at most duckdb.max_temp_directory_size)
    instead of taking the machine; results streamed rather than buffered in insertion order."""
    cfg = settings.duckdb
    con.execute("set memory_limit = ?", [f"{max(1, int(cfg.memory_limit) // 2**20)}MiB"])
    con.execute("set temp_directory = ?", [str(settings.warehouse / ".tmp")])
    con.execute(
        "set max_temp_directory_size = ?", [f"{max(1, int(cfg.max_temp_directory_size) // 2**20)}MiB"]
    )
    con.execute(f"set preserve_insertion_order = {str(bool(cfg.preserve_insertion_order)).lower()}")
    if cfg.threads:
        con.execute(f"set threads = {int(cfg.threads)}")


@contextlib.contextmanager
def in_file_order(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Keep insertion order while a reader numbers lines by their order in the file (rowid), then
    go back to the run's setting: the one place the ledger relies on a table's order."""
    was = con.execute("select current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("set preserve_insertion_order = true")
    try:
        yield
    finally:
        con.execute(f"set preserve_insertion_order = {str(bool(was)).lower()}")


def connect_work(settings: Settings, timeout: float = 0.0) -> duckdb.DuckDBPyConnection:
    """Open the work database read-write with its schemas and audit tables in place.

    Waits up to `timeout` seconds for another process to close it, then raises LockBusyError.
    """
    settings.warehouse.mkdir(parents=True, exist_ok=True)
    now = time.monotonic()
    con = _connect(settings, now + timeout, now)
    try:
        # A missing table must be an error, never a Python variable of the same name.
        con.execute("set python_enable_replacements = false")
        con.execute("set TimeZone = 'UTC'")
        apply_resource_limits(con, settings)
        for schema in SCHEMAS:
            con.execute(f"create schema if not exists {schema}")
        run_sql_script(con, SQL_DIR / "audit" / "create_audit_tables.sql")
        upgrade_audit_tables(con)
    except BaseException:
        con.close()
        raise
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
    """The run lock plus an open work-database connection, closed on exit.

    One deadline covers both waits: for the run lock, then for any other process that has
    work.duckdb open. Under the lock, leftovers of failed or killed runs are removed first.
    """
    timeout = settings.lock_timeout_seconds if timeout is None else timeout
    deadline = time.monotonic() + timeout
    with run_lock(settings, timeout):
        clear_leftovers(settings)
        con = connect_work(settings, max(0.0, deadline - time.monotonic()))
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
