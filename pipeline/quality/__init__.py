"""Quality gates: SQL invariants (sql/checks/) and Great Expectations suites.

`run_gate(con, settings, run_id, stage)` runs the checks of one stage ('raw' or 'marts'),
records every outcome in audit.quality_results and raises QualityGateError when a critical
check fails, naming the check, the table and the offending values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pipeline.errors import QualityGateError
from pipeline.settings import SQL_DIR

CHECKS_DIR = SQL_DIR / "checks"

# check file -> (stage, table, severity)
SQL_CHECKS: dict[str, tuple[str, str, str]] = {
    "assert_cost_conserved_per_file_month": ("marts", "audit.reconciliation", "critical"),
}


def _ensure_table(con) -> None:
    con.execute(
        """
        create table if not exists audit.quality_results (
            run_id varchar, checked_at timestamp, stage varchar, table_name varchar,
            check_name varchar, severity varchar, success boolean, observed varchar
        )
        """
    )


def run_sql_check(con, name: str) -> list[tuple]:
    """Run one sql/checks/<name>.sql; its rows are the offenders (zero rows = healthy)."""
    sql = Path(CHECKS_DIR / f"{name}.sql").read_text(encoding="utf-8")
    return con.execute(sql).fetchall()


def run_gate(con, settings, run_id: str, stage: str) -> list[dict]:
    """Run the stage's checks, record them, raise QualityGateError on a critical failure."""
    _ensure_table(con)
    results = []
    for name, (chk_stage, table, severity) in SQL_CHECKS.items():
        if chk_stage != stage:
            continue
        rows = run_sql_check(con, name)
        observed = f"{len(rows)} offending rows" + (f"; first: {rows[0]}" if rows else "")
        results.append(
            {
                "run_id": run_id,
                "checked_at": datetime.now(UTC).replace(tzinfo=None),
                "stage": stage,
                "table_name": table,
                "check_name": f"{name}.sql",
                "severity": severity,
                "success": not rows,
                "observed": observed,
            }
        )
    con.execute("delete from audit.quality_results where run_id = ? and stage = ?", [run_id, stage])
    for r in results:
        con.execute(
            "insert into audit.quality_results values (?, ?, ?, ?, ?, ?, ?, ?)",
            [r["run_id"], r["checked_at"], r["stage"], r["table_name"], r["check_name"],
             r["severity"], r["success"], r["observed"]],
        )
    failed = [r for r in results if r["severity"] == "critical" and not r["success"]]
    if failed:
        f = failed[0]
        raise QualityGateError(
            f"quality gate failed: {f['check_name']} on {f['table_name']}: {f['observed']}; nothing was published"
        )
    return results
