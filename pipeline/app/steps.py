"""The steps of a run, one function each: what the CLI and the Airflow DAGs call.

    discover -> load_source (per source) -> check_raw -> transform -> check_marts -> publish

Each public step takes Settings, opens the work database under the run lock, does its work
and returns a small JSON-able dict. `run_all` holds the lock across all steps.
Months are arguments ('YYYY-MM' or date); nothing here reads the clock to choose data.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import duckdb

from pipeline import ingest, quality
from pipeline import transform as transform_mod
from pipeline.app import logs, runs
from pipeline.config.settings import Settings
from pipeline.config.tables import sync_config
from pipeline.crashpoints import crashpoint
from pipeline.db import work_db
from pipeline.errors import CostledgerError, InputError, one_line, user_error
from pipeline.landing.walk import unsupported_files
from pipeline.publish import publish_file
from pipeline.transform import scope as scope_mod

Progress = Callable[[str], None] | None
WAITING = "{step} done; the next step runs as its own task"
log = logging.getLogger(__name__)


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


def _record_run(
    con, run_id: str, status: str, lo=None, hi=None, message: str | None = None, timings: dict | None = None
) -> None:
    runs.record(con, run_id, status, lo, hi, message, timings)


def _fail(
    con, settings: Settings, run_id: str | None, step: str, exc: BaseException, lo=None, hi=None, timings=None
):
    """Record the run as failed (or interrupted), log the traceback, raise the one-line error."""
    log_file = logs.current_file()
    if isinstance(exc, Exception):
        status, err = (
            "failed",
            user_error(exc, step, str(settings.warehouse), str(log_file) if log_file else None),
        )
    else:  # Ctrl-C, SystemExit: the run stops here
        status, err = "interrupted", exc
    with contextlib.suppress(duckdb.Error):
        con.execute("rollback")
    if run_id:
        message = str(err) if isinstance(err, CostledgerError) else "interrupted"
        if not message.startswith(f"{step}: "):
            message = f"{step}: {message}"  # the step that failed, for the record (and _public_step)
        try:
            runs.record(con, run_id, status, lo, hi, message, timings)
        except (duckdb.Error, OSError) as rec:  # the disk that failed the step may fail this too
            log.warning(
                "could not record run %s as %s: %s",
                run_id,
                status,
                one_line(str(rec)),
                extra={"file_only": True},  # the user's one line is the failure itself
            )
    logs.failure(exc, f"run {run_id or '-'} {status} in {step}: {err}")
    if err is exc:
        raise exc
    raise err from exc


# --- steps on an open connection -------------------------------------------------------------


def _plans(con, settings: Settings) -> dict[str, ingest.SourcePlan]:
    ingest.ensure_raw_tables(con)
    sync_config(con, settings)
    return {s: ingest.plan_source(con, settings, s) for s in ingest.SOURCES}


def _check_missing(con, settings: Settings, plans: dict[str, ingest.SourcePlan], allow_missing: bool) -> None:
    """Refuse to go on when too many booked files vanished at once (an unmounted share looks like
    that): their rows would stay booked, but the night would look good."""
    gone = [rel for p in plans.values() for rel in (*p.missing, *p.still_missing)]
    if not gone or allow_missing:
        return
    booked = con.execute("select count(*) from audit.files where booked_sha256 is not null").fetchone()[0]
    limit = settings.ingest.max_missing_share
    if booked and len(gone) / booked > limit:
        raise InputError(
            f"{len(gone)} of {booked} booked files ({len(gone) / booked:.0%}) are missing from "
            f"{settings.landing} (e.g. {gone[0]}), over ingest.max_missing_share = {limit:.0%} — is the share "
            "mounted? Nothing was loaded or published; if they are really gone, run again with --allow-missing"
        )


def _discover(
    con, settings: Settings, allow_missing: bool = False
) -> tuple[dict, dict[str, ingest.SourcePlan]]:
    plans = _plans(con, settings)
    _check_missing(con, settings, plans, allow_missing)
    found = {
        "sources": {s: [f.rel for f in p.to_load] for s, p in plans.items()},
        "missing": [rel for p in plans.values() for rel in p.missing],
        "pending": {rel: why for p in plans.values() for rel, why in p.pending.items()},
        "duplicates": {rel: of for p in plans.values() for rel, (of, _) in p.duplicates.items()},
        "refused": {rel: why for p in plans.values() for rel, why in p.refused.items()},
        "unsupported": dict(unsupported_files(settings)),
    }
    return found, plans


def _load(con, settings: Settings, source: str, run_id: str, progress: Progress = None, plan=None) -> dict:
    sync_config(con, settings)  # ingest.load_source creates the raw tables it needs
    return ingest.load_source(con, settings, source, run_id, progress, plan)


def _check_raw(con, settings: Settings, run_id: str) -> dict:
    sync_config(con, settings)
    transform_mod.build_views(con)
    results = quality.run_gate(con, settings, run_id, "raw")
    return {"checks": len(results), "failed": sum(1 for r in results if not r["success"])}


def _transform(
    con, settings: Settings, run_id: str, lo: date | None, hi: date | None, force: bool = False
) -> dict:
    """Build core and marts for the months this run touches (all of them when in doubt)."""
    ingest.ensure_raw_tables(con)
    sync_config(con, settings)
    scope = scope_mod.decide(con, settings, run_id, lo, hi, force)
    log.info("run %s: %s", run_id, scope.describe())
    return transform_mod.run_transform(con, settings, lo, hi, scope)


def _check_marts(con, settings: Settings, run_id: str) -> dict:
    results = quality.run_gate(con, settings, run_id, "marts")
    return {"checks": len(results), "failed": sum(1 for r in results if not r["success"])}


def _publish(con, settings: Settings, run_id: str, fingerprint: str | None = None) -> dict:
    """Build and swap in the published file. The run is 'publishing' until the swap is done
    (that is what the published file's own copy of audit.runs shows), 'succeeded' only after it."""
    refused = ingest.refused_files(con)
    if refused:
        more = f" (and {len(refused) - 1} more refused files)" if len(refused) > 1 else ""
        raise InputError(f"{refused[0]}{more}; nothing was published — fix or remove the file and run again")
    runs.record(con, run_id, "publishing", message="building the published file")
    months, scope_text = scope_mod.publish_months(con, settings, run_id)
    path, mode = publish_file(con, settings, run_id, months)
    crashpoint("after_swap")
    message = f"published; {scope_text}" + ("" if mode == "months" else " (published file built anew)")
    log.info("run %s: %s", run_id, message)
    runs.record(
        con,
        run_id,
        "succeeded",
        message=message,
        inputs_fingerprint=fingerprint,
        published_stamp=runs.published_stamp(path),
    )
    months = [
        r[0].isoformat()[:7]
        for r in con.execute("select distinct month from marts.monthly_cost_rollup order by 1").fetchall()
    ]
    return {"published": str(path), "months": months, "publish_mode": mode, "message": message}


def _nothing_new(
    con, settings: Settings, run_id: str, lo, hi, force: bool, summary: RunSummary | None = None
) -> tuple[str | None, str | None]:
    """(fingerprint of a full run's inputs, the run that already published them or None).

    When there is nothing new the run is recorded as succeeded here: no gate, no transform, no
    publish follows, and the published file keeps its bytes."""
    if lo is not None:
        return None, None  # a month range rebuilds part of the ledger: always work to do
    fingerprint = runs.inputs_fingerprint(con, settings)
    since = None if force else runs.nothing_new_since(con, settings, run_id, fingerprint)
    if since:
        message = (
            f"nothing new since {since}: landing, config and code unchanged; the published file "
            "was left as it was (`costledger run --force` rebuilds)"
        )
        runs.record(
            con,
            run_id,
            "succeeded",
            lo,
            hi,
            f"nothing new since {since}",
            summary.timings if summary else None,
            fingerprint,
            runs.published_stamp(settings.published_db),
        )
        log.info("run %s: %s", run_id, message)
        if summary is not None:
            summary.status, summary.message = "succeeded", message
            summary.published = str(settings.published_db)
    return fingerprint, since


# --- public steps (each takes the lock) --------------------------------------------------------


def pull(settings: Settings) -> dict:
    """Copy new or changed exports from the `pull:` object stores into landing/ (a no-op without any).

    Takes pull's own lock on landing/, not the work database's: it may run beside a load.
    """
    from pipeline.errors import PullFailedError
    from pipeline.landing.pull import TransferError
    from pipeline.landing.pull import pull as pull_exports

    try:
        return pull_exports(settings)
    except TransferError as exc:  # the network or the store: a retry may succeed (transient)
        raise PullFailedError(f"pull failed, landing unchanged: {exc}") from exc


@contextlib.contextmanager
def _public_step(settings: Settings, step: str, run_id: str | None = None, lo=None, hi=None, after="waiting"):
    """One step as an orchestrator's task: the lock, the run's row (running while at work,
    then `after`; failed with the one-line message), any error as one line."""
    where = "open the work database"
    try:
        with work_db(settings) as con:
            where = step
            # Once a step of this run failed (a refused file in one source's load), the steps an
            # orchestrator still runs beside it do not make the run look healthy again; a retry
            # of the failed step itself does take the run back.
            failed_elsewhere = False
            if run_id:
                runs.mark_interrupted(con, settings, run_id)
                prev = con.execute(
                    "select status, message from audit.runs where run_id = ?", [run_id]
                ).fetchall()
                failed_elsewhere = (
                    bool(prev) and prev[0][0] == "failed" and not str(prev[0][1]).startswith(f"{step}: ")
                )
                if not failed_elsewhere:
                    runs.record(con, run_id, "running", lo, hi, message=f"in step {step}")
            try:
                yield con
            except BaseException as exc:
                _fail(con, settings, run_id, step, exc, lo, hi)
            if run_id and after and not failed_elsewhere:
                runs.record(con, run_id, after, message=WAITING.format(step=step))
    except CostledgerError:
        raise
    except Exception as exc:  # opening or closing the work database
        err = user_error(exc, where, str(settings.warehouse))
        logs.failure(exc, f"run {run_id or '-'} failed in {where}: {err}")
        raise err from exc


def discover(settings: Settings, allow_missing: bool = False) -> dict:
    """New and changed files per source. Raises InputError when the landing folder does not exist,
    or when more than `ingest.max_missing_share` of the booked files are gone (unless `allow_missing`)."""
    with _public_step(settings, "discover") as con:
        return _discover(con, settings, allow_missing)[0]


def load_source(settings: Settings, source: str, run_id: str, raise_on_refused: bool = True) -> dict:
    """Load one source's new and changed files. Refused files are recorded, then raised."""
    if source not in ingest.SOURCES:
        raise CostledgerError(f"unknown source '{source}' (one of: {', '.join(ingest.SOURCES)})")
    with _public_step(settings, f"load_{source}", run_id) as con:
        summary = _load(con, settings, source, run_id)
        if raise_on_refused and summary["refused"]:
            more = f" (and {len(summary['refused']) - 1} more)" if len(summary["refused"]) > 1 else ""
            raise InputError(summary["refused"][0] + more)
    return summary


def nothing_new(settings: Settings, run_id: str, month_from=None, month_to=None, force: bool = False) -> dict:
    """After the loads: {"nothing_new": True, "since": run} when a full run has nothing to
    gate, transform or publish (the run is then recorded as succeeded), else {"nothing_new": False}.
    An orchestrator short-circuits the remaining steps on True."""
    lo, hi = month_range(month_from, month_to)
    with _public_step(settings, "nothing_new", run_id, lo, hi, after=None) as con:
        _, since = _nothing_new(con, settings, run_id, lo, hi, force)
        if since:
            return {"nothing_new": True, "since": since}
        runs.record(con, run_id, "waiting", message=WAITING.format(step="nothing_new"))
    return {"nothing_new": False}


def forget(settings: Settings, path: str, reason: str, user: str | None = None) -> dict:
    """Take a file that is gone from landing/ out of the books (audit.forgotten_files); the next
    publish no longer carries it."""
    with _public_step(settings, "forget") as con:
        return ingest.forget(con, settings, path, reason, user)


def check_raw(settings: Settings, run_id: str) -> dict:
    with _public_step(settings, "check_raw", run_id) as con:
        return _check_raw(con, settings, run_id)


def transform(settings: Settings, run_id: str, month_from=None, month_to=None, force: bool = False) -> dict:
    lo, hi = month_range(month_from, month_to)
    with _public_step(settings, "transform", run_id, lo, hi) as con:
        return _transform(con, settings, run_id, lo, hi, force)


def check_marts(settings: Settings, run_id: str) -> dict:
    with _public_step(settings, "check_marts", run_id) as con:
        return _check_marts(con, settings, run_id)


def publish(settings: Settings, run_id: str) -> dict:
    with _public_step(settings, "publish", run_id, after=None) as con:
        full = con.execute("select month_from is null from audit.runs where run_id = ?", [run_id]).fetchall()
        fingerprint = runs.inputs_fingerprint(con, settings) if full and full[0][0] else None
        return _publish(con, settings, run_id, fingerprint)


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
    warnings: list[str] = field(default_factory=list)  # duplicates, missing and moved files: one line each
    rejected: list[dict] = field(default_factory=list)  # per file loaded now: rows rejected, cost carried
    # what the run recomputed: "recomputed 2026-02 of 3 months (...)" or "full rebuild: ..."
    scope: str = ""
    publish_mode: str = ""  # "months" (the previous file copied, its changed months replaced) or "full"


def _summarise_ledger(con, summary: RunSummary) -> None:
    summary.months = [
        r[0].isoformat()[:7]
        for r in con.execute("select distinct month from core.allocated_line_items order by 1").fetchall()
    ]
    summary.lines = con.execute("select count(*) from core.allocated_line_items").fetchone()[0]
    summary.coverage = {
        m.isoformat()[:7]: (float(pct) if pct is not None else None)
        for m, pct in con.execute(
            "select month, coverage_pct from marts.rule_coverage order by month"
        ).fetchall()
    }


def run_all(
    settings: Settings,
    month_from=None,
    month_to=None,
    progress: Progress = None,
    run_id: str | None = None,
    force: bool = False,
    allow_missing: bool = False,
) -> RunSummary:
    """Ingest, check, transform, check, publish — under one lock. Raises on failure after
    recording the run as failed; the published file is then exactly as it was.

    A full run (no month range) with nothing new since the last successful publish — landing
    files, config and code unchanged, the published file still the one it left — does no gate,
    no transform and no publish: it is recorded as succeeded, 'nothing new since run-...'.
    `force` rebuilds anyway.

    `allow_missing`: go on even when more than `ingest.max_missing_share` of the booked files
    are gone from landing/ at once (their rows stay booked either way).
    """
    run_id = run_id or new_run_id()
    lo, hi = month_range(month_from, month_to)
    summary = RunSummary(run_id)
    say = progress or (lambda _msg: None)
    step = "open the work database"

    def timed(name, fn, *args):
        nonlocal step
        step = name
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            summary.timings[name] = round(time.perf_counter() - t0, 3)
            log.info("run %s: %s took %.3fs", run_id, name, summary.timings[name])

    try:
        with work_db(settings) as con:
            step = "start"
            log.info("run %s starts: landing %s, warehouse %s", run_id, settings.landing, settings.warehouse)
            runs.mark_interrupted(con, settings, run_id)
            runs.record(con, run_id, "running", lo, hi)
            try:
                found, plans = timed("discover", _discover, con, settings, allow_missing)
                summary.unsupported = found["unsupported"]
                if any(found["sources"].values()) or found["missing"]:
                    quality.warm_up()  # the GX import overlaps with loading instead of adding to it
                crashpoint("before_load")
                for source in ingest.SOURCES:
                    n = len(found["sources"][source])
                    if n:
                        say(f"loading {source}: {n} new or changed file(s)")
                    loaded = timed(
                        f"load_{source}", _load, con, settings, source, run_id, progress, plans[source]
                    )
                    summary.loads.append(loaded)
                    summary.warnings += loaded["warnings"]
                    summary.warnings += [
                        f"{old}: gone; the same content found at {new}, booked there now"
                        for old, new in loaded["moved"].items()
                    ]
                    summary.rejected += loaded["rejected"]
                summary.warnings += [
                    f"{rel}: missing from landing/; its rows stay booked until "
                    f"`costledger forget {shlex.quote(rel)} --reason ...`"
                    for p in plans.values()
                    for rel in (*p.missing, *p.still_missing)
                ]
                step = "fingerprint"
                fingerprint, since = _nothing_new(con, settings, run_id, lo, hi, force, summary)
                if since:
                    _summarise_ledger(con, summary)
                    say(summary.message)
                    return summary
                quality.warm_up()
                say("checking raw data")
                timed("check_raw", _check_raw, con, settings, run_id)
                say("transforming")
                done = timed("transform", _transform, con, settings, run_id, lo, hi, force)
                summary.scope = done.get("scope", "")
                _summarise_ledger(con, summary)
                say("checking marts")
                timed("check_marts", _check_marts, con, settings, run_id)
                say("publishing")
                pub = timed("publish", _publish, con, settings, run_id, fingerprint)
                summary.published = pub["published"]
                summary.publish_mode = pub["publish_mode"]
                summary.status = "succeeded"
                summary.scope = pub["message"].removeprefix("published; ")
                runs.record(con, run_id, "succeeded", lo, hi, pub["message"], summary.timings)
                log.info("run %s succeeded: published %s", run_id, summary.published)
            except BaseException as exc:
                summary.status = "failed" if isinstance(exc, Exception) else "interrupted"
                summary.message = str(exc)
                _fail(con, settings, run_id, step, exc, lo, hi, summary.timings)
            step = "close the work database"
    except CostledgerError:
        raise
    except Exception as exc:  # opening or closing the work database (a full disk, say)
        err = user_error(exc, step, str(settings.warehouse))
        logs.failure(exc, f"run {run_id} failed in {step}: {err}")
        raise err from exc
    return summary


def report_summary(settings: Settings, month: str) -> str:
    """The month's ledger as terminal text, from the published file."""
    from pipeline.report import build_report, render_terminal

    return render_terminal(build_report(settings, month))
