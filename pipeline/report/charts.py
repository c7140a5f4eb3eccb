"""The PNG charts (matplotlib, Agg). Floats are used for drawing only, never for figures shown as text.

Labels are symbols, ids and months, which read the same in every language and need no CJK font;
the caption above each chart (render.py) says in the reader's language what the symbols mean.
Two charts always (stages, leaves); one per planning section that carries chart data
(planning.py: forecast against budget, the strategies against the baseline, unit cost).
"""

from __future__ import annotations

import io

from pipeline.ledger import LEAF_TABLE, PEOPLE_MERGED, PEOPLE_MERGED_SYMBOL, STAGE_SYMBOLS, STAGES
from pipeline.report.fmt import month_label
from pipeline.report.planning import ForecastChart, ScenarioChart, UnitCostChart

STAGE_COLORS = {"pretrain": "#3b6ea5", "tuning": "#6aa84f", "deploy": "#e69138", "maintenance": "#8e7cc3"}
MERGED_COLOR = "#98a2b3"
INK = "#1f2933"
CHART_STAGES = "stages"
CHART_LEAVES = "leaves"


def _png(fig) -> bytes:
    buf = io.BytesIO()
    # No Software/date metadata: the same figures give the same bytes.
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height))
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y" if width > height else "x", color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)
    return fig, ax


def _thousands(ax, axis: str) -> None:
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _pos: f"{v:,.0f}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def stages_chart(report) -> bytes:
    """Last six months, one bar per month stacked by stage."""
    fig, ax = _figure(6.4, 3.2)
    labels = [month_label(m) for m, _ in report.history]
    bottoms = [0.0] * len(labels)
    for stage in STAGES:
        values = [float(by_stage[stage]) for _, by_stage in report.history]
        ax.bar(
            labels, values, bottom=bottoms, color=STAGE_COLORS[stage], label=STAGE_SYMBOLS[stage], width=0.6
        )
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    # people time merged across leaves (docs/privacy.md) is part of C_total but of no stage
    merged = [float(by_stage.get(PEOPLE_MERGED, 0)) for _, by_stage in report.history]
    if any(merged):
        ax.bar(labels, merged, bottom=bottoms, color=MERGED_COLOR, label=PEOPLE_MERGED_SYMBOL, width=0.6)
    ax.set_ylabel(report.currency)
    _thousands(ax, "y")
    ax.legend(ncols=4, fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, 1.14))
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    return _png(fig)


def leaves_chart(report) -> bytes:
    """This month, one horizontal bar per leaf, coloured by stage."""
    fig, ax = _figure(6.4, 3.4)
    amounts = {r.key: r.amount for r in report.equation if r.level == "leaf"}
    rows = list(reversed(LEAF_TABLE))
    ax.barh(
        [symbol for _, _, symbol, _ in rows],
        [float(amounts[leaf]) for _, leaf, _, _ in rows],
        color=[STAGE_COLORS[stage] for stage, _, _, _ in rows],
        height=0.6,
    )
    ax.set_xlabel(f"{report.currency} · {report.month_label}")
    _thousands(ax, "x")
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    return _png(fig)


# the forecast's and the strategies' symbols (render.py's captions explain them)
ACTUAL_LABEL = "C_total"
FORECAST_LABEL = r"$\hat{C}_\mathrm{total}$"
BUDGET_LABEL = "B_total"
STRATEGY_COLORS = ("#3b6ea5", "#e69138", "#6aa84f", "#8e7cc3", "#c0504d", "#4bacc6", "#98a2b3")


def forecast_chart(data: ForecastChart, currency: str) -> bytes:
    """C_total's months so far (solid), the forecast (dashed) in its interval (band), the budget (a dash a month)."""
    fig, ax = _figure(6.4, 3.2)
    months = [m for m, _ in data.actual] + [m for m, *_ in data.forecast]
    x = {m: i for i, m in enumerate(months)}
    ax.plot(
        [x[m] for m, _ in data.actual],
        [float(v) for _, v in data.actual],
        color=STAGE_COLORS["pretrain"],
        marker="o",
        markersize=3,
        label=ACTUAL_LABEL,
    )
    # the forecast starts from the last month that happened, so the two lines join
    last_m, last_v = data.actual[-1]
    fx = [x[last_m]] + [x[m] for m, *_ in data.forecast]
    ax.plot(
        fx,
        [float(last_v)] + [float(p) for _, p, _, _ in data.forecast],
        color=STAGE_COLORS["deploy"],
        linestyle="--",
        marker="o",
        markersize=3,
        label=FORECAST_LABEL,
    )
    band = [
        (x[m], float(lo), float(hi)) for m, _, lo, hi in data.forecast if lo is not None and hi is not None
    ]
    if band:
        ax.fill_between(
            [x[last_m]] + [b[0] for b in band],
            [float(last_v)] + [b[1] for b in band],
            [float(last_v)] + [b[2] for b in band],
            color=STAGE_COLORS["deploy"],
            alpha=0.18,
            linewidth=0,
            label=f"{FORECAST_LABEL} {data.coverage:.0%}",
        )
    if data.budget:
        # one dash per budgeted month: budgets are set month by month, and one month is enough to show
        ax.hlines(
            [float(v) for _, v in data.budget],
            [x[m] - 0.4 for m, _ in data.budget],
            [x[m] + 0.4 for m, _ in data.budget],
            color=MERGED_COLOR,
            linewidth=2.2,
            label=BUDGET_LABEL,
        )
    ax.set_xticks(range(len(months)), [month_label(m) for m in months], rotation=45, ha="right")
    ax.set_ylabel(currency)
    ax.set_ylim(bottom=0)
    _thousands(ax, "y")
    ax.legend(ncols=4, fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, 1.16))
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    return _png(fig)


def scenario_chart(data: ScenarioChart, currency: str) -> bytes:
    """Cumulative cash difference from the baseline per strategy (the baseline is the zero line);
    a diamond and a dotted line at each break-even month."""
    fig, ax = _figure(6.4, 3.2)
    months = sorted({m for _, points in data.cumulative for m, _ in points})
    x = {m: i for i, m in enumerate(months)}
    colors = {}
    for i, (sid, points) in enumerate(data.cumulative):
        colors[sid] = STRATEGY_COLORS[i % len(STRATEGY_COLORS)]
        ax.plot(
            [x[m] for m, _ in points],
            [float(v) for _, v in points],
            color=colors[sid],
            linewidth=2.2 if sid == "baseline" else 1.6,
            linestyle="-" if sid == "baseline" else "--",
            marker=None if sid == "baseline" else "o",
            markersize=3,
            label=sid,
        )
    ax.axhline(0, color=INK, linewidth=0.8)
    cumulative = dict(data.cumulative)
    for sid, month in data.break_even:
        value = dict(cumulative.get(sid, ())).get(month)
        if value is None or month not in x:
            continue
        ax.axvline(x[month], color=colors[sid], linestyle=":", linewidth=1)
        ax.plot([x[month]], [float(value)], marker="D", markersize=7, color=colors[sid])
    ax.set_xticks(range(len(months)), [month_label(m) for m in months], rotation=45, ha="right")
    ax.set_ylabel(currency)
    _thousands(ax, "y")
    ax.legend(ncols=4, fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, 1.16))
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    return _png(fig)


def unit_cost_chart(data: UnitCostChart) -> bytes:
    """Each model's unit cost as an index of its first month shown (= 100): per 1,000 searches and
    per 1,000 impressions differ by orders of magnitude, their month-over-month course does not."""
    fig, ax = _figure(6.4, 3.2)
    months = sorted({m for _, points in data.series for m, _ in points})
    x = {m: i for i, m in enumerate(months)}
    for i, (label, points) in enumerate(data.series):
        base = next((v for _, v in points if v), None)
        if base is None:
            continue
        ax.plot(
            [x[m] for m, _ in points],
            [float(v / base * 100) for _, v in points],
            color=STRATEGY_COLORS[i % len(STRATEGY_COLORS)],
            marker="o",
            markersize=3,
            label=label,
        )
    ax.axhline(100, color=INK, linewidth=0.8)
    ax.set_xticks(range(len(months)), [month_label(m) for m in months], rotation=45, ha="right")
    ax.set_ylabel("100 = " + month_label(months[0]))
    ax.legend(ncols=2, fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, 1.22))
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    return _png(fig)


def render_charts(report) -> dict[str, bytes]:
    """{'stages': png, 'leaves': png} and, where a planning section carries chart data, its chart
    under the data's name ('forecast', 'scenarios')."""
    out = {CHART_STAGES: stages_chart(report), CHART_LEAVES: leaves_chart(report)}
    for section in report.planning:
        if isinstance(section.chart, ForecastChart):
            out[section.chart.name] = forecast_chart(section.chart, report.currency)
        elif isinstance(section.chart, ScenarioChart):
            out[section.chart.name] = scenario_chart(section.chart, report.currency)
        elif isinstance(section.chart, UnitCostChart):
            out[section.chart.name] = unit_cost_chart(section.chart)
    return out
