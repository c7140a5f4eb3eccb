"""The life of a run in audit.runs, told truthfully; and whether a run has anything to do.

Statuses (sql/audit/create_audit_tables.sql):

    running      a process holding the run lock is at work on it
    waiting      between two steps that an orchestrator runs as separate tasks (Airflow)
    publishing   building the published file; the published file's own copy of audit.runs
                 shows the run that built it with this status (the copy is taken before the swap)
    succeeded    written only after the swap (or when there was nothing new to publish)
    failed       a step raised; the message is the one line the user saw
    interrupted  the row said running/publishing but no process held the run lock any more
                 (killed, crashed, machine lost): recorded by the next run that takes the lock,
                 shown so by `costledger status` without writing anything

"Nothing new": a full run whose landing files (as booked in audit.files), config and code are
those of the last successful publish, and whose published file is still the one that publish
left, has nothing to gate, transform or publish.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
from pathlib import Path

import duckdb

import pipeline
from pipeline.clock import now_utc
from pipeline.config.settings import SQL_DIR, Settings

log = logging.getLogger(__name__)

ACTIVE = ("running", "publishing")  # a live process holding the lock owns such a row
FINISHED = ("succeeded", "failed", "interrupted")


def record(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    status: str,
    lo=None,
    hi=None,
    message: str | None = None,
    timings: dict | None = None,
    inputs_fingerprint: str | None = None,
    published_stamp: str | None = None,
) -> None:
    """Insert or update the run's row (one statement: committed on its own)."""
    finished = now_utc() if status in FINISHED else None
    con.execute(
        """
        insert into audit.runs as t (run_id, started_at, finished_at, status, month_from, month_to, message,
                                     timings, inputs_fingerprint, published_stamp)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        on conflict (run_id) do update set
            finished_at = excluded.finished_at, status = excluded.status,
            month_from = coalesce(excluded.month_from, t.month_from), month_to = coalesce(excluded.month_to, t.month_to),
            message = excluded.message, timings = coalesce(excluded.timings, t.timings),
            inputs_fingerprint = coalesce(excluded.inputs_fingerprint, t.inputs_fingerprint),
            published_stamp = coalesce(excluded.published_stamp, t.published_stamp)
        """,
        [
            run_id,
            now_utc(),
            finished,
            status,
            lo,
            hi,
            message,
            json.dumps(timings) if timings else None,
            inputs_fingerprint,
            published_stamp,
        ],
    )


def published_builder(settings: Settings) -> str | None:
    """The run that built the published file (its own copy of audit.runs says 'publishing')."""
    if not settings.published_db.exists():
        return None
    try:
        con = duckdb.connect(str(settings.published_db), read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute(
            "select run_id from audit.runs where status = 'publishing' order by started_at desc limit 1"
        ).fetchall()
        return row[0][0] if row else None
    except duckdb.Error:
        return None
    finally:
        con.close()


def interrupted_message(status: str, run_id: str, builder: str | None) -> str:
    if status == "publishing" and builder == run_id:
        return "interrupted after its swap: the published file is this run's"
    if status == "publishing":
        return "interrupted while publishing: the published file stayed as it was"
    return "interrupted: no process held the run lock any more (killed or crashed); nothing was published"


def mark_interrupted(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> list[str]:
    """Call holding the run lock: every other run still marked running or publishing has no
    process behind it any more. Record them as interrupted; return their ids."""
    stale = con.execute(
        "select run_id, status from audit.runs where status in ('running', 'publishing') and run_id <> ?",
        [run_id],
    ).fetchall()
    if not stale:
        return []
    builder = published_builder(settings) if any(s == "publishing" for _, s in stale) else None
    for rid, status in stale:
        msg = f"{interrupted_message(status, rid, builder)} (found by {run_id})"
        con.execute(
            "update audit.runs set status = 'interrupted', finished_at = ?, message = ? where run_id = ?",
            [now_utc(), msg, rid],
        )
        log.info("run %s was %s but no process held the run lock: recorded as interrupted", rid, status)
    return [rid for rid, _ in stale]


# --- has anything changed since the last publish? ----------------------------------------------


@functools.cache
def code_fingerprint() -> str:
    """The SQL models, the package's code, input rules and version: a new costledger rebuilds."""
    h = hashlib.sha256(f"costledger {pipeline.__version__}".encode())
    pkg = Path(pipeline.__file__).resolve().parent
    # *.yml: the input rules beside the ingest modules (pipeline/ingest/<source>.rules.yml)
    for root, pattern in ((SQL_DIR, "*"), (pkg, "*.py"), (pkg, "*.yml")):
        for p in sorted(root.rglob(pattern)):
            if p.is_file() and "__pycache__" not in p.parts:
                h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def inputs_fingerprint(con: duckdb.DuckDBPyConnection, settings: Settings) -> str:
    """What a full run publishes from: the landing files as booked, the config, the code."""
    from pipeline.config.tables import settings_fingerprint
    from pipeline.ingest import MODULES

    h = hashlib.sha256()
    h.update(code_fingerprint().encode())
    h.update(settings_fingerprint(settings).encode())
    # the pseudonym key shapes the people tables; only a keyed digest of it is kept
    if settings.pii_key:
        h.update(hmac.new(settings.pii_key, b"costledger inputs fingerprint", "sha256").digest())
    files = con.execute(
        """
        select source_file, source, file_sha256, status, config_fingerprint, load_id
        from audit.files order by source_file
        """
    ).fetchall()
    h.update(repr(files).encode())
    tables = [m.RAW_TABLE for m in MODULES.values()] + ["raw.employee_keys"]
    # named and ordered: a union's rows come in any order (preserve_insertion_order is off)
    counts = con.execute(
        " union all ".join(f"select '{t}' as t, count(*) from {t}" for t in tables) + " order by t"
    ).fetchall()
    h.update(repr(counts).encode())
    return h.hexdigest()


def published_stamp(path: Path) -> str | None:
    """size:mtime_ns:inode of the published file; another file (or a touched one) differs."""
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def nothing_new_since(
    con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, fingerprint: str
) -> str | None:
    """The run that published what would be published now, or None when there is work to do.

    Only when the latest earlier run succeeded (a failed or interrupted one means the last
    attempt did not finish), with the same fingerprint, and the published file is still the
    one it left. The caller skips only full runs (no month range, no --force).
    """
    last = con.execute(
        """
        select run_id, status, inputs_fingerprint, published_stamp from audit.runs
        where run_id <> ? order by started_at desc limit 1
        """,
        [run_id],
    ).fetchall()
    if not last:
        return None
    prev_id, status, prev_fp, stamp = last[0]
    if status != "succeeded" or prev_fp != fingerprint or stamp is None:
        return None
    if published_stamp(settings.published_db) != stamp:
        return None
    if con.execute("select count(*) from audit.files where status = 'refused'").fetchone()[0]:
        return None  # a refused file stops the publish: the run must get there and say so
    # the run that published it: the first one to leave this stamp behind
    first = con.execute(
        "select run_id from audit.runs where published_stamp = ? and status = 'succeeded' order by started_at limit 1",
        [stamp],
    ).fetchall()
    return first[0][0] if first else prev_id
