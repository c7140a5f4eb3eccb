"""Publish: copy marts and audit into a brand-new DuckDB file, then os.replace() it over
warehouse/costledger.duckdb.

Analysts open the published file read-only. On POSIX, os.replace() swaps the directory entry
atomically: an open connection keeps reading the old inode until it reconnects, a new one
sees the new file whole. Nothing is ever written into the published file in place.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import duckdb

from pipeline.settings import Settings

PUBLISHED_TABLES = (
    "marts.cost_line_items",
    "marts.monthly_leaf_cost",
    "marts.monthly_cost_rollup",
    "marts.budget_vs_actual",
    "marts.rule_coverage",
    "marts.data_freshness",
    "audit.load_log",
    "audit.rejected_rows",
    "audit.quality_results",
    "audit.reconciliation",
    "audit.runs",
    "audit.files",
)
# Published tables copied from another relation of the work database than their own name: time-log
# files are reconciled per month, not per file, in the published file (docs/privacy.md).
PUBLISHED_FROM = {"audit.reconciliation": "audit.reconciliation_published"}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_file(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> Path:
    """Build the published database anew from the work database and swap it in."""
    target = settings.published_db
    tmp = settings.warehouse / f".costledger.{run_id}.building.duckdb"
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    con.execute("attach ? as pub", [str(tmp)])
    try:
        con.execute("create schema pub.marts")
        con.execute("create schema pub.audit")
        for name in PUBLISHED_TABLES:
            con.execute(f"create table pub.{name} as select * from {PUBLISHED_FROM.get(name, name)}")
        con.execute("checkpoint pub")
    finally:
        con.execute("detach pub")
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    with contextlib.suppress(OSError):
        _fsync_dir(target.parent)
    return target
