"""The two PNG charts (matplotlib, Agg). Floats are used for drawing only, never for figures shown as text.

Labels are symbols and months, which read the same in every language and need no CJK font.
"""

from __future__ import annotations

import io

from pipeline.ledger import LEAF_TABLE, PEOPLE_MERGED, PEOPLE_MERGED_SYMBOL, STAGE_SYMBOLS, STAGES
from pipeline.report.fmt import month_label

STAGE_COLORS = {"pretrain": "#3b6ea5", "tuning": "#6aa84f", "deploy": "#e69138", "maintenance": "#8e7cc3"}
MERGED_COLOR = "#98a2b3"
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


def render_charts(report) -> dict[str, bytes]:
    """{'stages': png, 'leaves': png}"""
    return {CHART_STAGES: stages_chart(report), CHART_LEAVES: leaves_chart(report)}
