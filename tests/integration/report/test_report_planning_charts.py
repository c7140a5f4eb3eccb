"""The planning charts of the monthly report (issue 13): forecast against budget, the
strategies' cumulative cash difference from the baseline and unit cost month by month, drawn from a real run of the small company (with the demo config's
strategies) and embedded as inline images in the mail, in English and Chinese; absent when the
data cannot make a line."""

from __future__ import annotations

import shutil
import struct
from datetime import date
from decimal import Decimal
from email import message_from_bytes
from email.policy import default
from html import escape

import duckdb
import pytest

from pipeline.app import steps
from pipeline.report import build_report
from pipeline.report.charts import forecast_chart, render_charts
from pipeline.report.message import RenderedReport, build_message, chart_cid, write_report
from pipeline.report.planning import CHART_FORECAST, CHART_SCENARIOS, CHART_UNIT_COST, ForecastChart
from tests.conftest import SMALL_LANDING

pytestmark = pytest.mark.slow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# two months of searches for one model: a unit-cost line of two points
METRICS = """\
month,model_or_scenario,metric,value,currency
2026-09,search-rerank-bert,searches,2000000,
2026-10,search-rerank-bert,searches,2500000,
"""


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk (read here, not by the library that wrote it)."""
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    from pipeline.config.settings import load_settings

    root = tmp_path_factory.mktemp("charts")
    shutil.copytree(SMALL_LANDING, root / "landing")
    (root / "landing" / "business_metrics").mkdir()
    (root / "landing" / "business_metrics" / "2026.csv").write_text(METRICS)
    settings = load_settings(landing=root / "landing", warehouse=root / "warehouse")
    assert steps.run_all(settings).status == "succeeded"
    return settings


@pytest.fixture(scope="module")
def month(settings) -> str:
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        return con.execute("select max(month) from marts.budget_vs_actual").fetchone()[0].strftime("%Y-%m")
    finally:
        con.close()


@pytest.fixture(scope="module", params=["en", "zh-CN"])
def rendered(request, settings, month):
    return RenderedReport(build_report(settings, month, lang=request.param))


def test_the_forecast_and_strategy_sections_carry_their_chart_data(rendered, settings):
    report = rendered.report
    charts = {s.chart.name: s.chart for s in report.planning if s.chart is not None}
    assert set(charts) == {CHART_FORECAST, CHART_SCENARIOS, CHART_UNIT_COST}
    fc = charts[CHART_FORECAST]
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        months = con.execute(
            "select count(distinct month) from marts.budget_vs_actual where stage = 'total'"
        ).fetchone()[0]
        strategies = con.execute(
            "select count(distinct strategy_id) from marts.scenario_projection"
        ).fetchone()[0]
        search_cost = [
            con.execute(
                "select sum(cost) from marts.monthly_leaf_cost where model_id = 'search-rerank-bert' "
                "and month = ? and stage in ('pretrain', 'tuning', 'deploy', 'maintenance')",
                [m],
            ).fetchone()[0]
            for m in (date(2026, 9, 1), date(2026, 10, 1))
        ]
        cash_difference = dict(
            con.execute(
                "select strategy_id, sum(projected_cash - baseline) from marts.scenario_projection "
                "where level = 'total' and horizon_months <= 12 group by all"
            ).fetchall()
        )
    finally:
        con.close()
    # every month of the ledger (up to 12), ending with the report's month: its C_total to the cent
    assert len(fc.actual) == min(months, 12) >= 2
    last_month, last_actual = fc.actual[-1]
    assert last_month == report.month and abs(last_actual - report.total.amount) < Decimal("0.01")
    assert all(lo <= p <= hi for _, p, lo, hi in fc.forecast if lo is not None)
    assert fc.forecast[0][0] > fc.actual[-1][0]
    sc = charts[CHART_SCENARIOS]
    assert len(sc.cumulative) == strategies >= 2
    lines = dict(sc.cumulative)
    assert {v for _, v in lines["baseline"]} == {0}  # the baseline is the zero line
    for sid, points in lines.items():
        # the line ends at the section's 12-month cash difference (summed here over the months)
        assert points[-1][1] == cash_difference[sid]
    for sid, month in sc.break_even:
        # from its break-even month on, the strategy's line stays at or below zero
        after = [v for m, v in lines[sid] if m >= month]
        assert after and all(v <= 0 for v in after)
    # unit cost: the model's cost over the nine leaves (another mart) per 1,000 searches of METRICS
    (label, points), *_ = charts[CHART_UNIT_COST].series
    assert label == "search-rerank-bert · searches"
    assert [p[0] for p in points] == [date(2026, 9, 1), date(2026, 10, 1)]
    assert [round(v, 6) for _, v in points] == [
        round(c / n * 1000, 6) for c, n in zip(search_cost, (2_000_000, 2_500_000), strict=True)
    ]


def test_the_mail_embeds_every_chart_inline_by_cid_as_a_png_of_sensible_size(rendered):
    report = rendered.report
    msg = build_message(rendered, "costledger@example.com", ["finance@example.com"])
    parsed = message_from_bytes(msg.as_bytes(), policy=default)
    html = parsed.get_body(("html",)).get_content()
    plain = parsed.get_body(("plain",)).get_content()
    images = {p["Content-ID"].strip("<>"): p for p in parsed.walk() if p.get_content_type() == "image/png"}
    expected = {
        chart_cid(report, n) for n in ("stages", "leaves", CHART_FORECAST, CHART_SCENARIOS, CHART_UNIT_COST)
    }
    assert set(images) == expected
    for cid, part in images.items():
        assert html.count(f'src="cid:{cid}"') == 1
        assert part.get_content_disposition() == "inline"
        width, height = png_size(part.get_content())
        assert 400 <= width <= 1000 and 200 <= height <= 600
    # each planning chart sits in its own section, after that section's title
    forecast_title = next(s.title for s in report.planning if s.chart and s.chart.name == CHART_FORECAST)
    assert html.index(forecast_title) < html.index(f"cid:{chart_cid(report, CHART_FORECAST)}")
    # the text body stays chart-free: no image reference, no caption
    assert "cid:" not in plain and ".png" not in plain
    for key in ("chart_forecast", "chart_scenarios", "chart_unit_cost"):
        assert report.t(key) not in plain and escape(report.t(key)) in html


def test_charts_are_the_same_bytes_from_the_same_data(rendered):
    again = render_charts(rendered.report)
    assert again == rendered.charts
    for png in again.values():
        # no time stamp or software chunk that would change from run to run
        assert b"tIME" not in png and b"Software" not in png


def test_write_report_puts_the_planning_charts_beside_the_html(rendered, tmp_path):
    report = rendered.report
    write_report(report, tmp_path, rendered)
    stem = f"costledger-report-{report.month_label}"
    for name in (CHART_FORECAST, CHART_SCENARIOS, CHART_UNIT_COST):
        assert png_size((tmp_path / f"{stem}-{name}.png").read_bytes())[0] > 0
        assert f'src="{stem}-{name}.png"' in (tmp_path / f"{stem}.html").read_text(encoding="utf-8")


def test_no_chart_with_one_month_or_the_baseline_alone(settings, month, tmp_path):
    from pipeline.report.planning import forecast, scenarios, unit_cost

    m = date.fromisoformat(month + "-01")
    con = duckdb.connect(str(tmp_path / "thin.duckdb"))
    try:
        con.execute(f"attach '{settings.published_db}' as pub (read_only)")
        con.execute("create schema marts")
        first = con.execute("select min(month) from pub.marts.budget_vs_actual").fetchone()[0]
        # one month of history is not a line; with the baseline alone there is no comparison
        con.execute(
            "create table marts.budget_vs_actual as select * from pub.marts.budget_vs_actual where month = ?",
            [first],
        )
        con.execute("create table marts.cost_forecast as select * from pub.marts.cost_forecast")
        con.execute("create table marts.budget_burn as select * from pub.marts.budget_burn")
        con.execute(
            "create table marts.scenario_projection as "
            "select * from pub.marts.scenario_projection where strategy_id = 'baseline'"
        )
        con.execute("create table marts.unit_cost as select * from pub.marts.unit_cost where month = ?", [m])
        con.execute("detach pub")
        section = forecast(con, "en", m)
        assert section is not None and section.rows and section.chart is None
        assert scenarios(con, "en", m) is None
        # one month of unit cost: the table, no line
        section = unit_cost(con, "en", m)
        assert section.rows and section.chart is None
        # no budget_vs_actual at all (an older published file): the table, no chart
        con.execute("drop table marts.budget_vs_actual")
        assert forecast(con, "zh-CN", m).chart is None
    finally:
        con.close()


def test_a_forecast_without_budget_draws_no_budget_line():
    data = ForecastChart(
        actual=((date(2026, 1, 1), 100), (date(2026, 2, 1), 200)),
        forecast=((date(2026, 3, 1), 300, 250, 350), (date(2026, 4, 1), 400, None, None)),
        budget=(),
        coverage=0.8,
    )
    png = forecast_chart(data, "CNY")
    assert png_size(png)[0] == 640
