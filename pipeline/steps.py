"""The steps of a run, one function each: what the CLI and the Airflow DAGs call.

    discover -> load_source (per source) -> check_raw -> transform -> check_marts -> publish

Each public step takes Settings, opens the work database under the run lock, does its work
and returns a small JSON-able dict. `run_all` holds the lock across all steps.
Months are arguments ('YYYY-MM' or date); nothing here reads the clock to choose data.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import duckdb

from pipeline import ingest, quality
from pipeline import transform as transform_mod
from pipeline.config_tables import sync_config
from pipeline.db import work_db
from pipeline.errors import CostledgerError, InputError
from pipeline.landing import unsupported_files
from pipeline.publish import publish_file
from pipeline.settings import Settings

Progress = Callable[[str], None] | None


def new_run_id() -> str:
    return "run-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def parse_month(value: str | date | None) -> date | None:
    """'YYYY-MM' (or a date) -> the first day of that month; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.replace(day=1)
    try:
        y, m = str(value).strip()[:7].split("-")
        return date(int(y), int(m), 1)
    except ValueError:
        raise CostledgerError(f"month '{value}' is not YYYY-MM") from None


def month_range(month_from, month_to) -> tuple[date | None, date | None]:
    lo, hi = parse_month(month_from), parse_month(month_to)
    if lo and not hi:
        hi = lo
    if hi and not lo:
        lo = hi
    if lo and hi and lo > hi:
        raise CostledgerError(f"--from {lo:%Y-%m} is after --to {hi:%Y-%m}")
    return lo, hi


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _record_run(
    con, run_id: str, status: str, lo=None, hi=None, message: str | None = None, timings: dict | None = None
) -> None:
    con.execute(
        """
        insert into audit.runs as t values (?, ?, ?, ?, ?, ?, ?, ?)
        on conflict (run_id) do update set
            finished_at = excluded.finished_at, status = excluded.status,
            month_from = coalesce(excluded.month_from, t.month_from), month_to = coalesce(excluded.month_to, t.month_to),
            message = excluded.message, timings = coalesce(excluded.timings, t.timings)
        """,
        [
            run_id,
            _now(),
            None if status == "running" else _now(),
            status,
            lo,
            hi,
            message,
            json.dumps(timings) if timings else None,
        ],
    )


# --- steps on an open connection -------------------------------------------------------------


def _discover(con, settings: Settings) -> dict:
    ingest.ensure_raw_tables(con)
    sync_config(con, settings)
    plans = {s: ingest.plan_source(con, settings, s) for s in ingest.SOURCES}
    return {
        "sources": {s: [f.rel for f in p.to_load] for s, p in plans.items()},
        "missing": [rel for p in plans.values() for rel in p.missing],
        "pending": {rel: why for p in plans.values() for rel, why in p.pending.items()},
        "unsupported": dict(unsupported_files(settings)),
    }


def _load(con, settings: Settings, source: str, run_id: str, progress: Progress = None) -> dict:
    ingest.ensure_raw_tables(con)
    sync_config(con, settings)
    return ingest.load_source(con, settings, source, run_id, progress)


def _check_raw(con, settings: Settings, run_id: str) -> dict:
    sync_config(con, settings)
    transform_mod.build_views(con)
    results = quality.run_gate(con, settings, run_id, "raw")
    return {"checks": len(results), "failed": sum(1 for r in results if not r["success"])}


def _transform(con, settings: Settings, lo: date | None, hi: date | None) -> dict:
    ingest.ensure_raw_tables(con)
    sync_config(con, settings)
    return transform_mod.run_transform(con, settings, lo, hi)


def _check_marts(con, settings: Settings, run_id: str) -> dict:
    results = quality.run_gate(con, settings, run_id, "marts")
    return {"checks": len(results), "failed": sum(1 for r in results if not r["success"])}


def _publish(con, settings: Settings, run_id: str) -> dict:
    refused = ingest.refused_files(con)
    if refused:
        more = f" (and {len(refused) - 1} more refused files)" if len(refused) > 1 else ""
        raise InputError(f"{refused[0]}{more}; nothing was published — fix or remove the file and run again")
    _record_run(con, run_id, "succeeded", message="published")
    path = publish_file(con, settings, run_id)
    months = [
        r[0].isoformat()[:7]
        for r in con.execute("select distinct month from marts.monthly_cost_rollup order by 1").fetchall()
    ]
    return {"published": str(path), "months": months}


# --- public steps (each takes the lock) --------------------------------------------------------


def pull(settings: Settings) -> dict:
    """Copy new or changed exports from the `pull:` object stores into landing/ (a no-op without any).

    Takes pull's own lock on landing/, not the work database's: it may run beside a load.
    """
    from pipeline.pull import pull as pull_exports

    return pull_exports(settings)


def discover(settings: Settings) -> dict:
    with work_db(settings) as con:
        return _discover(con, settings)


def load_source(settings: Settings, source: str, run_id: str, raise_on_refused: bool = True) -> dict:
    """Load one source's new and changed files. Refused files are recorded, then raised."""
    if source not in ingest.SOURCES:
        raise CostledgerError(f"unknown source '{source}' (one of: {', '.join(ingest.SOURCES)})")
    with work_db(settings) as con:
        summary = _load(con, settings, source, run_id)
    if raise_on_refused and summary["refused"]:
        more = f" (and {len(summary['refused']) - 1} more)" if len(summary["refused"]) > 1 else ""
        raise InputError(summary["refused"][0] + more)
    return summary


def check_raw(settings: Settings, run_id: str) -> dict:
    with work_db(settings) as con:
        return _check_raw(con, settings, run_id)


def transform(settings: Settings, run_id: str, month_from=None, month_to=None) -> dict:
    lo, hi = month_range(month_from, month_to)
    with work_db(settings) as con:
        _record_run(con, run_id, "running", lo, hi)
        return _transform(con, settings, lo, hi)


def check_marts(settings: Settings, run_id: str) -> dict:
    with work_db(settings) as con:
        return _check_marts(con, settings, run_id)


def publish(settings: Settings, run_id: str) -> dict:
    with work_db(settings) as con:
        return _publish(con, settings, run_id)


def published_months(settings: Settings) -> list[str]:
    """Months present in the published file (read-only; never blocks or is blocked by a run)."""
    if not settings.published_db.exists():
        return []
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        return [
            r[0].isoformat()[:7]
            for r in con.execute("select distinct month from marts.monthly_cost_rollup order by 1").fetchall()
        ]
    finally:
        con.close()


@dataclass
class RunSummary:
    run_id: str
    status: str = "running"
    message: str = ""
    loads: list[dict] = field(default_factory=list)
    months: list[str] = field(default_factory=list)
    lines: int = 0
    published: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    unsupported: dict[str, str] = field(default_factory=dict)
    coverage: dict[str, float | None] = field(default_factory=dict)  # month -> % of in-scope cost placed


def run_all(
    settings: Settings, month_from=None, month_to=None, progress: Progress = None, run_id: str | None = None
) -> RunSummary:
    """Ingest, check, transform, check, publish — under one lock. Raises on failure after
    recording the run as failed; the published file is then exactly as it was."""
    run_id = run_id or new_run_id()
    lo, hi = month_range(month_from, month_to)
    quality.warm_up()  # the GX import overlaps with loading instead of adding to it
    summary = RunSummary(run_id)
    say = progress or (lambda _msg: None)

    def timed(name, fn, *args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            summary.timings[name] = round(time.perf_counter() - t0, 3)

    with work_db(settings) as con:
        _record_run(con, run_id, "running", lo, hi)
        try:
            found = timed("discover", _discover, con, settings)
            summary.unsupported = found["unsupported"]
            for source in ingest.SOURCES:
                n = len(found["sources"][source])
                if n:
                    say(f"loading {source}: {n} new or changed file(s)")
                summary.loads.append(timed(f"load_{source}", _load, con, settings, source, run_id, progress))
            say("checking raw data")
            timed("check_raw", _check_raw, con, settings, run_id)
            say("transforming")
            result = timed("transform", _transform, con, settings, lo, hi)
            summary.months, summary.lines = result["months"], result["lines"]
            summary.coverage = {
                m.isoformat()[:7]: (float(pct) if pct is not None else None)
                for m, pct in con.execute(
                    "select month, coverage_pct from marts.rule_coverage order by month"
                ).fetchall()
            }
            say("checking marts")
            timed("check_marts", _check_marts, con, settings, run_id)
            say("publishing")
            pub = timed("publish", _publish, con, settings, run_id)
            summary.published = pub["published"]
            summary.status = "succeeded"
            _record_run(con, run_id, "succeeded", lo, hi, "published", summary.timings)
        except Exception as exc:
            summary.status = "failed"
            summary.message = str(exc)
            try:
                con.execute("rollback")
            except duckdb.Error:
                pass  # no transaction was open
            _record_run(
                con,
                run_id,
                "failed",
                lo,
                hi,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                summary.timings,
            )
            raise
    return summary


def report_summary(settings: Settings, month: str) -> str:
    """The month's ledger as terminal text, from the published file."""
    from pipeline.report import build_report, render_terminal

    return render_terminal(build_report(settings, month))
