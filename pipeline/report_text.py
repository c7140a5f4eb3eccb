"""The month's ledger as plain text for the terminal: nine leaves, four stages, C_total,
budget and variance. Reads the published file read-only."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import duckdb

from pipeline.errors import CostledgerError
from pipeline.ledger import LEAF_TABLE, STAGE_NAMES, STAGE_SYMBOLS, STAGES
from pipeline.settings import Settings

CENT = Decimal("0.01")


def money(v) -> str:
    if v is None:
        return "-"
    return f"{Decimal(v).quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"


def terminal_summary(settings: Settings, month: str | None = None) -> str:
    if not settings.published_db.exists():
        raise CostledgerError(f"{settings.published_db}: nothing published yet; run `costledger run` first")
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        months = [
            r[0]
            for r in con.execute("select distinct month from marts.monthly_cost_rollup order by 1").fetchall()
        ]
        if not months:
            raise CostledgerError("the published ledger holds no month yet")
        if month:
            wanted = [m for m in months if m.isoformat()[:7] == month[:7]]
            if not wanted:
                raise CostledgerError(
                    f"month {month} is not in the published ledger (months: {months[0]:%Y-%m} .. {months[-1]:%Y-%m})"
                )
            m = wanted[0]
        else:
            m = months[-1]
        leaf = dict(
            con.execute(
                "select leaf, sum(cost) from marts.monthly_leaf_cost where month = ? group by leaf", [m]
            ).fetchall()
        )
        budget = {
            r[0]: (r[1], r[2], r[3])
            for r in con.execute(
                "select stage, budget, actual, variance from marts.budget_vs_actual where month = ? and leaf is null and model_id is null",
                [m],
            ).fetchall()
        }
        cur, basis = con.execute(
            "select any_value(currency), any_value(cost_basis) from marts.monthly_cost_rollup where month = ?",
            [m],
        ).fetchone()
        cov = con.execute("select coverage_pct from marts.rule_coverage where month = ?", [m]).fetchone()
    finally:
        con.close()
    zero = Decimal(0)
    lines = [f"costledger — {m:%Y-%m} — {cur}, {basis} cost", ""]
    lines.append(f"{'':2}{'symbol':<26}{'cost':>18}{'budget':>18}{'variance':>18}")
    total = zero
    for stage in STAGES:
        s_cost = sum((leaf.get(lf, zero) or zero) for st, lf, _, _ in LEAF_TABLE if st == stage)
        total += s_cost
        b = budget.get(stage, (None, None, None))
        lines.append(
            f"  {STAGE_SYMBOLS[stage]:<26}{money(s_cost):>18}{money(b[0]):>18}{money(b[2]):>18}   {STAGE_NAMES[stage]}"
        )
        for st, lf, sym, name in LEAF_TABLE:
            if st == stage:
                lines.append(f"    {sym:<24}{money(leaf.get(lf, zero)):>18}{'':>36}   {name}")
    b = budget.get("total", (None, None, None))
    lines.append(f"  {'C_total':<26}{money(total):>18}{money(b[0]):>18}{money(b[2]):>18}")
    lines.append("")
    lines.append(
        f"  {'unallocated':<26}{money(leaf.get('unallocated', zero)):>18}   (in scope, no rule placed it; coverage {cov[0] if cov else '-'} %)"
    )
    lines.append(
        f"  {'out of scope':<26}{money(leaf.get('out_of_scope', zero)):>18}   (placed by a rule as not AI-model cost)"
    )
    return "\n".join(lines)
