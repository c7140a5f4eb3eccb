"""`costledger status`: what the ledger holds, what was refused, what is missing, how checks went.

Reads the work database read-only when no run holds it, else the published file, so status
never waits for (or blocks) a run. A run marked running or publishing while no process holds the
run lock (the kernel's flock says so) is shown as interrupted: it was killed or crashed.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from pipeline.app.runs import ACTIVE
from pipeline.config.settings import Settings
from pipeline.db import run_in_progress


def _open(settings: Settings) -> tuple[duckdb.DuckDBPyConnection | None, str]:
    if settings.work_db.exists():
        try:
            return duckdb.connect(str(settings.work_db), read_only=True), "work database"
        except duckdb.Error:
            pass  # a run holds it for writing
    if settings.published_db.exists():
        return duckdb.connect(
            str(settings.published_db), read_only=True
        ), "published file (the work database is in use by a run or another process)"
    return None, ""


def _columns(con, table: str) -> set[str]:
    schema, name = table.split(".")
    return {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()
    }


def status_text(settings: Settings) -> str:
    from pipeline.ingest import rejected_by_file, rejected_text

    where = "" if settings.landing.is_dir() else "  (DOES NOT EXIST: is the share mounted?)"
    out = [f"landing:   {settings.landing}{where}", f"warehouse: {settings.warehouse}"]
    if settings.published_db.exists():
        ts = datetime.fromtimestamp(settings.published_db.stat().st_mtime).strftime("%Y-%m-%d %H:%M:%S")
        out.append(f"published: {settings.published_db} ({ts})")
    else:
        out.append("published: nothing yet")
    alive = run_in_progress(settings)
    if alive:
        out.append(f"a run is in progress ({alive})")
    con, where = _open(settings)
    if con is None:
        out.append("no run yet: `costledger run` (or `costledger demo`)")
        return "\n".join(out)
    try:
        out.append(f"(read from the {where})")
        out.append("")
        out.append("files by source and status:")
        for source, status, n, size in con.execute(
            "select source, status, count(*), sum(size_bytes) from audit.files group by all order by 1, 2"
        ).fetchall():
            out.append(f"  {source:<18}{status:<10}{n:>6} file(s) {int(size or 0):>14,} bytes")
        problems = con.execute(
            "select status, source_file, message from audit.files where status in ('refused', 'missing', 'dropped') order by 1, 2"
        ).fetchall()
        if problems:
            out.append("")
            out.append("needs attention:")
            for status, rel, msg in problems:
                out.append(f"  {status:<8} {rel}: {msg}")
        if "duplicate_of" in _columns(con, "audit.files"):
            dups = con.execute(
                "select source_file, duplicate_of from audit.files where status = 'duplicate' order by 1"
            ).fetchall()
            if dups:
                out.append("")
                out.append("warnings (not booked, so not counted twice):")
                for rel, of in dups:
                    out.append(f"  duplicate {rel}: same content as {of}, booked once under that path")
        if "cost" in _columns(con, "audit.rejected_rows"):
            rej = rejected_by_file(con)
            if rej:
                out.append("")
                out.append("rejected rows (audit.rejected_rows; the cost they carried is not in the ledger):")
                for r in rej:
                    out.append(f"  {rejected_text(r)}")
        if _columns(con, "audit.unmapped_time_values"):
            unmapped = con.execute(
                "select field, value, time_entries, files, first_file from audit.unmapped_time_values "
                "order by field, time_entries desc, value limit 20"
            ).fetchall()
            if unmapped:
                out.append("")
                out.append(
                    "time-log values with no mapping (booked to unallocated; map them in "
                    "activities.yaml or models.yaml):"
                )
                for field, value, n, files, first in unmapped:
                    where = f"{first}" + (f" and {files - 1} more file(s)" if files > 1 else "")
                    out.append(f"  {field} '{value}': {n} time entr{'y' if n == 1 else 'ies'} ({where})")
        if _columns(con, "audit.forgotten_files"):
            forgotten = con.execute(
                "select source_file, rows_removed, cost, currency, forgotten_at, forgotten_by, reason "
                "from audit.forgotten_files order by forgotten_at desc limit 10"
            ).fetchall()
            if forgotten:
                out.append("")
                out.append("forgotten (taken out of the books by `costledger forget`):")
                for rel, rows, cost, ccy, when, who, reason in forgotten:
                    money = f", {ccy} {cost:,.2f}" if cost is not None else ""
                    out.append(
                        f"  {rel}: {rows} row(s){money} on {when:%Y-%m-%d %H:%M} by {who or 'unknown'}: {reason}"
                    )
        runs = con.execute(
            "select run_id, status, started_at, finished_at, message from audit.runs order by started_at desc limit 5"
        ).fetchall()
        if runs:
            out.append("")
            out.append("last runs:")
            for run_id, status, started, _finished, msg in runs:
                if status == "publishing" and where.startswith("published"):
                    status, msg = (
                        "published",
                        "built this published file (its final status is in the work database)",
                    )
                elif status in ACTIVE and not alive:
                    status, msg = (
                        "interrupted",
                        f"was {status}, but no process holds the run lock (killed or crashed)",
                    )
                out.append(f"  {run_id}  {status:<11} {started:%Y-%m-%d %H:%M:%S}  {msg or ''}")
            last = runs[0][0]
            q = con.execute(
                "select severity, success, count(*) from audit.quality_results where run_id = ? group by all order by 1, 2",
                [last],
            ).fetchall()
            if q:
                out.append("")
                out.append(f"quality checks of {last}:")
                for severity, success, n in q:
                    out.append(f"  {severity:<9}{'passed' if success else 'FAILED':<8}{n:>4}")
                for name, table, observed in con.execute(
                    "select check_name, table_name, observed from audit.quality_results where run_id = ? and not success order by severity, check_name",
                    [last],
                ).fetchall():
                    out.append(f"    failed: {name} on {table}: {observed}")
    except duckdb.Error as exc:
        out.append(f"(status incomplete: {str(exc).splitlines()[0]})")
    finally:
        con.close()
    return "\n".join(out)
