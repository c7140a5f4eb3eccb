"""Which months a run recomputes: every month, or only those touched by new, changed or removed loads.

core.line_items and core.allocated_line_items are `month_partitions` models. After each
transform, audit.built_loads keeps what they were built from: every load in the raw tables with
its row count, a hash of its rows, and the months its lines fall in. The next run compares the
raw tables with that record (in DuckDB, one group-by per raw table):

- a load that is new, gone (forgotten, dropped, replaced by a re-delivery, a manifest's period
  reloaded) or whose rows changed touches the months its lines fell in when core was built
  (audit.built_loads: known even after `forget` took its lines out of core) and the months of
  its rows now (its staging view, read for that load only);
- anything else that feeds those models changes every month: a raw table other than the
  month-local line-item sources (FX and hourly rates, usage metrics, assets, invoices whose
  revisions supersede across months, GCP extracts superseded by invoice month, time logs),
  the config files or settings, the code and SQL, the pseudonym key; so do `--force`, a
  warehouse never built, and a build that was not recorded (a --from/--to run). Then the run
  rebuilds everything: a slow right answer beats a fast wrong one.

The months a month-local line reads are its own: superseding (`trust:` is config; GCP is not
month-local) and cost-proportional splits (per month) stay inside a month, so recomputing whole
months from every load that has lines in them gives what a full rebuild gives. The tables
other than the month partitions are rebuilt in full (they read the lean ledger).

The decision is stored in audit.run_scope, once per run, so an orchestrator's separate tasks
(transform, then publish) see the same months; `record_built` writes the new record of what core
was built from inside the transform's transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import date

import duckdb

from pipeline.config.settings import Settings
from pipeline.config.tables import CONFIG_FILES
from pipeline.transform import runner
from pipeline.transform.contracts import load_contracts

PARTITIONED = ("core.line_items", "core.allocated_line_items")

# Raw tables of sources whose lines only ever affect their own month (no superseding across
# months, no window across months): raw table -> the staging view that gives its lines' months.
MONTH_LOCAL = {
    "raw.focus_line_items": "staging.stg_focus",
    "raw.aws_cur_line_items": "staging.stg_aws_cur",
    "raw.azure_cost_line_items": "staging.stg_azure_cost",
}


@dataclass
class Scope:
    run_id: str
    mode: str  # full | months | range
    reason: str
    months: list[date] = field(default_factory=list)
    loads: list[int] = field(default_factory=list)
    months_in_ledger: int | None = None

    @property
    def full(self) -> bool:
        return self.mode == "full"

    def describe(self) -> str:
        """One line for the run's record: what the transform recomputed, and why."""
        if self.mode == "full":
            return f"full rebuild: {self.reason}"
        if self.mode == "range":
            return f"recomputed the range {self.reason}"
        if not self.months:
            return f"no month recomputed ({self.reason})"
        listed = ", ".join(f"{m:%Y-%m}" for m in self.months)
        of = f" of {self.months_in_ledger} months" if self.months_in_ledger else ""
        return f"recomputed {listed}{of} ({self.reason})"


def _months_list(values: list[date]) -> str:
    return "[" + ", ".join(f"date '{m.isoformat()}'" for m in values) + "]"


def feeding_raw_tables() -> set[str]:
    """Every raw table the month-partitioned models read, directly or through other models."""
    models = {n: c for n, c in load_contracts().items() if c.sql_path is not None}
    deps = runner.dependencies(models)
    todo, seen = list(PARTITIONED), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += deps[name]
    raws: set[str] = set()
    for name in seen:
        c = models[name]
        for f in (None, *([c.passes.sql] if c.passes else [])):
            raws |= {r for r in runner.references(runner.model_sql(c, f)) if r.startswith("raw.")}
    return raws


def fingerprints(settings: Settings) -> dict[str, str]:
    """What every month depends on besides the line-item files: code and SQL, settings, each
    config file, the pseudonym key (a keyed digest only)."""
    from pipeline.app.runs import code_fingerprint
    from pipeline.config.tables import settings_fingerprint

    fp = {"code": code_fingerprint(), "settings": settings_fingerprint(settings)}
    for name in CONFIG_FILES:
        path = settings.config_dir / name
        data = path.read_bytes() if path.exists() else b""
        fp[name] = hashlib.sha256(data).hexdigest()
    fp["pii_key"] = (
        hmac.new(settings.pii_key, b"costledger build scope", "sha256").hexdigest()
        if settings.pii_key
        else ""
    )
    return fp


def _raw_tables(con) -> list[tuple[str, bool, bool]]:
    """(raw table, has load_id, has source_row) for every table of the raw schema."""
    return con.execute(
        """
        select table_schema || '.' || table_name,
               bool_or(column_name = 'load_id'), bool_or(column_name = 'source_row')
        from information_schema.columns
        where table_schema = 'raw' and table_catalog = current_database()
        group by all order by 1
        """
    ).fetchall()


def current_loads_sql(con) -> str:
    """A select of (raw_table, load_id, raw_rows, raw_hash) over every raw table now; a table
    without loads (raw.employee_keys) is one row, load_id -1, hashed whole."""
    parts = []
    for table, has_load, has_row in _raw_tables(con):
        if not has_load:
            parts.append(
                f"select '{table}' as raw_table, -1::bigint as load_id, count(*) as raw_rows, "
                f"cast(sum(hash(t)) as hugeint) as raw_hash from {table} t"
            )
            continue
        h = "sum(hash(source_row))" if has_row else "sum(hash(source_file))"
        parts.append(
            f"select '{table}' as raw_table, coalesce(load_id, -1) as load_id, count(*) as raw_rows, "
            f"cast({h} as hugeint) as raw_hash from {table} group by all"
        )
    if not parts:
        return (
            "select null::varchar as raw_table, null::bigint as load_id, 0::bigint as raw_rows, "
            "0::hugeint as raw_hash where false"
        )
    return " union all ".join(parts)


def _relation_exists(con, name: str) -> bool:
    schema, table = name.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ? "
            "and table_catalog = current_database()",
            [schema, table],
        ).fetchone()[0]
    )


def load(con, run_id: str) -> Scope | None:
    row = con.execute(
        "select mode, reason, months, loads, months_in_ledger from audit.run_scope where run_id = ?", [run_id]
    ).fetchall()
    if not row:
        return None
    mode, reason, months, loads, n = row[0]
    return Scope(run_id, mode, reason, list(months or []), list(loads or []), n)


def _save(con, scope: Scope, fp: dict[str, str]) -> None:
    con.execute(
        """
        insert or replace into audit.run_scope
            (run_id, decided_at, mode, reason, months, loads, months_in_ledger, fingerprints, built)
        values (?, now()::timestamp, ?, ?, ?, ?, null, ?, false)
        """,
        [scope.run_id, scope.mode, scope.reason, scope.months, scope.loads, json.dumps(fp, sort_keys=True)],
    )


def decide(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    run_id: str,
    month_from: date | None = None,
    month_to: date | None = None,
    force: bool = False,
) -> Scope:
    """The run's scope, decided once (a retried transform task finds it again) and stored."""
    known = load(con, run_id)
    if known is not None:
        return known
    fp = fingerprints(settings)
    scope = _decide(con, settings, run_id, month_from, month_to, force, fp)
    _save(con, scope, fp)
    return scope


def _decide(con, settings, run_id, month_from, month_to, force, fp) -> Scope:
    if month_from is not None:
        return Scope(run_id, "range", f"{month_from:%Y-%m} .. {month_to:%Y-%m}")
    if force:
        return Scope(run_id, "full", "--force")
    if not all(_relation_exists(con, t) for t in PARTITIONED):
        return Scope(run_id, "full", "the work database has no ledger yet")
    prev = con.execute(
        """
        select run_id, mode, fingerprints from audit.run_scope
        where built and run_id <> ? order by decided_at desc limit 1
        """,
        [run_id],
    ).fetchall()
    if not prev:
        return Scope(run_id, "full", "no record of what the ledger was built from")
    prev_id, prev_mode, prev_fp = prev[0]
    if prev_mode == "range":
        return Scope(run_id, "full", f"the last build ({prev_id}) covered a --from/--to range only")
    old = json.loads(prev_fp or "{}")
    changed = [k for k in fp if old.get(k) != fp[k]]
    if "settings" in changed and any(k in CONFIG_FILES for k in changed):
        changed.remove("settings")  # the settings hash covers the config files: name the file
    if changed:
        what = {"code": "the code or SQL", "settings": "the settings", "pii_key": "the pseudonym key"}
        return Scope(run_id, "full", "changed: " + ", ".join(what.get(k, k) for k in changed))
    if (
        not con.execute("select count(*) from audit.built_loads").fetchone()[0]
        and con.execute("select count(*) from core.line_items").fetchone()[0]
    ):
        return Scope(run_id, "full", "no record of the loads the ledger was built from")
    if con.execute("select count(*) from core.line_items where load_id is null").fetchone()[0]:
        return Scope(run_id, "full", "the ledger has lines without a load")

    # loads new, gone or changed since the last build, per raw table
    changes = con.execute(
        f"""
        with cur as ({current_loads_sql(con)}),
        built as (select raw_table, load_id, raw_rows, raw_hash, months from audit.built_loads)
        select coalesce(c.raw_table, b.raw_table) as raw_table, coalesce(c.load_id, b.load_id) as load_id,
               c.raw_table is not null as present, b.months
        from cur c full outer join built b on b.raw_table = c.raw_table and b.load_id = c.load_id
        where c.raw_table is null or b.raw_table is null
           or c.raw_rows <> b.raw_rows or c.raw_hash is distinct from b.raw_hash
        """
    ).fetchall()
    feeding = feeding_raw_tables()
    wide = sorted({t for t, *_ in changes if t in feeding and t not in MONTH_LOCAL})
    if wide:
        return Scope(run_id, "full", "changed: " + ", ".join(wide) + " (not month-local)")
    local = [(t, load_id, present, months) for t, load_id, present, months in changes if t in MONTH_LOCAL]
    if not local:
        return Scope(run_id, "months", "no line-item file changed")
    dirty: set[date] = set()
    for _, _, _, months in local:
        dirty |= set(months or [])  # where the load's lines were when the ledger was built
    new_loads: dict[str, list[int]] = {}
    for t, load_id, present, _ in local:
        if present:
            new_loads.setdefault(t, []).append(load_id)
    for t, ids in new_loads.items():  # where the load's lines are now
        ids_sql = ", ".join(str(int(i)) for i in ids)
        now = con.execute(
            f"select distinct month from {MONTH_LOCAL[t]} where load_id in ({ids_sql})"
        ).fetchall()
        if any(r[0] is None for r in now):
            return Scope(run_id, "full", f"lines without a month in {t}")
        dirty |= {r[0] for r in now}
    months = sorted(dirty)
    loads: set[int] = {i for ids in new_loads.values() for i in ids}
    if months:
        loads |= {
            r[0]
            for r in con.execute(
                f"""
                select distinct b.load_id from audit.built_loads b
                where b.load_id is not null and list_has_any(b.months, {_months_list(months)})
                """
            ).fetchall()
        }
    n_added = sum(1 for *_, present, months_ in local if present and months_ is None)
    n_gone = sum(1 for *_, present, _ in local if not present)
    n_changed = len(local) - n_added - n_gone
    parts = [
        f"{n} load{'s' if n != 1 else ''} {w}"
        for n, w in ((n_added, "added"), (n_changed, "changed"), (n_gone, "gone"))
        if n
    ]
    return Scope(run_id, "months", ", ".join(parts), months, sorted(loads))


def record_built(con: duckdb.DuckDBPyConnection, scope: Scope) -> None:
    """Inside the transform's transaction: what core was built from, and that the run built it.
    A --from/--to run leaves no record (its months follow the raw tables, the others do not):
    the next run rebuilds everything."""
    con.execute("delete from audit.built_loads")
    if scope.mode != "range":
        con.execute(
            f"""
            insert into audit.built_loads (raw_table, load_id, raw_rows, raw_hash, months)
            with cur as ({current_loads_sql(con)}),
            lm as (select load_id, list(distinct month order by month) as months
                   from core.line_items where load_id is not null group by load_id)
            select c.raw_table, c.load_id, c.raw_rows, c.raw_hash, coalesce(lm.months, [])
            from cur c left join lm using (load_id)
            """
        )
    n = con.execute("select count(distinct month) from core.allocated_line_items").fetchone()[0]
    scope.months_in_ledger = n
    con.execute(
        "update audit.run_scope set built = true, months_in_ledger = ? where run_id = ?", [n, scope.run_id]
    )


def publish_months(
    con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str
) -> tuple[list[date] | None, str]:
    """The months the publish may replace in the previous published file, or None (with why) when
    it must build the file anew: a full or range transform, no transform recorded, or a published
    file that is not the one the run before this build left."""
    from pipeline.app.runs import published_stamp

    scope = load(con, run_id)
    if scope is None:
        return None, "no transform scope recorded for this run"
    if scope.mode != "months":
        return None, scope.describe()
    prev = con.execute(
        """
        select run_id from audit.run_scope
        where built and run_id <> ? and decided_at <= (select decided_at from audit.run_scope where run_id = ?)
        order by decided_at desc limit 1
        """,
        [run_id, run_id],
    ).fetchall()
    if not prev:
        return None, "no earlier build"
    stamp = published_stamp(settings.published_db)
    if stamp is None:
        return None, "no published file yet"
    ok = con.execute(
        "select count(*) from audit.runs where run_id = ? and status = 'succeeded' and published_stamp = ?",
        [prev[0][0], stamp],
    ).fetchone()[0]
    if not ok:
        return None, f"the published file is not the one {prev[0][0]} left"
    return list(scope.months), scope.describe()
