"""Ingestion: every landing file of a source into raw.<table>, with lineage and re-delivery rules.

A file re-delivered at the same path with new content replaces what it contributed (its raw
rows and rejected rows are deleted and re-read in one transaction); an identical re-delivery
is a no-op; a file that disappears keeps its booked rows and is marked missing. A file that
cannot be read as a whole is refused: nothing of it is booked, audit.load_log says why, and
the run stops before publishing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType

import duckdb

from pipeline.config_tables import config_fingerprint
from pipeline.errors import InputError
from pipeline.ingest import budgets, focus, fx_rates, hr_rates, invoices, metrics, timesheets
from pipeline.ingest.common import LINEAGE, drop_temp, now_utc, q
from pipeline.landing import LandingFile, scan
from pipeline.settings import Settings

# Load order matters only for readability of logs; every source is independent at load time.
MODULES: dict[str, ModuleType] = {
    "focus": focus,
    "invoices": invoices,
    "hr_rates": hr_rates,
    "timesheets": timesheets,
    "fx_rates": fx_rates,
    "budgets": budgets,
    "metrics": metrics,
}
SOURCES: tuple[str, ...] = tuple(MODULES)


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every raw table (text columns + lineage), so staging views always bind."""
    for mod in MODULES.values():
        cols = ", ".join(f"{q(c)} varchar" for c in mod.RAW_COLUMNS)
        con.execute(
            f"create table if not exists {mod.RAW_TABLE} ({cols}, load_id bigint, source_file varchar, "
            "source_row bigint, file_sha256 varchar)"
        )
    con.execute(
        "create table if not exists raw.employee_keys (employee_id varchar primary key, employee_key varchar)"
    )


@dataclass
class SourcePlan:
    source: str
    to_load: list[LandingFile] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    pending: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "to_load": [f.rel for f in self.to_load],
            "unchanged": self.unchanged,
            "missing": self.missing,
            "pending": self.pending,
            "dropped": self.dropped,
        }


def _fingerprint(settings: Settings, mod: ModuleType) -> str | None:
    parts = getattr(mod, "CONFIG_PARTS", ())
    return config_fingerprint(settings, *parts) if parts else None


def plan_source(con: duckdb.DuckDBPyConnection, settings: Settings, source: str) -> SourcePlan:
    """Compare the landing folder of one source with audit.files."""
    mod = MODULES[source]
    files = scan(settings, source)
    known = {
        r[0]: (r[1], r[2], r[3])
        for r in con.execute(
            "select source_file, file_sha256, status, config_fingerprint from audit.files where source = ?",
            [source],
        ).fetchall()
    }
    plan = SourcePlan(source)
    if hasattr(mod, "plan"):
        files, plan.pending, plan.dropped = mod.plan(settings, files)
        plan.dropped = {
            rel: why for rel, why in plan.dropped.items() if rel in known and known[rel][1] != "dropped"
        }
    fp = _fingerprint(settings, mod)
    present = {f.rel for f in files} | set(plan.pending) | set(plan.dropped)
    for f in files:
        prev = known.get(f.rel)
        if prev and prev[0] == f.sha256 and prev[1] == "loaded" and prev[2] == fp:
            plan.unchanged.append(f.rel)
        else:
            plan.to_load.append(f)
    plan.missing = sorted(
        rel for rel, (_, status, _) in known.items() if rel not in present and status != "missing"
    )
    return plan


def _record_file(con, f_rel, source, sha, size, load_id, fp, status, message, loaded: bool) -> None:
    now = now_utc()
    con.execute(
        """
        insert into audit.files as t values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        on conflict (source_file) do update set
            source = excluded.source, file_sha256 = excluded.file_sha256, size_bytes = excluded.size_bytes,
            load_id = coalesce(excluded.load_id, t.load_id), config_fingerprint = excluded.config_fingerprint,
            status = excluded.status, last_loaded_at = coalesce(excluded.last_loaded_at, t.last_loaded_at),
            message = excluded.message
        """,
        [f_rel, source, sha, size, load_id, fp, status, now, now if loaded else None, message],
    )


def _log(con, load_id, run_id, source, rel, sha, size, action, in_file, read, rejected, message) -> None:
    con.execute(
        "insert into audit.load_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [load_id, run_id, source, rel, sha, size, action, in_file, read, rejected, now_utc(), message],
    )


def load_file(con: duckdb.DuckDBPyConnection, settings: Settings, f: LandingFile, run_id: str) -> dict:
    """Read one file and replace what it contributed before, atomically."""
    mod = MODULES[f.source]
    load_id = con.execute("select nextval('audit.load_id_seq')").fetchone()[0]
    existed = (
        con.execute(
            "select count(*) from audit.files where source_file = ? and status = 'loaded'", [f.rel]
        ).fetchone()[0]
        > 0
    )
    fp = _fingerprint(settings, mod)
    try:
        incoming = mod.read(con, settings, f, load_id)
    except InputError as exc:
        con.execute("begin transaction")
        _log(con, load_id, run_id, f.source, f.rel, f.sha256, f.size, "refused", None, 0, 0, str(exc))
        # A refused re-delivery keeps the rows of the last good version: nothing is dropped silently.
        _record_file(con, f.rel, f.source, f.sha256, f.size, None, fp, "refused", str(exc), loaded=False)
        con.execute("commit")
        return {"file": f.rel, "action": "refused", "message": str(exc), "rows_read": 0, "rows_rejected": 0}
    n_rej = incoming.rows_rejected
    n_read = incoming.rows_in_file - n_rej
    cols = ", ".join(q(c) for c in mod.RAW_COLUMNS)
    lineage = ", ".join(q(c) for c in LINEAGE)
    action = "replaced" if existed else "loaded"
    con.execute("begin transaction")
    try:
        con.execute(f"delete from {mod.RAW_TABLE} where source_file = ?", [f.rel])
        con.execute(
            f"insert into {mod.RAW_TABLE} ({cols}, {lineage}) select {cols}, ?, ?, source_row, ? from _incoming",
            [load_id, f.rel, f.sha256],
        )
        con.execute("delete from audit.rejected_rows where source_file = ?", [f.rel])
        con.execute(
            "insert into audit.rejected_rows select ?, ?, ?, ?, source_row, field, reason, ? from _rejects",
            [load_id, run_id, f.source, f.rel, now_utc()],
        )
        msg = f"{n_rej} row(s) rejected" if n_rej else ""
        _log(
            con,
            load_id,
            run_id,
            f.source,
            f.rel,
            f.sha256,
            f.size,
            action,
            incoming.rows_in_file,
            n_read,
            n_rej,
            msg,
        )
        _record_file(con, f.rel, f.source, f.sha256, f.size, load_id, fp, "loaded", msg, loaded=True)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        drop_temp(con)
    return {
        "file": f.rel,
        "action": action,
        "rows_read": n_read,
        "rows_rejected": n_rej,
        "rows_in_file": incoming.rows_in_file,
    }


def load_source(
    con: duckdb.DuckDBPyConnection, settings: Settings, source: str, run_id: str, progress=None
) -> dict:
    """Load every new or changed file of one source; record missing, pending and dropped files."""
    ensure_raw_tables(con)
    plan = plan_source(con, settings, source)
    mod = MODULES[source]
    results = []
    for i, f in enumerate(plan.to_load, 1):
        if progress:
            progress(f"{source}: {i}/{len(plan.to_load)} {f.rel}")
        results.append(load_file(con, settings, f, run_id))
    for rel in plan.missing:
        con.execute(
            "update audit.files set status = 'missing', message = 'no longer in landing/; its rows stay booked' where source_file = ?",
            [rel],
        )
        _log(
            con,
            None,
            run_id,
            source,
            rel,
            None,
            None,
            "missing",
            None,
            None,
            None,
            "no longer in landing/; its rows stay booked",
        )
    for rel, why in plan.pending.items():
        _log(con, None, run_id, source, rel, None, None, "pending", None, None, None, why)
    for rel, why in plan.dropped.items():
        con.execute("begin transaction")
        con.execute(f"delete from {mod.RAW_TABLE} where source_file = ?", [rel])
        con.execute("delete from audit.rejected_rows where source_file = ?", [rel])
        con.execute(
            "update audit.files set status = 'dropped', message = ? where source_file = ?", [why, rel]
        )
        _log(con, None, run_id, source, rel, None, None, "dropped", None, None, None, why)
        con.execute("commit")
    refused = [r for r in results if r["action"] == "refused"]
    summary = {
        "source": source,
        "files_loaded": sum(1 for r in results if r["action"] in ("loaded", "replaced")),
        "files_unchanged": len(plan.unchanged),
        "files_refused": len(refused),
        "files_missing": len(plan.missing),
        "files_pending": len(plan.pending),
        "files_dropped": len(plan.dropped),
        "rows_read": sum(r["rows_read"] for r in results),
        "rows_rejected": sum(r["rows_rejected"] for r in results),
        "refused": [r["message"] for r in refused],
    }
    return summary


def refused_files(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Messages of files currently refused (they block publishing until fixed or removed)."""
    return [
        r[0]
        for r in con.execute(
            "select message from audit.files where status = 'refused' order by source_file"
        ).fetchall()
    ]
