"""staging -> core -> marts: the SQL models in sql/, built in order inside one transaction.

Each SQL file is one `select` (import CTEs, logic CTEs, `select * from final`); this module
decides only how it is materialised: a view, a table rebuilt in full, or a table whose month
partition is replaced (core line items: a run over 2026-10 replaces 2026-10 and nothing else).
"""

from __future__ import annotations

import contextlib
from datetime import date

import duckdb

from pipeline.config.settings import SQL_DIR, Settings
from pipeline.db import read_sql
from pipeline.errors import InputError, MissingRateError

VIEWS = (
    ("staging.stg_focus", "staging/stg_focus.sql"),
    ("staging.stg_aws_cur", "staging/stg_aws_cur.sql"),
    ("staging.stg_gcp_billing", "staging/stg_gcp_billing.sql"),
    ("staging.stg_azure_cost", "staging/stg_azure_cost.sql"),
    ("staging.stg_focus_contract_commitments", "staging/stg_focus_contract_commitments.sql"),
    ("staging.stg_invoices", "staging/stg_invoices.sql"),
    ("staging.stg_timesheets", "staging/stg_timesheets.sql"),
    ("staging.stg_fx_rates", "staging/stg_fx_rates.sql"),
    ("staging.stg_budgets", "staging/stg_budgets.sql"),
    ("staging.stg_usage_metrics", "staging/stg_usage_metrics.sql"),
    ("core.int_line_items_unioned", "intermediate/int_line_items_unioned.sql"),
)
# People cost (docs/privacy.md): the lines with their candidate groups, the finest groups, and
# the step that merges groups upward, run once per level (1 = month x leaf x model x activity x
# team ... 4 = month).
PEOPLE_LINES = "intermediate/int_people_cost_lines.sql"
PEOPLE_CELLS = "intermediate/int_people_cost_cells.sql"
PEOPLE_MERGE_STEP = "intermediate/int_people_cost_cells_merged.sql"
PEOPLE_LEVELS = (1, 2, 3, 4)
# The line-level mart is a view in the work database (a copy of core would double the largest
# table); publish materialises it into the published file.
MART_VIEWS = (("marts.cost_line_items", "marts/cost_line_items.sql"),)
MARTS = (
    ("marts.monthly_leaf_cost", "marts/monthly_leaf_cost.sql"),
    ("marts.monthly_cost_rollup", "marts/monthly_cost_rollup.sql"),
    ("marts.budget_vs_actual", "marts/budget_vs_actual.sql"),
    ("marts.rule_coverage", "marts/rule_coverage.sql"),
    ("marts.data_freshness", "marts/data_freshness.sql"),
    ("marts.contract_commitments", "marts/contract_commitments.sql"),
)


def _model_sql(rel: str) -> str:
    return read_sql(SQL_DIR / rel).strip().rstrip(";")


def build_views(con: duckdb.DuckDBPyConnection) -> None:
    """The staging views (cheap; rebuilt every run so they follow the SQL files)."""
    for name, rel in VIEWS:
        con.execute(f"create or replace view {name} as\n{_model_sql(rel)}")


def _table_type(con, name: str) -> str | None:
    """'BASE TABLE', 'VIEW', or None when the object does not exist."""
    schema, table = name.split(".")
    row = con.execute(
        "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return row[0] if row else None


def _build_partitioned(con, name: str, rel: str, month_from: date | None, month_to: date | None) -> None:
    sql = _model_sql(rel)
    if month_from is None or _table_type(con, name) != "BASE TABLE":
        con.execute(f"create or replace table {name} as\n{sql}")
        return
    params = {"month_from": month_from, "month_to": month_to}
    con.execute(f"delete from {name} where month between $month_from and $month_to", params)
    try:
        con.execute(
            f"insert into {name} by name select * from ({sql}) where month between $month_from and $month_to",
            params,
        )
    except duckdb.BinderException:
        # The model's columns changed since the table was built: rebuild it whole.
        con.execute(f"create or replace table {name} as\n{sql}")


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
        raise MissingRateError(
            f"no FX rate from {ccy} to {rep} for charges {lo} .. {hi} ({n} lines, e.g. {example}){more}; "
            f"add {ccy},{rep} rates under landing/fx_rates/"
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


def _build_people_cost(con) -> None:
    """Decide the published grain of people cost (docs/privacy.md), level by level.

    core.people_cost_lines is the line-level people cost (pseudonym, hours, rate) for auditors;
    core.people_cost_cells maps each finest group to the published row it ends in. Both are
    rebuilt whole from core.allocated_line_items: a group never spans months, but a rebuild of a
    few thousand cells is cheaper to reason about than a partial one.
    """
    con.execute(f"create or replace table core.people_cost_lines as\n{_model_sql(PEOPLE_LINES)}")
    con.execute(f"create or replace table core.people_cost_cells as\n{_model_sql(PEOPLE_CELLS)}")
    step = _model_sql(PEOPLE_MERGE_STEP)
    for level in PEOPLE_LEVELS:
        con.execute(f"create or replace table core.people_cost_cells as\n{step}", {"level": level})


def run_transform(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    month_from: date | None = None,
    month_to: date | None = None,
) -> dict:
    """Build core and marts; replace only the given months of core when a range is given."""
    con.execute("begin transaction")
    try:
        build_views(con)
        _build_partitioned(
            con, "core.line_items", "intermediate/int_line_items_converted.sql", month_from, month_to
        )
        _assert_priced(con)
        con.execute(
            f"create or replace table core.int_rule_matches as\n{_model_sql('intermediate/int_rule_matches.sql')}"
        )
        _build_partitioned(
            con,
            "core.allocated_line_items",
            "intermediate/int_line_items_allocated.sql",
            month_from,
            month_to,
        )
        _build_people_cost(con)
        for name, rel in MART_VIEWS:
            if _table_type(con, name) == "BASE TABLE":  # warehouses built before it became a view
                con.execute(f"drop table {name}")
            con.execute(f"create or replace view {name} as\n{_model_sql(rel)}")
        for name, rel in MARTS:
            con.execute(f"create or replace table {name} as\n{_model_sql(rel)}")
        con.execute(
            f"create or replace table audit.reconciliation as\n{_model_sql('audit/reconciliation.sql')}"
        )
        con.execute(
            "create or replace view audit.reconciliation_published as\n"
            f"{_model_sql('audit/reconciliation_published.sql')}"
        )
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
    return {"months": months, "lines": lines}
