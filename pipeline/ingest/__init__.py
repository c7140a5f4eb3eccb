"""Ingestion: every landing file of a source into raw.<table>, with lineage and re-delivery rules.

A file re-delivered at the same path with new content replaces what it contributed (its raw
rows and rejected rows are deleted and re-read in one transaction); an identical re-delivery
is a no-op; a file that disappears keeps its booked rows and is marked missing until a person
runs `costledger forget`. One content is booked once: a file whose sha256 is already on the
books under another path is recorded as a duplicate of that path; when the booked path is gone
and a copy remains, the booking moves to the copy. A file that cannot be read as a whole is
refused: nothing of it is booked (its previous version stays), audit.load_log says why, and
the run stops before publishing. So is a file with more than `ingest.max_reject_share` of its
rows rejected, and one whose rows read + rejected differ from the lines counted on its bytes.
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import duckdb

from pipeline.clock import now_utc
from pipeline.config.settings import Settings
from pipeline.config.tables import config_fingerprint
from pipeline.crashpoints import crashpoint
from pipeline.errors import CostledgerError, InputError
from pipeline.ingest import (
    assets,
    budgets,
    business_metrics,
    focus,
    fx_rates,
    hr_loadings,
    hr_rates,
    invoices,
    metrics,
    timesheets,
)
from pipeline.ingest.common import LINEAGE, NotOneRead, drop_temp, q
from pipeline.ingest.native import aws_cur, azure_cost, contract_commitments, gcp_billing
from pipeline.landing.prescan import exact_records, kind_of
from pipeline.landing.walk import (
    SOURCE_FOLDERS,
    ChangedWhileRead,
    FileStat,
    LandingFile,
    landing_root,
    opened,
    shown,
    survey,
)

# Load order matters only for readability of logs; every source is independent at load time.
MODULES: dict[str, ModuleType] = {
    "focus": focus,
    "aws_cur": aws_cur,
    "gcp_billing": gcp_billing,
    "azure_cost": azure_cost,
    "focus_commitments": contract_commitments,
    "invoices": invoices,
    "hr_rates": hr_rates,
    "hr_loadings": hr_loadings,
    "timesheets": timesheets,
    "fx_rates": fx_rates,
    "budgets": budgets,
    "metrics": metrics,
    "assets": assets,
    "business_metrics": business_metrics,
}
SOURCES: tuple[str, ...] = tuple(MODULES)


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every raw table (text columns + lineage), so staging views always bind, and add the
    columns a raw table of an older warehouse lacks. One catalog query first: a statement is run
    only for what is missing (each step calls this; a quiet night must not pay for hundreds)."""
    have: dict[str, set[str]] = {}
    for table, column in con.execute(
        "select 'raw.' || table_name, lower(column_name) from duckdb_columns() "
        "where database_name = current_database() and schema_name = 'raw'"
    ).fetchall():
        have.setdefault(table, set()).add(column)
    for mod in MODULES.values():
        if mod.RAW_TABLE not in have:
            cols = ", ".join(f"{q(c)} varchar" for c in mod.RAW_COLUMNS)
            con.execute(
                f"create table if not exists {mod.RAW_TABLE} ({cols}, load_id bigint, source_file varchar, "
                "source_row bigint, file_sha256 varchar)"
            )
        else:
            # raw tables of a warehouse built before a source gained columns
            for c in mod.RAW_COLUMNS:
                if c.lower() not in have[mod.RAW_TABLE]:
                    con.execute(f"alter table {mod.RAW_TABLE} add column if not exists {q(c)} varchar")
        for table, (columns, _) in getattr(mod, "SIDE_TABLES", {}).items():
            if table not in have:
                cols = ", ".join(f"{q(c)} varchar" for c in columns)
                con.execute(
                    f"create table if not exists {table} ({cols}, load_id bigint, source_file varchar, "
                    "file_sha256 varchar)"
                )
    if "raw.employee_keys" not in have:
        con.execute(
            "create table if not exists raw.employee_keys (employee_id varchar primary key, employee_key varchar)"
        )


def raw_tables(mod: ModuleType) -> tuple[str, ...]:
    """Every raw table a file of this source contributes to (what re-delivery and forget replace)."""
    return (mod.RAW_TABLE, *getattr(mod, "SIDE_TABLES", {}))


@dataclass(frozen=True)
class Known:
    """What audit.files says about one path."""

    sha256: str | None
    status: str
    fingerprint: str | None
    size: int | None
    booked: str | None  # sha256 of the content on the books under this path
    duplicate_of: str | None


@dataclass
class SourcePlan:
    source: str
    to_load: list[LandingFile] = field(default_factory=list)
    moves: dict[str, str] = field(default_factory=dict)  # rel to load -> gone path whose booking it takes
    unchanged: list[str] = field(default_factory=list)
    duplicates: dict[str, tuple[str, LandingFile | None]] = field(default_factory=dict)  # rel -> (of, file)
    aliases: dict[str, str] = field(default_factory=dict)  # symlink inside landing -> its target
    refused: dict[str, str] = field(default_factory=dict)  # refused unread: rel -> message
    missing: list[str] = field(default_factory=list)  # booked, gone since the last run
    still_missing: list[str] = field(default_factory=list)  # booked, gone before
    removed: list[str] = field(default_factory=list)  # gone, nothing of it booked
    pending: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    known: dict[str, Known] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "to_load": [f.rel for f in self.to_load],
            "moves": self.moves,
            "unchanged": self.unchanged,
            "duplicates": {rel: of for rel, (of, _) in self.duplicates.items()},
            "aliases": self.aliases,
            "refused": self.refused,
            "missing": self.missing,
            "pending": self.pending,
            "dropped": self.dropped,
        }


def _fingerprint(settings: Settings, mod: ModuleType) -> str | None:
    parts = getattr(mod, "CONFIG_PARTS", ())
    return config_fingerprint(settings, *parts) if parts else None


def booked_content(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    """sha256 -> (path, source) it is booked under; the earliest load wins where an older
    version of costledger booked one content twice."""
    return {
        sha: (rel, source)
        for sha, rel, source in con.execute(
            """
            select booked_sha256, arg_min(source_file, coalesce(load_id, 0)), arg_min(source, coalesce(load_id, 0))
            from audit.files where booked_sha256 is not null group by booked_sha256
            """
        ).fetchall()
    }


def kept_hashes(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, tuple[FileStat, str]]:
    """The kept hashes of the files under a source's folder: rel -> (stat when hashed, sha256)."""
    folder = SOURCE_FOLDERS[source]
    return {
        rel: (FileStat(*st), sha)
        for rel, *st, sha in con.execute(
            "select source_file, size_bytes, mtime_ns, ctime_ns, inode, device, file_sha256 "
            "from audit.file_hashes where starts_with(source_file, ?)",
            [folder + "/"],
        ).fetchall()
    }


def keep_hashes(con: duckdb.DuckDBPyConnection, hashed: dict[str, tuple[FileStat, str]]) -> None:
    """Keep what a survey hashed, so the same bytes are not read again next run."""
    if not hashed:
        return
    con.executemany(
        """
        insert or replace into audit.file_hashes
            (source_file, size_bytes, mtime_ns, ctime_ns, inode, device, file_sha256, hashed_at)
        values (?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            [rel, st.size, st.mtime_ns, st.ctime_ns, st.inode, st.device, sha, now_utc()]
            for rel, (st, sha) in sorted(hashed.items())
        ],
    )


def plan_source(con: duckdb.DuckDBPyConnection, settings: Settings, source: str) -> SourcePlan:
    """Compare the landing folder of one source with audit.files."""
    mod = MODULES[source]
    known = {
        r[0]: Known(*r[1:])
        for r in con.execute(
            "select source_file, file_sha256, status, config_fingerprint, size_bytes, booked_sha256, duplicate_of "
            "from audit.files where source = ?",
            [source],
        ).fetchall()
    }
    found = survey(
        settings,
        source,
        {rel: k.size for rel, k in known.items() if k.size is not None},
        kept_hashes(con, source),
    )
    keep_hashes(con, found.hashed)
    files = found.files
    plan = SourcePlan(source, known=known)
    plan.refused = {r.rel: r.message for r in found.refused}
    plan.aliases = {a.rel: a.target for a in found.aliases}
    if hasattr(mod, "plan"):
        booked_here = sorted(rel for rel, k in known.items() if k.booked is not None)
        files, plan.pending, plan.dropped = mod.plan(settings, files, booked_here)
        plan.dropped = {
            rel: why for rel, why in plan.dropped.items() if rel in known and known[rel].status != "dropped"
        }
    fp = _fingerprint(settings, mod)
    present = (
        {f.rel for f in files} | set(plan.pending) | set(plan.dropped) | set(plan.refused) | set(plan.aliases)
    )
    booked = booked_content(con)
    booked_paths = {
        r[0]
        for r in con.execute("select source_file from audit.files where booked_sha256 is not null").fetchall()
    }
    candidates: dict[str, list[LandingFile]] = defaultdict(list)
    for f in files:
        prev = known.get(f.rel)
        owner = booked.get(f.sha256)
        if (
            prev
            and prev.booked == f.sha256
            and prev.status == "loaded"
            and prev.fingerprint == fp
            and owner is not None
            and owner[0] == f.rel
        ):
            plan.unchanged.append(f.rel)
        elif (
            prev
            and prev.status == "duplicate"
            and prev.sha256 == f.sha256
            and prev.duplicate_of in booked_paths
            and prev.duplicate_of != f.rel
            and not (
                owner and owner[0] == prev.duplicate_of and owner[1] == source and owner[0] not in present
            )
        ):
            # Still a copy of what is booked under its original (even if the original was restated
            # since): booking it now would count the same charges twice.
            plan.duplicates[f.rel] = (prev.duplicate_of, f)
        else:
            candidates[f.sha256].append(f)
    # One content, one booking: of the files with one sha256, one is booked, the others are duplicates.
    moved_from: set[str] = set()
    for sha, group in candidates.items():
        group.sort(key=lambda f: (f.mtime_ns, f.rel))  # the oldest copy is taken as the original
        rels = {f.rel for f in group}
        owner = booked.get(sha)
        if owner and owner[0] not in rels:
            if owner[1] == source and owner[0] not in present:
                # The booked path is gone and a copy is here (a rename, a reorganised folder): the
                # booking moves to the copy, so the content stays on the books exactly once.
                first, rest = group[0], group[1:]
                plan.to_load.append(first)
                plan.moves[first.rel] = owner[0]
                moved_from.add(owner[0])
            else:
                first, rest = None, group
            for f in rest:
                plan.duplicates[f.rel] = (first.rel if first else owner[0], f)
        else:
            first = next((f for f in group if owner and f.rel == owner[0]), group[0])
            plan.to_load.append(first)
            for f in group:
                if f is not first:
                    plan.duplicates[f.rel] = (first.rel, f)
    plan.to_load.sort(key=lambda f: f.rel)
    for rel, k in sorted(known.items()):
        if rel in present or rel in moved_from:
            continue
        if k.booked is not None:
            (plan.still_missing if k.status == "missing" else plan.missing).append(rel)
        elif k.status not in ("removed", "forgotten", "moved", "dropped"):
            plan.removed.append(rel)
    return plan


def _record_file(
    con,
    rel: str,
    source: str,
    *,
    status: str,
    message: str,
    sha: str | None = None,
    size: int | None = None,
    load_id: int | None = None,
    fp: str | None = None,
    delivery: str | None = None,
    booked: str | None = None,
    keep_booked: bool = False,
    duplicate_of: str | None = None,
    loaded: bool = False,
) -> None:
    now = now_utc()
    con.execute(
        """
        insert into audit.files as t (
            source_file, source, file_sha256, size_bytes, load_id, config_fingerprint, status,
            first_seen_at, last_loaded_at, message, delivery, booked_sha256, duplicate_of
        ) values ($rel, $source, $sha, $size, $load_id, $fp, $status, $now, $loaded_at, $message,
                  $delivery, $booked, $duplicate_of)
        on conflict (source_file) do update set
            source = excluded.source, file_sha256 = excluded.file_sha256, size_bytes = excluded.size_bytes,
            load_id = coalesce(excluded.load_id, t.load_id), config_fingerprint = excluded.config_fingerprint,
            status = excluded.status, last_loaded_at = coalesce(excluded.last_loaded_at, t.last_loaded_at),
            message = excluded.message, delivery = coalesce(excluded.delivery, t.delivery),
            booked_sha256 = case when $keep_booked then t.booked_sha256 else excluded.booked_sha256 end,
            duplicate_of = excluded.duplicate_of
        """,
        {
            "rel": rel,
            "source": source,
            "sha": sha,
            "size": size,
            "load_id": load_id,
            "fp": fp,
            "status": status,
            "now": now,
            "loaded_at": now if loaded else None,
            "message": message,
            "delivery": delivery,
            "booked": None if keep_booked else booked,
            "keep_booked": keep_booked,
            "duplicate_of": duplicate_of,
        },
    )


def _log(con, load_id, run_id, source, rel, sha, size, action, in_file, read, rejected, message) -> None:
    con.execute(
        "insert into audit.load_log (load_id, run_id, source, source_file, file_sha256, size_bytes, action, "
        "rows_in_file, rows_read, rows_rejected, loaded_at, message) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [load_id, run_id, source, rel, sha, size, action, in_file, read, rejected, now_utc(), message],
    )


def _temp_exists(con, name: str) -> bool:
    return (
        con.execute(
            "select count(*) from duckdb_tables() where temporary and table_name = ?", [name]
        ).fetchone()[0]
        > 0
    )


def _relation_exists(con, name: str) -> bool:
    schema, table = name.split(".")
    return (
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
        > 0
    )


def _unbook(con, source: str, rel: str, core: bool) -> None:
    """Take what a path contributed off the books (inside the caller's transaction). `core` also
    removes its lines from core, so even a run over a few months never carries them again."""
    mod = MODULES.get(source)
    if mod is not None:
        for table in raw_tables(mod):
            con.execute(f"delete from {table} where source_file = ?", [rel])
    con.execute("delete from audit.rejected_rows where source_file = ?", [rel])
    if core:
        con.execute("delete from audit.checked_months")  # the months it had lines in are checked again
        for table in ("core.line_items", "core.allocated_line_items"):
            if _relation_exists(con, table):
                con.execute(f"delete from {table} where source_file = ?", [rel])


def _pct(share: float) -> str:
    return f"{share * 100:.3g} %"


def _rows_in_file(f: LandingFile, incoming) -> int:
    """The data rows of the file counted without DuckDB's reader; refuses the file when the reader's
    rows read + rejected differ from them (a line the reader skipped, or one it made up)."""
    got = incoming.rows_in_file
    if incoming.document:
        return got
    if incoming.footer_rows is not None:
        expected, how = incoming.footer_rows, "its Parquet footer declares"
    elif f.scan is not None and f.scan.counted:
        expected, how = f.scan.data_lines, "counted on its bytes"
        if got != expected:  # quoted newlines or blank lines: count records exactly, once
            expected, how = exact_records(f.fd, kind_of(f.path.name), f.caps), "counted as CSV records"
    else:
        return got
    if got != expected:
        read = got - incoming.rows_rejected
        gap = (
            f"{expected - got} row(s) unaccounted for"
            if expected > got
            else f"{got - expected} row(s) too many"
        )
        raise InputError(
            f"{f.rel}: {expected} data row(s) {how}, but the reader returned {read} and rejected "
            f"{incoming.rows_rejected} — {gap}; the file is refused, nothing of it is booked"
        )
    return expected


def load_file(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    f: LandingFile,
    run_id: str,
    moved_from: str | None = None,
) -> dict:
    """Read one file and replace what it contributed before, atomically. `moved_from`: a gone path
    with the same content, whose booking this file takes over in the same transaction."""
    mod = MODULES[f.source]
    load_id = con.execute("select nextval('audit.load_id_seq')").fetchone()[0]
    row = con.execute("select booked_sha256 from audit.files where source_file = ?", [f.rel]).fetchone()
    existed = row is not None and row[0] is not None
    fp = _fingerprint(settings, mod)
    # One transaction from the read to the commit: a reader may write the file's rows straight
    # into raw (one pass, no copy), and a refused file must leave the books as they were.
    con.execute("begin transaction")
    try:
        try:
            con.execute(f"delete from {mod.RAW_TABLE} where source_file = ?", [f.rel])
            with opened(settings, f) as g:
                incoming = mod.read(con, settings, g, load_id)
                rows_in_file = _rows_in_file(g, incoming)
        except InputError:
            drop_temp(con)
            for _, temp in getattr(mod, "SIDE_TABLES", {}).values():
                con.execute(f"drop table if exists {temp}")
            raise
        share = settings.ingest.max_reject_share
        if rows_in_file and incoming.rows_rejected / rows_in_file > share:
            drop_temp(con)
            raise InputError(
                f"{f.rel}: {incoming.rows_rejected} of {rows_in_file} rows rejected "
                f"({_pct(incoming.rows_rejected / rows_in_file)}, over ingest.max_reject_share = {_pct(share)}); "
                f"first: {incoming.first_reject} — the file is refused whole"
                + ("; its previous version stays booked" if existed else "")
            )
    except InputError as exc:
        con.execute("rollback")
        drop_temp(con)
        con.execute("begin transaction")
        if isinstance(exc, ChangedWhileRead):
            # the kept hash did not match the bytes: hash the file afresh next run, not refuse it again
            con.execute("delete from audit.file_hashes where source_file = ?", [f.rel])
        _log(con, load_id, run_id, f.source, f.rel, f.sha256, f.size, "refused", None, 0, 0, str(exc))
        # A refused re-delivery keeps the rows of the last good version: nothing is dropped silently.
        _record_file(
            con,
            f.rel,
            f.source,
            status="refused",
            message=str(exc),
            sha=f.sha256,
            size=f.size,
            fp=fp,
            delivery=f.delivery,
            keep_booked=True,
        )
        con.execute("commit")
        return {"file": f.rel, "action": "refused", "message": str(exc), "rows_read": 0, "rows_rejected": 0}
    except BaseException:
        con.execute("rollback")
        drop_temp(con)
        raise
    try:
        result = _book_file(con, f, run_id, load_id, existed, fp, incoming, rows_in_file, moved_from)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        drop_temp(con)
        for _, temp in getattr(mod, "SIDE_TABLES", {}).values():
            con.execute(f"drop table if exists {temp}")
    return result


def _book_file(
    con, f: LandingFile, run_id, load_id, existed, fp, incoming, rows_in_file, moved_from=None, of_load=False
) -> dict:
    """Book a file just read (inside the caller's transaction): its rows into raw (unless the reader
    wrote them there), its rejected rows, audit.load_log and audit.files. `of_load`: `_rejects`
    holds several files' rows (load_parts), this file's by its load_id."""
    mod = MODULES[f.source]
    n_rej = incoming.rows_rejected
    n_read = rows_in_file - n_rej
    cols = ", ".join(q(c) for c in mod.RAW_COLUMNS)
    lineage = ", ".join(q(c) for c in LINEAGE)
    action = "replaced" if existed else "loaded"
    if not incoming.booked:
        con.execute(
            f"insert into {mod.RAW_TABLE} ({cols}, {lineage}) select {cols}, ?, ?, source_row, ? from _incoming",
            [load_id, f.rel, f.sha256],
        )
    for table, (columns, temp) in getattr(mod, "SIDE_TABLES", {}).items():
        con.execute(f"delete from {table} where source_file = ?", [f.rel])
        if _temp_exists(con, temp):
            side = ", ".join(q(c) for c in columns)
            con.execute(
                f"insert into {table} ({side}, load_id, source_file, file_sha256) "
                f"select {side}, ?, ?, ? from {temp}",
                [load_id, f.rel, f.sha256],
            )
    con.execute("delete from audit.rejected_rows where source_file = ?", [f.rel])
    con.execute(
        "insert into audit.rejected_rows (load_id, run_id, source, source_file, source_row, field, reason, "
        "rejected_at, cost, currency) select ?, ?, ?, ?, source_row, field, reason, ?, cost, currency from _rejects"
        + (" where load_id = ?" if of_load else ""),
        [load_id, run_id, f.source, f.rel, now_utc(), *([load_id] if of_load else [])],
    )
    msg = f"{n_rej} row(s) rejected" if n_rej else ""
    if moved_from:
        _unbook(con, f.source, moved_from, core=False)
        why = f"moved: its content is now booked under {f.rel}"
        con.execute(
            "update audit.files set status = 'moved', booked_sha256 = null, duplicate_of = ?, message = ? "
            "where source_file = ?",
            [f.rel, why, moved_from],
        )
        _log(con, load_id, run_id, f.source, moved_from, f.sha256, f.size, "moved", None, None, None, why)
        msg = f"same content as {moved_from}, which is gone: the booking moved here" + (
            f"; {msg}" if msg else ""
        )
    _log(con, load_id, run_id, f.source, f.rel, f.sha256, f.size, action, rows_in_file, n_read, n_rej, msg)
    _record_file(
        con,
        f.rel,
        f.source,
        status="loaded",
        message=msg,
        sha=f.sha256,
        size=f.size,
        load_id=load_id,
        fp=fp,
        delivery=f.delivery,
        booked=f.sha256,
        loaded=True,
    )
    return {
        "file": f.rel,
        "action": action,
        "rows_read": n_read,
        "rows_rejected": n_rej,
        "rows_in_file": rows_in_file,
        "moved_from": moved_from,
    }


# at most this many parts in one statement (one transaction, one open descriptor each)
PARTS_PER_READ = 32


def part_groups(
    settings: Settings, mod: ModuleType, files: list[LandingFile], alone: frozenset[str] = frozenset()
) -> list[list[LandingFile]]:
    """The files to load, in order, as units: the parts of one export folder together (same
    folder, all CSV, all CSV.gz or all Parquet, at least `ingest.parts_min_bytes` between them, at most
    PARTS_PER_READ at a time) when the source reads parts in one statement; any other file, and
    those named in `alone`, one by one."""
    if not hasattr(mod, "read_parts") or getattr(mod, "SIDE_TABLES", None):
        return [[f] for f in files]
    folders: dict[tuple[str, str], list[LandingFile]] = defaultdict(list)
    for f in files:
        kind = kind_of(f.path.name)
        if kind in ("csv", "csv.gz", "parquet") and f.rel not in alone:
            folders[(f.rel.rpartition("/")[0], kind)].append(f)
    together = {
        id(f)
        for group in folders.values()
        if len(group) > 1 and sum(f.size or 0 for f in group) >= settings.ingest.parts_min_bytes
        for f in group
    }
    units: list[list[LandingFile]] = []
    open_unit: dict[tuple[str, str], list[LandingFile]] = {}
    for f in files:
        if id(f) not in together:
            units.append([f])
            continue
        key = (f.rel.rpartition("/")[0], kind_of(f.path.name))
        unit = open_unit.get(key)
        if unit is None or len(unit) >= PARTS_PER_READ:
            unit = open_unit[key] = []
            units.append(unit)
        unit.append(f)
    return units


def load_parts(
    con: duckdb.DuckDBPyConnection, settings: Settings, files: list[LandingFile], run_id: str
) -> list[dict] | None:
    """Load the parts of one export in one read (the source's `read_parts`: DuckDB reads the files
    in parallel) and book each file as `load_file` would: its own load_id, lineage, line numbers,
    rejected rows, audit rows. All of them commit together, or none: when any part would be refused
    (unreadable, a different header, too many rejects, rows unaccounted for), nothing is booked and
    None is returned, and the caller loads the files one by one, which refuses that part exactly as
    always and books the others."""
    mod = MODULES[files[0].source]
    fp = _fingerprint(settings, mod)
    load_ids = [con.execute("select nextval('audit.load_id_seq')").fetchone()[0] for _ in files]
    existed = []
    for f in files:
        row = con.execute("select booked_sha256 from audit.files where source_file = ?", [f.rel]).fetchone()
        existed.append(row is not None and row[0] is not None)
    share = settings.ingest.max_reject_share
    con.execute("begin transaction")
    try:
        for f in files:
            con.execute(f"delete from {mod.RAW_TABLE} where source_file = ?", [f.rel])
        with contextlib.ExitStack() as stack:
            held = [stack.enter_context(opened(settings, f)) for f in files]
            incoming = mod.read_parts(con, settings, held, load_ids)
            counted = [_rows_in_file(g, i) for g, i in zip(held, incoming, strict=True)]
        if any(n and i.rows_rejected / n > share for i, n in zip(incoming, counted, strict=True)):
            raise NotOneRead("a part has too many rejected rows")
        results = [
            _book_file(con, f, run_id, load_id, ex, fp, inc, n, of_load=True)
            for f, load_id, ex, inc, n in zip(files, load_ids, existed, incoming, counted, strict=True)
        ]
        con.execute("commit")
    except (InputError, NotOneRead):
        con.execute("rollback")
        return None
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        drop_temp(con)
    return results


def _record_duplicate(
    con, run_id, source, rel, of, f: LandingFile | None, prev: Known | None, why: str
) -> bool:
    """Record `rel` as a duplicate of `of` (taking off the books what it contributed before).
    Returns True when this is news (first seen as such, or changed)."""
    if prev and prev.status == "duplicate" and prev.duplicate_of == of and prev.booked is None:
        if f is None or prev.sha256 == f.sha256:
            return False
    con.execute("begin transaction")
    if prev and prev.booked is not None:
        _unbook(con, source, rel, core=True)
    _record_file(
        con,
        rel,
        source,
        status="duplicate",
        message=why,
        sha=f.sha256 if f else None,
        size=f.size if f else None,
        delivery=f.delivery if f else None,
        booked=None,
        duplicate_of=of,
    )
    _log(
        con,
        None,
        run_id,
        source,
        rel,
        f.sha256 if f else None,
        f.size if f else None,
        "duplicate",
        None,
        None,
        None,
        why,
    )
    con.execute("commit")
    return True


def duplicate_message(rel: str, of: str) -> str:
    return f"{rel}: same content as {of}, booked once under that path; remove the copy"


def load_source(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    source: str,
    run_id: str,
    progress=None,
    plan: SourcePlan | None = None,
) -> dict:
    """Load every new or changed file of one source; record duplicates, missing, pending, dropped
    and refused files. `plan` is the one discover made in this run (else it is made here)."""
    ensure_raw_tables(con)
    plan = plan or plan_source(con, settings, source)
    mod = MODULES[source]
    results = []
    for rel, message in plan.refused.items():
        con.execute("begin transaction")
        _log(con, None, run_id, source, rel, None, None, "refused", None, 0, 0, message)
        _record_file(con, rel, source, status="refused", message=message, keep_booked=True)
        con.execute("commit")
        results.append(
            {"file": rel, "action": "refused", "message": message, "rows_read": 0, "rows_rejected": 0}
        )
    duplicates = dict(plan.duplicates)
    to_load = []
    for f in plan.to_load:
        moved_from = plan.moves.get(f.rel)
        # Another source may have booked the same content earlier in this run.
        owner = con.execute(
            "select source_file from audit.files where booked_sha256 = ? and source_file <> ? "
            "order by load_id limit 1",
            [f.sha256, f.rel],
        ).fetchone()
        if owner and owner[0] != moved_from:
            duplicates[f.rel] = (owner[0], f)
        else:
            to_load.append(f)
    done = 0
    # a moved booking is taken over file by file (load_file's moved_from)
    for unit in part_groups(settings, mod, to_load, frozenset(plan.moves)):
        if done:
            crashpoint("mid_load")
        if progress:
            progress(
                f"{source}: {done + 1}/{len(to_load)} {unit[0].rel}"
                + (f" (+{len(unit) - 1} parts)" if len(unit) > 1 else "")
            )
        booked = load_parts(con, settings, unit, run_id) if len(unit) > 1 else None
        if booked is None:
            booked = [load_file(con, settings, f, run_id, plan.moves.get(f.rel)) for f in unit]
        results += booked
        done += len(unit)
    warnings = []
    for rel, (of, f) in sorted(duplicates.items()):
        _record_duplicate(con, run_id, source, rel, of, f, plan.known.get(rel), duplicate_message(rel, of))
        warnings.append(duplicate_message(rel, of))
    for rel, target in sorted(plan.aliases.items()):
        why = f"{rel}: a symbolic link to {target}; booked only under that path"
        _record_duplicate(con, run_id, source, rel, target, None, plan.known.get(rel), why)
    gone_msg = "no longer in landing/; its rows stay booked until `costledger forget PATH --reason ...`"
    for rel in plan.missing:
        con.execute(
            "update audit.files set status = 'missing', message = ? where source_file = ?", [gone_msg, rel]
        )
        _log(con, None, run_id, source, rel, None, None, "missing", None, None, None, gone_msg)
    for rel in plan.removed:
        con.execute(
            "update audit.files set status = 'removed', message = 'no longer in landing/; nothing of it was booked' "
            "where source_file = ?",
            [rel],
        )
    for rel, why in plan.pending.items():
        _log(con, None, run_id, source, rel, None, None, "pending", None, None, None, why)
    for rel, why in plan.dropped.items():
        con.execute("begin transaction")
        for table in raw_tables(mod):
            con.execute(f"delete from {table} where source_file = ?", [rel])
        con.execute("delete from audit.rejected_rows where source_file = ?", [rel])
        con.execute(
            "update audit.files set status = 'dropped', message = ?, booked_sha256 = null where source_file = ?",
            [why, rel],
        )
        _log(con, None, run_id, source, rel, None, None, "dropped", None, None, None, why)
        con.execute("commit")
    refused = [r for r in results if r["action"] == "refused"]
    loaded = [r for r in results if r["action"] in ("loaded", "replaced")]
    return {
        "source": source,
        "files_loaded": len(loaded),
        "files_unchanged": len(plan.unchanged),
        "files_refused": len(refused),
        "files_missing": len(plan.missing) + len(plan.still_missing),
        "files_pending": len(plan.pending),
        "files_dropped": len(plan.dropped),
        "files_duplicate": len(duplicates),
        "rows_read": sum(r["rows_read"] for r in results),
        "rows_rejected": sum(r["rows_rejected"] for r in results),
        "refused": [r["message"] for r in refused],
        "warnings": warnings,
        "moved": {r["moved_from"]: r["file"] for r in loaded if r.get("moved_from")},
        "rejected": rejected_by_file(con, [r["file"] for r in loaded if r["rows_rejected"]]),
    }


def rejected_by_file(con: duckdb.DuckDBPyConnection, files: list[str] | None = None) -> list[dict]:
    """Per file: rows rejected, the cost they carried per currency (where it parsed), the first
    reason. `files` limits it to those files (None: every file)."""
    if files is not None and not files:
        return []
    rows = con.execute(
        """
        with
        rejects as (
            select * from audit.rejected_rows
            where $files is null or list_contains($files, source_file)
        ),
        per_ccy as (
            select source_file, currency, sum(cost) as cost
            from rejects where cost is not null group by all
        ),
        per_file as (
            select source_file, count(*) as n, count(*) filter (cost is null) as no_cost,
                   arg_min(reason, source_row) as first_reason
            from rejects group by all
        )
        select f.source_file, f.n, f.no_cost, f.first_reason,
               list(struct_pack(currency := c.currency, cost := c.cost) order by c.currency)
                   filter (c.currency is not null) as costs
        from per_file f left join per_ccy c using (source_file)
        group by all
        order by f.source_file
        """,
        {"files": files},
    ).fetchall()
    return [
        {
            "file": rel,
            "rows": n,
            "cost": {c["currency"] or "?": c["cost"] for c in (costs or [])},
            "rows_without_cost": no_cost,
            "first_reason": first,
        }
        for rel, n, no_cost, first, costs in rows
    ]


def rejected_text(r: dict) -> str:
    """'focus/x.csv: 2 row(s) rejected carrying USD 35.25 (1 without a readable amount); first: line 4: ...'"""
    carried = ", ".join(f"{ccy} {amount:,.2f}" for ccy, amount in r["cost"].items())
    parts = [f"{r['file']}: {r['rows']} row(s) rejected"]
    if carried:
        parts.append(f" carrying {carried}")
    if r["rows_without_cost"] and carried:
        parts.append(f" (+{r['rows_without_cost']} without a readable amount)")
    elif r["rows_without_cost"]:
        parts.append(" (no readable amount)")
    parts.append(f"; first: {r['first_reason']}")
    return "".join(parts)


def refused_files(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Messages of files currently refused (they block publishing until fixed or removed)."""
    return [
        r[0]
        for r in con.execute(
            "select message from audit.files where status = 'refused' order by source_file"
        ).fetchall()
    ]


def landing_rel(settings: Settings, path: str) -> str:
    """A path as audit.files knows it: relative to landing/, forward slashes."""
    p = Path(path)
    if p.is_absolute():
        for base in (settings.landing, Path(os.path.realpath(settings.landing))):
            try:
                return p.relative_to(base).as_posix()
            except ValueError:
                continue
        raise CostledgerError(f"{shown(path)}: not under the landing folder {settings.landing}")
    rel = p.as_posix()
    return rel[2:] if rel.startswith("./") else rel


def forget(
    con: duckdb.DuckDBPyConnection, settings: Settings, path: str, reason: str, user: str | None
) -> dict:
    """Take a file that is gone from landing/ out of the books, recorded in audit.forgotten_files."""
    reason = " ".join(reason.split())
    if not reason:
        raise CostledgerError("forget: --reason must say why (it is kept in audit.forgotten_files)")
    rel = landing_rel(settings, path)
    row = con.execute(
        "select source, booked_sha256, file_sha256, load_id, status from audit.files where source_file = ?",
        [rel],
    ).fetchone()
    if row is None:
        raise CostledgerError(
            f"{shown(rel)}: not a file the ledger knows; `costledger status` lists the files it holds"
        )
    root = landing_root(settings)
    if os.path.lexists(root / rel):
        raise CostledgerError(
            f"{shown(rel)}: still in the landing folder; forget takes out only files that are gone — "
            "remove it first (a new version at the same path replaces the old one by itself)"
        )
    source, booked, sha, load_id, status = row
    mod = MODULES.get(source)
    rows = (
        con.execute(f"select count(*) from {mod.RAW_TABLE} where source_file = ?", [rel]).fetchone()[0]
        if mod
        else 0
    )
    cost = first = last = None
    if _relation_exists(con, "core.line_items"):
        column = "billed_cost" if settings.cost_basis == "billed" else "effective_cost"
        cost, first, last = con.execute(
            f"select sum({column}), min(month), max(month) from core.line_items "
            "where source_file = ? and not is_superseded",
            [rel],
        ).fetchone()
    why = f"forgotten: {reason}"
    con.execute("begin transaction")
    try:
        _unbook(con, source, rel, core=True)
        con.execute(
            "insert into audit.forgotten_files (source_file, source, file_sha256, load_id, rows_removed, cost, "
            "currency, first_month, last_month, reason, forgotten_at, forgotten_by) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                rel,
                source,
                booked or sha,
                load_id,
                rows,
                cost,
                settings.reporting_currency,
                first,
                last,
                reason,
                now_utc(),
                user,
            ],
        )
        con.execute(
            "update audit.files set status = 'forgotten', booked_sha256 = null, duplicate_of = null, message = ? "
            "where source_file = ?",
            [why, rel],
        )
        _log(con, load_id, None, source, rel, booked or sha, None, "forgotten", None, None, None, why)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return {
        "file": rel,
        "status_before": status,
        "rows_removed": rows,
        "cost": cost,
        "currency": settings.reporting_currency,
        "first_month": first,
        "last_month": last,
    }
