"""staging -> core -> marts: the SQL models in sql/, built in order inside one transaction.

Each SQL file is one `select` (import CTEs, logic CTEs, `select * from final`); the contract
beside it (`<table>.yml`) says how it is materialised, and `runner.py` finds the models and
builds them in the order their SQL reads each other. This module holds the transaction and
the checks that stop a run on cost that cannot be valued.
"""

from __future__ import annotations

import contextlib
from datetime import date

import duckdb

from pipeline.config.settings import Settings
from pipeline.crashpoints import crashpoint
from pipeline.errors import InputError, MissingRateError
from pipeline.transform import runner
from pipeline.transform.scope import Scope, record_built


def build_views(con: duckdb.DuckDBPyConnection) -> None:
    """The staging views alone (cheap; tests of one staging model build only these)."""
    runner.build(con, schemas=("staging",))


def _assert_priced(con) -> None:
    """Loud, named errors for cost that cannot be valued: a missing FX rate or hourly rate."""
    missing_fx = con.execute(
        """
        select billing_currency, any_value(reporting_currency),
               strftime(min(charge_period_start), '%Y-%m-%d'), strftime(max(charge_period_start), '%Y-%m-%d'),
               count(*), arg_min(source_file || ' line ' || source_row, (source_file, source_row))
        from core.line_items
        where fx_rate is null and billed_cost_original is not null and not is_superseded
        group by billing_currency order by billing_currency
        """
    ).fetchall()
    if missing_fx:
        ccy, rep, lo, hi, n, example = missing_fx[0]
        more = f" (and {len(missing_fx) - 1} more currencies)" if len(missing_fx) > 1 else ""
        pivots = [
            p
            for p in con.execute("select value from config.settings where key = 'fx_pivots'")
            .fetchone()[0]
            .split(",")
            if p and p not in (ccy, rep)
        ]
        tried = ", ".join([f"{ccy}→{rep}", f"{rep}→{ccy}", *(f"{ccy}→{p} + {p}→{rep}" for p in pivots)])
        raise MissingRateError(
            f"no FX rate from {ccy} to {rep} for charges {lo} .. {hi} ({n} lines, e.g. {example}){more}; "
            f"tried {tried}; add {ccy},{rep} rates under landing/fx_rates/"
            + (" (or set fx.pivots in costledger.yaml)" if not pivots else "")
        )
    unpriced = con.execute(
        """
        select count(*), arg_min(source_file || ' line ' || source_row, (source_file, source_row)),
               strftime(min(charge_period_start), '%Y-%m-%d')
        from core.line_items
        where source_system = 'timesheet' and billed_cost_original is null and not is_superseded
        """
    ).fetchone()
    if unpriced[0]:
        # the file and line find the row; the error (and audit.runs, which is published) names no one
        n, example, day = unpriced
        raise InputError(
            f"no hourly rate in force for {n} time-log rows (e.g. {example}, from {day}); "
            "add a rate for the employee or the role under landing/hr_rates/"
        )


def _after_line_items(con) -> None:
    """core.line_items is built: stop on cost that cannot be valued (and, under the fault tests,
    die here, inside the transaction, with allocation and marts still to build)."""
    _assert_priced(con)
    crashpoint("mid_transform")


def run_transform(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    month_from: date | None = None,
    month_to: date | None = None,
    scope: Scope | None = None,
) -> dict:
    """Build core and marts; replace only the given months of core when a range is given, or
    only the scope's months when it names some (an incremental run, pipeline/transform/scope.py).
    With a scope, the record of what core was built from is written in the same transaction."""
    months = loads = None
    if scope is not None and scope.mode == "months":
        months, loads = scope.months, scope.loads
    con.execute("begin transaction")
    try:
        # the month-local checks kept for the months rebuilt here no longer hold (pipeline/quality)
        if months is not None:
            con.execute("delete from audit.checked_months where list_contains(?, month)", [months])
        else:
            con.execute("delete from audit.checked_months")
        runner.build(
            con, month_from, month_to, hooks={"assert_priced": _after_line_items}, months=months, loads=loads
        )
        if scope is not None:
            record_built(con, scope)
        con.execute("commit")
    except Exception:
        # a failed commit (a full disk) has already ended the transaction: keep its error, not this one
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        raise
    months = [
        r[0].isoformat()[:7]
        for r in con.execute("select distinct month from core.allocated_line_items order by 1").fetchall()
    ]
    lines = con.execute("select count(*) from core.allocated_line_items").fetchone()[0]
    done = {"months": months, "lines": lines}
    if scope is not None:
        done["scope"] = scope.describe()
    return done
