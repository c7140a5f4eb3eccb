"""The planning sections of the monthly report (docs/planning.md): owned hardware, unit cost,
forecast against budget, anomalies. Each is read from its published mart, when the published
file has it, into a small table of strings; render.py lays them out like the other sections.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pipeline.report.fmt import DASH, money, month_label, signed_money
from pipeline.report.i18n import t
from pipeline.report.queries import columns, tables

CHART_FORECAST = "forecast"
CHART_SCENARIOS = "scenarios"
CHART_UNIT_COST = "unit_cost"


@dataclass(frozen=True)
class ForecastChart:
    """C_total month by month: what it cost, then the forecast with its interval; the budget."""

    actual: tuple[tuple[date, Decimal], ...]
    forecast: tuple[tuple[date, Decimal, Decimal | None, Decimal | None], ...]  # month, point, lower, upper
    budget: tuple[tuple[date, Decimal], ...]
    coverage: float
    name: str = CHART_FORECAST


@dataclass(frozen=True)
class ScenarioChart:
    """Each strategy's cumulative cash difference from the baseline (capex when paid), the quantity
    break-even is decided on: a strategy breaks even where its line goes below zero to stay."""

    cumulative: tuple[tuple[str, tuple[tuple[date, Decimal], ...]], ...]  # strategy id, (month, running sum)
    break_even: tuple[tuple[str, date], ...]
    name: str = CHART_SCENARIOS


@dataclass(frozen=True)
class UnitCostChart:
    """Each model's unit cost month by month (one volume metric each), up to the report's month."""

    series: tuple[tuple[str, tuple[tuple[date, Decimal], ...]], ...]  # 'model · metric', (month, unit cost)
    name: str = CHART_UNIT_COST


@dataclass(frozen=True)
class PlanningSection:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: str
    notes: tuple[str, ...] = ()
    chart: ForecastChart | ScenarioChart | UnitCostChart | None = (
        None  # drawn by charts.py when a picture says more
    )


def _dicts(con, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _rate(x: Decimal | None, digits: int = 2) -> str:
    if x is None:
        return DASH
    return f"{x:,.{digits}f}"


def _share(x: Decimal | None) -> str:
    return DASH if x is None else f"{x * 100:+.1f}%"


def owned_hardware(con, lang: str, month: date) -> PlanningSection | None:
    """Owned hardware booked in the month, and every change of useful life in force by then."""
    rows = _dicts(
        con,
        """
        select resource_id as asset_id,
               (select any_value(a.description) from marts.asset_register a where a.asset_id = resource_id)
                   as description,
               string_agg(distinct coalesce(model_id, '-'), ', ' order by coalesce(model_id, '-')) as models,
               any_value(leaf) as leaf,
               coalesce(sum(cost) filter (sku_id = 'depreciation'), 0) as depreciation,
               coalesce(sum(cost) filter (sku_id = 'maintenance'), 0) as maintenance,
               sum(cost) filter (sku_id = 'disposal') as disposal
        from marts.cost_line_items
        where source_system = 'asset' and month = ?
        group by resource_id order by depreciation desc, asset_id""",
        [month],
    )
    changes = _dicts(
        con,
        """
        select asset_id, effective_month, previous_useful_life_months, useful_life_months,
               previous_salvage_value, salvage_value, monthly_depreciation, currency
        from marts.asset_register where is_change and effective_month <= ?
        order by effective_month, asset_id""",
        [month],
    )
    if not rows and not changes:
        return None
    notes = tuple(
        t(
            lang,
            "plan.asset_change",
            asset=c["asset_id"],
            month=month_label(c["effective_month"]),
            before=c["previous_useful_life_months"],
            after=c["useful_life_months"],
            monthly=money(c["monthly_depreciation"]),
            currency=c["currency"],
        )
        for c in changes
    )
    return PlanningSection(
        t(lang, "plan.assets"),
        (
            t(lang, "plan.asset"),
            t(lang, "model"),
            t(lang, "leaf"),
            t(lang, "plan.depreciation"),
            t(lang, "plan.maintenance"),
            t(lang, "plan.disposal"),
        ),
        tuple(
            (
                f"{r['asset_id']} {r['description'] or ''}".strip(),
                r["models"],
                r["leaf"],
                money(r["depreciation"]),
                money(r["maintenance"]),
                signed_money(r["disposal"]) if r["disposal"] is not None else DASH,
            )
            for r in rows
        ),
        "lllrrr",
        notes,
    )


def _unit_value(metric: str, x: Decimal | None) -> str:
    if x is None:
        return DASH
    return f"{x * 100:.3f}%" if metric == "gmv" else f"{x:,.4f}"


def unit_cost(con, lang: str, month: date) -> PlanningSection | None:
    """Cost per 1,000 searches / recommendations / impressions, per order, share of GMV."""
    rows = _dicts(
        con,
        """
        select grain, coalesce(model_id, scenario) as subject, metric, unit, metric_value, unit_cost,
               previous_unit_cost, change_share
        from marts.unit_cost
        where month = ?
          and (grain = 'model' or metric in ('orders', 'gmv'))
        order by grain, subject, metric""",
        [month],
    )
    if not rows:
        return None
    return PlanningSection(
        t(lang, "plan.unit_cost"),
        (
            t(lang, "plan.subject"),
            t(lang, "plan.unit"),
            t(lang, "plan.volume"),
            t(lang, "plan.unit_cost_col"),
            t(lang, "last_month"),
            t(lang, "plan.change"),
        ),
        tuple(
            (
                r["subject"],
                r["unit"],
                money(r["metric_value"]) if r["metric"] == "gmv" else f"{r['metric_value']:,.0f}",
                _unit_value(r["metric"], r["unit_cost"]),
                _unit_value(r["metric"], r["previous_unit_cost"]),
                _share(r["change_share"]),
            )
            for r in rows
        ),
        "llrrrr",
        (t(lang, "plan.unit_cost_note"),),
        _unit_cost_chart(con, month),
    )


def _unit_cost_chart(con, month: date, history: int = 12) -> UnitCostChart | None:
    """The models' unit costs over the last `history` months to `month`; none before two months.
    (Scenarios are left to the table: their orders and GMV ratios would crowd the picture.)"""
    rows = _dicts(
        con,
        """
        select model_id || ' · ' || metric as series, month, unit_cost
        from marts.unit_cost
        where grain = 'model' and unit_cost is not null and month <= ?
          and month > ? - to_months(?)
        order by series, month""",
        [month, month, history],
    )
    series: dict[str, list[tuple[date, Decimal]]] = {}
    for r in rows:
        series.setdefault(r["series"], []).append((r["month"], r["unit_cost"]))
    if not series or max(len(v) for v in series.values()) < 2:
        return None
    return UnitCostChart(tuple((k, tuple(v)) for k, v in series.items()))


def anomalies(con, lang: str, month: date, limit: int = 8) -> PlanningSection | None:
    """The month's spikes (the month itself and its days), largest first, with their top line."""
    rows = _dicts(
        con,
        """
        select grain, period, model_id, leaf, cost, baseline_median, excess, robust_z, line_count,
               json_extract_string(driver_lines, '$[0].service') as top_service,
               cast(json_extract_string(driver_lines, '$[0].cost') as decimal(38,10)) as top_cost
        from marts.cost_anomalies where month = ?
        order by grain desc, excess desc limit ?""",
        [month, limit],
    )
    total = con.execute("select count(*) from marts.cost_anomalies where month = ?", [month]).fetchone()[0]
    notes = [t(lang, "plan.anomaly_method")]
    if total > len(rows):
        notes.append(t(lang, "plan.more", n=total - len(rows)))
    return PlanningSection(
        t(lang, "plan.anomalies"),
        (
            t(lang, "plan.when"),
            t(lang, "model"),
            t(lang, "leaf"),
            t(lang, "amount"),
            t(lang, "plan.median"),
            t(lang, "plan.excess"),
            t(lang, "plan.top_line"),
        ),
        tuple(
            (
                month_label(r["period"]) if r["grain"] == "month" else r["period"].isoformat(),
                r["model_id"],
                r["leaf"],
                money(r["cost"]),
                money(r["baseline_median"]),
                signed_money(r["excess"]),
                f"{r['top_service']} {money(r['top_cost'])}" if r["top_service"] else DASH,
            )
            for r in rows
        ),
        "lllrrrl",
        tuple(notes),
    )


def forecast(con, lang: str, month: date, months: int = 6) -> PlanningSection | None:
    """C_total's next months with their interval and budget, the month's run rate, the backtest error."""
    rows = _dicts(
        con,
        """
        select month, method, point, lower, upper, interval_coverage, budget, backtest_mape, backtest_months,
               backtest_coverage
        from marts.cost_forecast where kind = 'forecast' and level = 'total' and horizon_months <= ?
        order by month""",
        [months],
    )
    if not rows:
        return None
    notes = []
    burn = _dicts(
        con,
        "select month_to_date, projected, budget, days_covered, days_in_month from marts.budget_burn "
        "where month = ? and stage = 'total'",
        [month],
    )
    if burn:
        b = burn[0]
        notes.append(
            t(
                lang,
                "plan.run_rate",
                mtd=money(b["month_to_date"]),
                days=b["days_covered"] or b["days_in_month"],
                of=b["days_in_month"],
                projected=money(b["projected"]),
                budget=money(b["budget"]) if b["budget"] is not None else DASH,
            )
        )
    r0 = rows[0]
    if r0["backtest_months"]:
        notes.append(
            t(
                lang,
                "plan.backtest",
                n=r0["backtest_months"],
                mape=f"{r0['backtest_mape'] * 100:.1f}%" if r0["backtest_mape"] is not None else DASH,
                coverage=f"{r0['backtest_coverage'] * 100:.0f}%"
                if r0["backtest_coverage"] is not None
                else DASH,
            )
        )
    notes.append(t(lang, "plan.forecast_method", coverage=f"{r0['interval_coverage'] * 100:.0f}%"))
    return PlanningSection(
        t(lang, "plan.forecast"),
        (
            t(lang, "plan.month"),
            t(lang, "plan.method"),
            t(lang, "plan.point"),
            t(lang, "plan.interval"),
            t(lang, "budget"),
        ),
        tuple(
            (
                month_label(r["month"]),
                r["method"],
                money(r["point"]),
                f"{money(r['lower'])} - {money(r['upper'])}" if r["lower"] is not None else DASH,
                money(r["budget"]) if r["budget"] is not None else DASH,
            )
            for r in rows
        ),
        "llrrr",
        tuple(notes),
        _forecast_chart(con, rows),
    )


def _forecast_chart(con, rows: list[dict[str, Any]], history: int = 12) -> ForecastChart | None:
    """The last `history` months of C_total and their budgets (marts.budget_vs_actual) before the
    forecast; none with fewer than two months of history to draw a line through."""
    if "marts.budget_vs_actual" not in tables(con) or not {"actual", "budget"} <= columns(
        con, "marts.budget_vs_actual"
    ):
        return None
    first = rows[0]["month"]
    past = _dicts(
        con,
        """
        select month, actual, budget from marts.budget_vs_actual
        where stage = 'total' and leaf is null and model_id is null and month < ?
        order by month desc limit ?""",
        [first, history],
    )[::-1]
    if len(past) < 2:
        return None
    budget = [(r["month"], r["budget"]) for r in past + rows if r["budget"] is not None]
    return ForecastChart(
        actual=tuple((r["month"], r["actual"] or Decimal(0)) for r in past),
        forecast=tuple((r["month"], r["point"], r["lower"], r["upper"]) for r in rows),
        budget=tuple(budget),
        coverage=float(rows[0]["interval_coverage"] or 0),
    )


def scenario_summary(con, months: int) -> list[dict[str, Any]]:
    """Per strategy over the first `months` forecast months: C_total, the difference from the
    baseline (cost and cash basis), and the break-even month (the first month from which the
    cumulative cash difference stays at or below zero until the last month shown)."""
    return _dicts(
        con,
        """
        with t as (
            select * from marts.scenario_projection where level = 'total' and horizon_months <= ?
        ),
        stays as (
            select strategy_id, month,
                   max(cumulative_cash_difference) over (partition by strategy_id order by month
                       rows between current row and unbounded following) <= 0 as stays_below
            from t
        )
        select t.strategy_id, any_value(t.strategy_name) as strategy_name, sum(t.projected) as c_total,
               sum(t.difference) as difference, sum(t.projected_cash - t.baseline) as cash_difference,
               sum(t.capex) as capex,
               (select min(s.month) from stays s where s.strategy_id = t.strategy_id and s.stays_below)
                   as break_even_month
        from t group by t.strategy_id
        order by t.strategy_id <> 'baseline', difference, t.strategy_id""",
        [months],
    )


def scenario_leaves(con, months: int) -> list[dict[str, Any]]:
    """C_total's nine leaves per strategy, summed over the first `months` forecast months."""
    return _dicts(
        con,
        """
        select strategy_id, leaf, sum(projected) as projected
        from marts.scenario_projection where level = 'leaf' and horizon_months <= ?
        group by all order by strategy_id, leaf""",
        [months],
    )


def scenarios(con, lang: str, month: date, months: int = 12) -> PlanningSection | None:
    """The strategies of config/scenarios.yaml side by side over the next months."""
    rows = scenario_summary(con, months)
    if len(rows) <= 1:  # the baseline alone: no strategy declared
        return None
    span = con.execute(
        "select min(month), max(month) from marts.scenario_projection where horizon_months <= ?", [months]
    ).fetchone()
    return PlanningSection(
        t(lang, "plan.scenarios"),
        (
            t(lang, "plan.strategy"),
            t(lang, "plan.c_total_n", n=months),
            t(lang, "plan.vs_baseline"),
            t(lang, "plan.cash_vs_baseline"),
            t(lang, "plan.break_even"),
        ),
        tuple(
            (
                r["strategy_name"],
                money(r["c_total"]),
                signed_money(r["difference"]) if r["strategy_id"] != "baseline" else DASH,
                signed_money(r["cash_difference"]) if r["strategy_id"] != "baseline" else DASH,
                (month_label(r["break_even_month"]) if r["break_even_month"] else t(lang, "plan.not_within"))
                if r["strategy_id"] != "baseline"
                else DASH,
            )
            for r in rows
        ),
        "lrrrl",
        (t(lang, "plan.scenario_note", first=month_label(span[0]), last=month_label(span[1])),),
        _scenario_chart(con, rows, months),
    )


def _scenario_chart(con, summary: list[dict[str, Any]], months: int) -> ScenarioChart | None:
    """Each strategy's cumulative cash difference from the baseline, month by month; none with one
    month. (Cumulative C_total itself would draw lines a few per cent apart: the gap is the news.)"""
    monthly = _dicts(
        con,
        """
        select strategy_id, month, cumulative_cash_difference as cumulative
        from marts.scenario_projection where level = 'total' and horizon_months <= ?
        order by month""",
        [months],
    )
    by_strategy: dict[str, list[tuple[date, Decimal]]] = {r["strategy_id"]: [] for r in summary}
    for r in monthly:
        by_strategy.setdefault(r["strategy_id"], []).append((r["month"], r["cumulative"] or Decimal(0)))
    if max(len(v) for v in by_strategy.values()) < 2:
        return None
    return ScenarioChart(
        cumulative=tuple((sid, tuple(points)) for sid, points in by_strategy.items()),
        break_even=tuple(
            (r["strategy_id"], r["break_even_month"])
            for r in summary
            if r["strategy_id"] != "baseline" and r["break_even_month"] is not None
        ),
    )


def findings(con, lang: str, month: date, limit: int = 5) -> PlanningSection | None:
    """The top findings of the ledger's latest month (shown in that month's report only)."""
    rows = _dicts(
        con,
        "select rule, model_id, money_at_stake, evidence, hint from marts.findings where month = ? "
        "order by rank limit ?",
        [month, limit],
    )
    if not rows:
        return None
    return PlanningSection(
        t(lang, "plan.findings"),
        (t(lang, "plan.rule"), t(lang, "model"), t(lang, "plan.at_stake"), t(lang, "plan.evidence")),
        tuple(
            (r["rule"], r["model_id"] or DASH, money(r["money_at_stake"]), f"{r['evidence']}; {r['hint']}")
            for r in rows
        ),
        "llrl",
        (t(lang, "plan.findings_note"),),
    )


SECTIONS = (
    ("marts.findings", findings),
    ("marts.scenario_projection", scenarios),
    ("marts.cost_forecast", forecast),
    ("marts.unit_cost", unit_cost),
    ("marts.cost_anomalies", anomalies),
    ("marts.asset_register", owned_hardware),
)


def planning_sections(con, tables: set[str], lang: str, month: date) -> tuple[PlanningSection, ...]:
    """Every planning section the published file has data for, in report order."""
    out = []
    for table, build in SECTIONS:
        if table in tables:
            section = build(con, lang, month)
            if section is not None:
                out.append(section)
    return tuple(out)


def _table(headers: list[str], rows: list[list[str]], align: str) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, align, strict=True)
        ).rstrip()

    return "\n".join([fmt(headers), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)])


def plan_text(con, months: int, lang: str = "en") -> str:
    """`costledger plan`: the strategies side by side with the baseline, month by month and by
    leaf, then each one's cumulative difference and break-even month."""
    summary = scenario_summary(con, months)
    if not summary:
        return t(lang, "plan.no_forecast")
    ids = [r["strategy_id"] for r in summary]
    names = {r["strategy_id"]: r["strategy_name"] for r in summary}
    monthly = _dicts(
        con,
        """
        select month, strategy_id, projected, cumulative_difference
        from marts.scenario_projection where level = 'total' and horizon_months <= ? order by month""",
        [months],
    )
    by_month: dict[date, dict[str, Decimal]] = {}
    for r in monthly:
        by_month.setdefault(r["month"], {})[r["strategy_id"]] = r["projected"]
    parts = [t(lang, "plan.scenarios") + f" ({months})", ""]
    parts += [f"  {i}: {names[i]}" for i in ids]
    parts.append("")
    parts.append(
        _table(
            [t(lang, "plan.month"), *ids],
            [[month_label(m), *(money(v.get(i)) for i in ids)] for m, v in sorted(by_month.items())],
            "l" + "r" * len(ids),
        )
    )
    leaves: dict[str, dict[str, Decimal]] = {}
    for r in scenario_leaves(con, months):
        leaves.setdefault(r["leaf"], {})[r["strategy_id"]] = r["projected"]
    parts += ["", t(lang, "plan.by_leaf", n=months)]
    parts.append(
        _table(
            [t(lang, "leaf"), *ids],
            [[leaf, *(money(v.get(i)) for i in ids)] for leaf, v in leaves.items()],
            "l" + "r" * len(ids),
        )
    )
    parts += ["", t(lang, "plan.summary", n=months)]
    parts.append(
        _table(
            [
                t(lang, "plan.strategy"),
                t(lang, "plan.c_total_n", n=months),
                t(lang, "plan.vs_baseline"),
                t(lang, "plan.cash_vs_baseline"),
                t(lang, "plan.break_even"),
            ],
            [
                [
                    r["strategy_id"],
                    money(r["c_total"]),
                    signed_money(r["difference"]) if r["strategy_id"] != "baseline" else DASH,
                    signed_money(r["cash_difference"]) if r["strategy_id"] != "baseline" else DASH,
                    (
                        month_label(r["break_even_month"])
                        if r["break_even_month"]
                        else t(lang, "plan.not_within")
                    )
                    if r["strategy_id"] != "baseline"
                    else DASH,
                ]
                for r in summary
            ],
            "lrrrl",
        )
    )
    return "\n".join(parts)
