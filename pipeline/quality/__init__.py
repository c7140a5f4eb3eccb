"""Quality gates: Great Expectations suites (pipeline/quality/suites.py) and SQL invariants (sql/checks/).

`run_gate(con, settings, run_id, stage)` runs the checks of one stage ('raw' after loading,
'marts' after transform), records every outcome in audit.quality_results and raises
QualityGateError when a critical check fails, naming the check, the table and the offending
value class, e.g.

    quality gate failed: expect_column_values_to_be_in_set on staging.stg_focus.billing_currency:
    no FX rate to CNY for currency 'JPY' (2026-05-03 .. 2026-05-31, first in focus/aws/2026-05.csv)

Warnings (unallocated share above the configured threshold, a charge period outside its billing
period, ...) are recorded and reported, never block.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb

from pipeline.clock import now_utc
from pipeline.config.settings import SQL_DIR
from pipeline.db import SCHEMAS, run_sql_script
from pipeline.errors import QualityGateError
from pipeline.quality.model import CRITICAL, WARNING, Outcome, Probe

__all__ = ["CRITICAL", "WARNING", "QualityGateError", "sql_checks", "run_gate", "run_sql_check", "warm_up"]

log = logging.getLogger(__name__)
# GX logs its own plumbing at INFO; a nightly log should show our checks, not its registry.
logging.getLogger("great_expectations").setLevel(logging.WARNING)
# No usage analytics from GX, whichever import comes first (set before any GX import).
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

CHECKS_DIR = SQL_DIR / "checks"
STAGES = ("raw", "marts")


def sql_checks() -> dict[str, tuple[str, str, str, tuple[str, ...]]]:
    """check file -> (stage, table it guards, severity, tables it reads). Zero rows = healthy.

    Derived: the table and severity from the contract that lists the check (`checks:` in
    sql/<schema>/<table>.yml), the tables it reads from its SQL. Checks of raw and staging tables
    run at the raw gate, the others at the marts gate.
    """
    from pipeline.transform.contracts import load_contracts
    from pipeline.transform.runner import references

    out = {}
    for table, contract in load_contracts().items():
        for name, severity in contract.checks.items():
            sql = (CHECKS_DIR / f"{name}.sql").read_text(encoding="utf-8")
            reads = tuple(sorted(r for r in references(sql) if r.split(".")[0] in SCHEMAS))
            stage = "raw" if contract.schema in ("raw", "staging") else "marts"
            out[name] = (stage, table, severity, reads)
    return out


_warm_up: threading.Thread | None = None


def _import_gx() -> None:
    try:
        import great_expectations.expectations  # noqa: F401
    except Exception:  # the gate imports it again and reports a real failure there
        log.debug("background import of great_expectations failed", exc_info=True)


def warm_up() -> None:
    """Import GX (~4-7 s) in a background thread so the first gate does not wait for it.

    Call it when a run starts: the import then overlaps with loading the landing files,
    which spends its time in DuckDB (outside the GIL). Safe to call more than once.
    """
    global _warm_up
    if _warm_up is None:
        _warm_up = threading.Thread(target=_import_gx, name="costledger-gx-import", daemon=True)
        _warm_up.start()


def _ensure_table(con) -> None:
    # audit.quality_results is defined once, with the other audit tables.
    run_sql_script(con, SQL_DIR / "audit" / "create_audit_tables.sql")


def run_sql_check(con, name: str) -> tuple[list[str], list[tuple]]:
    """Run one sql/checks/<name>.sql; its rows are the offenders (zero rows = healthy)."""
    sql = Path(CHECKS_DIR / f"{name}.sql").read_text(encoding="utf-8")
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    return cols, cur.fetchall()


def _fmt(v) -> str:
    if isinstance(v, Decimal):
        return format(v.normalize(), "f")
    if hasattr(v, "strftime"):
        return v.strftime("%Y-%m-%d") if not getattr(v, "hour", 0) else v.isoformat(sep=" ")
    return str(v)


def _sql_outcomes(con, stage: str, tables=None) -> list[Outcome]:
    from pipeline.quality.suites import relation_exists

    outcomes = []
    for name, (chk_stage, table, severity, reads) in sql_checks().items():
        if chk_stage != stage or (tables is not None and table not in tables):
            continue
        absent = [r for r in reads if not relation_exists(con, r)]
        if absent:
            outcomes.append(
                Outcome(
                    stage,
                    table,
                    f"{name}.sql",
                    severity,
                    False,
                    f"cannot check: {', '.join(absent)} does not exist",
                )
            )
            continue
        if month_local(reads):
            n, first = _check_by_month(con, name, reads)
        else:
            cols, rows = run_sql_check(con, name)
            n, first = len(rows), (_shown(cols, rows[0]) if rows else None)
        observed = f"{n} offending rows; first: {first}" if n else "ok"
        outcomes.append(Outcome(stage, table, f"{name}.sql", severity, not n, observed))
    return outcomes


def _shown(cols: list[str], row: tuple) -> str:
    return ", ".join(f"{c}={_fmt(v)}" for c, v in zip(cols, row, strict=True))


def month_local(reads: tuple[str, ...]) -> bool:
    """A check that reads only month-partitioned tables (core.line_items, core.allocated_line_items)
    and returns a `month` column is checked month by month: see _check_by_month."""
    from pipeline.transform.runner import partitioned_models

    return bool(reads) and set(reads) <= set(partitioned_models())


def _month_inputs(con, reads: tuple[str, ...]) -> dict:
    """month -> the month's rows, billed and effective cost in each table the check reads."""
    parts = " union all ".join(
        f"select '{t}' as t, month, count(*) as n, sum(billed_cost) as b, sum(effective_cost) as e "
        f"from {t} group by month"
        for t in reads
    )
    out: dict = {}
    for t, month, n, b, e in con.execute(f"select * from ({parts}) order by t, month").fetchall():
        out.setdefault(month, []).append(f"{t}: {n} rows, {_fmt(b)} / {_fmt(e)}")
    return {m: "; ".join(v) for m, v in out.items()}


def _check_by_month(con, name: str, reads: tuple[str, ...]) -> tuple[int, str | None]:
    """(offending rows, the first one shown) of a month-local check, checking only the months not
    kept in audit.checked_months with the same check and the same inputs (the transform deletes
    the months it rebuilds): a night that recomputes one month checks one month. A month's
    offending rows never depend on another month's (the partitions are computed month by month),
    so the result is the whole check's; the row shown is the first of the earliest month with one."""

    sql = (CHECKS_DIR / f"{name}.sql").read_text(encoding="utf-8")
    sha = hashlib.sha256(sql.encode()).hexdigest()
    inputs = _month_inputs(con, reads)
    kept = {
        m: (n, first)
        for m, n, first, was in con.execute(
            "select month, offending_rows, first_row, inputs from audit.checked_months "
            "where check_name = ? and check_sha256 = ?",
            [name, sha],
        ).fetchall()
        if inputs.get(m) == was
    }
    if None in inputs:  # a row without a month: check it all, keep nothing
        con.execute("delete from audit.checked_months where check_name = ?", [name])
        return _summed(_run_by_month(con, name, sql, None))
    todo = sorted(m for m in inputs if m not in kept)
    found = _run_by_month(con, name, sql, todo if kept else None) if todo else {}
    if set(found) - set(todo):  # a row of no month, or of a month the tables do not hold: keep nothing
        con.execute("delete from audit.checked_months where check_name = ?", [name])
        return _summed({**kept, **found})
    # what is kept stays as it was checked; other checks' SQL, gone months and the months just
    # checked are replaced
    con.execute(
        "delete from audit.checked_months where check_name = ? "
        "and not (check_sha256 = ? and list_contains(?, month))",
        [name, sha, sorted(kept)],
    )
    now = now_utc()
    checked = {m: found.get(m, (0, None)) for m in todo}
    if checked:
        con.executemany(
            "insert into audit.checked_months values (?, ?, ?, ?, ?, ?, ?)",
            [[name, sha, m, inputs[m], n, first, now] for m, (n, first) in checked.items()],
        )
    return _summed({**kept, **checked})


def _run_by_month(con, name: str, sql: str, months: list | None) -> dict:
    """month -> (offending rows, the first shown) of the check, over `months` only when given."""
    from pipeline.transform.runner import narrow_to_months

    if months is not None:
        listed = ", ".join(f"date '{m.isoformat()}'" for m in months)
        sql = narrow_to_months(sql.strip().rstrip(";"), f"month in ({listed})")
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    rows = cur.fetchall()
    if "month" not in cols:
        raise ValueError(f"sql/checks/{name}.sql reads only month partitions but returns no month column")
    at = cols.index("month")
    found: dict = {}
    for row in rows:
        n, first = found.get(row[at], (0, None))
        found[row[at]] = (n + 1, first or _shown(cols, row))
    return found


def _summed(by_month: dict) -> tuple[int, str | None]:
    n = sum(v[0] for v in by_month.values())
    firsts = [v[1] for m, v in sorted(by_month.items(), key=lambda kv: (kv[0] is None, kv[0])) if v[0]]
    return n, (firsts[0] if firsts else None)


def _suite_calls(stage: str) -> list[tuple[str, Callable, str]]:
    """(table, suite function, when the table is absent: 'skip' | 'fail' | 'call')."""
    from functools import partial

    from pipeline.quality import suites

    if stage == "raw":
        calls = [(t, f, "skip") for t, f in suites.raw_suites()]
        # the FX check falls back to the raw tables before the first transform made the views
        calls += [(t, partial(suites.fx_coverage, table=t), "call") for t in suites.STAGING_CHARGES]
        return calls
    return [(t, f, "fail") for t, f in suites.marts_suites()]


def collect_probes(con, settings, stage: str, tables=None) -> tuple[list[Probe], list[Outcome]]:
    """Build the stage's probes; a suite that cannot even build its frames is a failed critical check."""
    from pipeline.quality.suites import relation_exists

    probes: list[Probe] = []
    broken: list[Outcome] = []
    for table, suite, if_absent in _suite_calls(stage):
        if tables is not None and table not in tables:
            continue
        if if_absent != "call" and not relation_exists(con, table):
            if if_absent == "fail":
                broken.append(
                    Outcome(
                        stage,
                        table,
                        "expect_table_to_exist",
                        CRITICAL,
                        False,
                        f"{table} does not exist (did the transform run?)",
                    )
                )
            continue
        try:
            probes.extend(suite(con, settings))
        except duckdb.Error as exc:
            broken.append(
                Outcome(stage, table, "suite_could_not_run", CRITICAL, False, str(exc).splitlines()[0])
            )
    return probes, broken


def run_gate(con, settings, run_id: str, stage: str, tables=None) -> list[dict]:
    """Run the stage's checks, record them, raise QualityGateError on a critical failure.

    `tables` limits the gate to the checks guarding those tables (re-checking one table);
    the default runs them all. Returns one dict per check (the rows written to
    audit.quality_results).
    """
    from pipeline.quality.gx_runner import new_context, validate_probe

    if stage not in STAGES:
        raise ValueError(f"unknown quality gate stage {stage!r} (one of {', '.join(STAGES)})")
    started = time.perf_counter()
    _ensure_table(con)
    tables = None if tables is None else set(tables)
    probes, outcomes = collect_probes(con, settings, stage, tables)
    pulled = time.perf_counter()
    batch_definition = new_context()
    for probe in probes:
        outcomes.extend(validate_probe(batch_definition, probe, stage))
    validated = time.perf_counter()
    outcomes.extend(_sql_outcomes(con, stage, tables))
    finished = time.perf_counter()
    log.info(
        "quality gate %s: %d checks (%d probes) in %.2fs (frames %.2fs, GX %.2fs, SQL checks %.2fs)",
        stage,
        len(outcomes),
        len(probes),
        finished - started,
        pulled - started,
        validated - pulled,
        finished - validated,
    )

    checked_at = now_utc()
    results = [
        {
            "run_id": run_id,
            "checked_at": checked_at,
            "stage": stage,
            "table_name": o.table_name,
            "check_name": o.check_name,
            "severity": o.severity,
            "success": o.success,
            "observed": o.observed if o.column is None or o.success else f"{o.column}: {o.observed}",
        }
        for o in outcomes
    ]
    if tables is None:
        con.execute("delete from audit.quality_results where run_id = ? and stage = ?", [run_id, stage])
    else:
        con.execute(
            "delete from audit.quality_results where run_id = ? and stage = ? and list_contains(?, table_name)",
            [run_id, stage, sorted(tables)],
        )
    if results:
        con.executemany(
            "insert into audit.quality_results values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    r["run_id"],
                    r["checked_at"],
                    r["stage"],
                    r["table_name"],
                    r["check_name"],
                    r["severity"],
                    r["success"],
                    r["observed"],
                ]
                for r in results
            ],
        )
    for o in outcomes:
        if not o.success and o.severity == WARNING:
            log.warning("quality warning: %s on %s: %s", o.check_name, o.where, o.observed)
    failed = [o for o in outcomes if o.severity == CRITICAL and not o.success]
    if failed:
        f = failed[0]
        more = (
            f" (+{len(failed) - 1} more critical failures in audit.quality_results)"
            if len(failed) > 1
            else ""
        )
        raise QualityGateError(f"quality gate failed: {f.check_name} on {f.where}: {f.observed}{more}")
    return results
