"""The planning marts on tiny inline series (the ledger's rows, core.ledger_lines, with the few line
columns they carry, and the resource id the anomalies' driver lines take from core.line_items,
written by hand), each expected figure worked out by hand in the comments."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal as D

import duckdb
import pytest

from pipeline.config.settings import load_settings
from pipeline.config.tables import sync_config
from pipeline.db import SCHEMAS, SQL_DIR


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("set TimeZone = 'UTC'")
    for s in SCHEMAS:
        c.execute(f"create schema if not exists {s}")
    sync_config(c, load_settings())
    c.execute(
        """
        create table core.ledger_lines (
            line_id varchar, item_id varchar, month date, leaf varchar, stage varchar, model_id varchar,
            scenario varchar, source_system varchar, cost decimal(38,10), provider varchar,
            service varchar, charge_category varchar, charge_period_start timestamp,
            charge_period_end timestamp)
        """
    )
    c.execute(
        """
        create table core.line_items (
            line_id varchar, is_superseded boolean, provider varchar, service_name varchar,
            charge_category varchar, resource_id varchar,
            charge_period_start timestamp, charge_period_end timestamp)
        """
    )
    c.execute(
        "create table core.people_cost_rows (line_id varchar, provider varchar, service varchar, "
        "charge_category varchar)"
    )
    c.execute(
        "create table staging.stg_budgets (month date, stage varchar, leaf varchar, model_id varchar, "
        "currency varchar, amount decimal(38,10))"
    )
    c.execute(
        "create table staging.stg_fx_rates (rate_date date, from_currency varchar, to_currency varchar, "
        "rate decimal(38,10))"
    )
    c.execute(
        "create table marts.budget_vs_actual (month date, stage varchar, leaf varchar, model_id varchar, "
        "budget decimal(38,10))"
    )
    yield c
    c.close()


def line(
    con,
    line_id,
    month,
    cost,
    leaf="hardware",
    model="reco-llm",
    source="invoice",
    start=None,
    end=None,
    service="svc",
):
    start = start or datetime(month.year, month.month, 1)
    end = end or (start + timedelta(days=28))
    con.execute(
        "insert into core.ledger_lines values (?, ?, ?, ?, (select stage from config.leaves where leaf = ?), "
        "?, null, ?, ?, 'cloud', ?, 'Usage', ?, ?)",
        [line_id, line_id, month, leaf, leaf, model, source, D(cost), service, start, end],
    )
    con.execute(
        "insert into core.line_items values (?, false, 'cloud', ?, 'Usage', ?, ?, ?)",
        [line_id, service, f"r-{line_id}", start, end],
    )


def model(con, rel: str) -> list[dict]:
    sql = (SQL_DIR / rel).read_text(encoding="utf-8")
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def test_a_month_far_above_its_median_is_a_spike_with_its_lines(con):
    # Jan..Jun: 1000, 1100, 900, 1000, 1050, then 3000 in June (two lines: 2500 + 500).
    # History of June (the 5 months before, within 6): median 1000; deviations 0,100,100,0,50 -> MAD 50;
    # robust z = 0.6745 x 2000 / 50 = 26.98 >= 3.5, excess 2000 >= 100 and >= 25% of 1000.
    for i, c in enumerate(["1000", "1100", "900", "1000", "1050"], start=1):
        line(con, f"l{i}", date(2026, i, 1), c)
    line(con, "big", date(2026, 6, 1), "2500", service="gpu")
    line(con, "small", date(2026, 6, 1), "500")
    rows = [r for r in model(con, "marts/cost_anomalies.sql") if r["grain"] == "month"]
    assert len(rows) == 1
    r = rows[0]
    assert (r["month"], r["model_id"], r["leaf"], r["stage"]) == (
        date(2026, 6, 1),
        "reco-llm",
        "hardware",
        "deploy",
    )
    assert r["baseline_median"] == D("1000") and r["baseline_mad"] == D("50") and r["excess"] == D("2000")
    assert r["robust_z"] == pytest.approx(0.6745 * 2000 / 50)
    drivers = json.loads(r["driver_lines"])
    assert [d["line_id"] for d in drivers] == ["big", "small"] and r["line_count"] == 2


def test_ordinary_variation_and_short_history_are_not_spikes(con):
    # 1000, 1200, 800, 1300: the 4th month's history is 3 months (median 1000, MAD 200):
    # z = 0.6745 x 300 / 200 = 1.01 -- ordinary. A series with 2 months of history is not judged.
    for i, c in enumerate(["1000", "1200", "800", "1300"], start=1):
        line(con, f"a{i}", date(2026, i, 1), c)
    line(con, "b1", date(2026, 3, 1), "10", model="ads-ctr-dcn")
    line(con, "b2", date(2026, 4, 1), "5000", model="ads-ctr-dcn")
    assert model(con, "marts/cost_anomalies.sql") == []


def test_a_missing_month_counts_as_zero_and_a_flat_history_flags_any_real_rise(con):
    # 500, 500, 500, (nothing in April = 0), 500, 800 in June: history of June = 500,500,500,0,500:
    # median 500, MAD 0 -> a rise of 300 (>= 100 and >= 25%) is a spike with no z-score
    for i in (1, 2, 3, 5):
        line(con, f"f{i}", date(2026, i, 1), "500")
    line(con, "f6", date(2026, 6, 1), "800")
    rows = model(con, "marts/cost_anomalies.sql")
    assert [(r["month"], r["excess"], r["robust_z"]) for r in rows] == [(date(2026, 6, 1), D("300"), None)]


def test_a_day_spike_among_daily_cloud_lines(con):
    # 14 days at 100 +- 1 (MAD 1), then 300 on day 15: a day spike; the invoice line is not daily
    start = datetime(2026, 3, 1)
    for d in range(14):
        day = start + timedelta(days=d)
        line(
            con,
            f"d{d}",
            date(2026, 3, 1),
            str(100 + (d % 3) - 1),
            source="focus",
            start=day,
            end=day + timedelta(days=1),
        )
    spike = start + timedelta(days=14)
    line(con, "dspike", date(2026, 3, 1), "300", source="focus", start=spike, end=spike + timedelta(days=1))
    rows = [r for r in model(con, "marts/cost_anomalies.sql") if r["grain"] == "day"]
    assert [(r["period"], r["baseline_median"], r["excess"]) for r in rows] == [
        (date(2026, 3, 15), D("100"), D("200"))
    ]
    assert json.loads(rows[0]["driver_lines"])[0]["line_id"] == "dspike"


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_report_section_lists_the_months_spikes(con, lang):
    from pipeline.report.planning import anomalies

    for i, c in enumerate(["1000", "1100", "900", "1000", "1050"], start=1):
        line(con, f"l{i}", date(2026, i, 1), c)
    line(con, "big", date(2026, 6, 1), "2500", service="gpu")
    line(con, "small", date(2026, 6, 1), "500")
    con.execute("create table marts.cost_anomalies as " + (SQL_DIR / "marts/cost_anomalies.sql").read_text())
    section = anomalies(con, lang, date(2026, 6, 1))
    assert section.rows == (
        ("2026-06", "reco-llm", "hardware", "3,000.00", "1,000.00", "+2,000.00", "gpu 2,500.00"),
    )
    assert anomalies(con, lang, date(2026, 5, 1)).rows == ()


def test_a_straight_line_is_forecast_with_a_damped_trend_and_its_backtests(con):
    # Jan..Apr 2026: 100, 200, 300, 400. Least squares: +100 a month, no residual; damped by 0.8
    # a month: May 400 + 100 x 0.8 = 480, June 400 + 100 x (0.8 + 0.64) = 544, interval of zero
    # width. Backtests (one month ahead, from the months before only): Feb from Jan alone (naive
    # 100, off by 100), Mar from Jan-Feb (naive 200, off by 100), Apr from Jan-Mar (300 + 80 = 380,
    # off by 20): MAE 73.33, MAPE (1/2 + 1/3 + 20/400) / 3 = 0.294444.
    for i, c in enumerate(["100", "200", "300", "400"], start=1):
        line(con, f"s{i}", date(2026, i, 1), c, leaf="hardware")
    con.execute("insert into staging.stg_budgets values ('2026-05-01', 'deploy', null, null, 'CNY', 450)")
    rows = model(con, "marts/cost_forecast.sql")
    leaf = {(r["kind"], r["month"]): r for r in rows if r["level"] == "leaf"}
    may, june = leaf[("forecast", date(2026, 5, 1))], leaf[("forecast", date(2026, 6, 1))]
    assert (may["method"], may["point"], may["lower"], may["upper"]) == ("damped_trend", 480, 480, 480)
    assert june["point"] == 544 and june["horizon_months"] == 2
    assert len([r for r in rows if r["kind"] == "forecast" and r["level"] == "leaf"]) == 12
    bt = {m: (r["method"], r["point"], r["error"]) for (k, m), r in leaf.items() if k == "backtest"}
    assert bt == {
        date(2026, 2, 1): ("naive", 100, 100),
        date(2026, 3, 1): ("naive", 200, 100),
        date(2026, 4, 1): ("damped_trend", 380, 20),
    }
    assert may["backtest_months"] == 3 and may["backtest_mae"] == D("73.33")
    assert may["backtest_mape"] == D("0.294444")
    # the stage and C_total series are the same line here; the stage's May carries its budget
    stage_may = next(
        r for r in rows if r["level"] == "stage" and r["kind"] == "forecast" and r["month"] == may["month"]
    )
    assert (stage_may["stage"], stage_may["point"], stage_may["budget"]) == ("deploy", 480, 450)


def test_two_years_of_history_forecast_the_same_month_a_year_before(con):
    # 2024-01..2025-12: 1000 a month, 1500 in Novembers -> seasonal naive: 2026-11 = 1500,
    # 2026-01 = 1000; the year-over-year differences are all 0, so the interval is the point
    for y in (2024, 2025):
        for m in range(1, 13):
            line(con, f"y{y}{m}", date(y, m, 1), "1500" if m == 11 else "1000", leaf="training")
    rows = [
        r for r in model(con, "marts/cost_forecast.sql") if r["kind"] == "forecast" and r["level"] == "leaf"
    ]
    got = {r["month"]: (r["method"], r["point"], r["lower"], r["upper"]) for r in rows}
    assert got[date(2026, 11, 1)] == ("seasonal_naive", 1500, 1500, 1500)
    assert got[date(2026, 1, 1)] == ("seasonal_naive", 1000, 1000, 1000)


def test_budget_burn_projects_daily_charges_to_the_month_end(con):
    # April 2026 (30 days): daily cloud charges of 100 on the 1st..10th, and an invoice of 500
    # for the month: projected 10 x 100 x 30 / 10 + 500 = 3500 against a budget of 3000
    for d in range(10):
        day = datetime(2026, 4, 1) + timedelta(days=d)
        line(con, f"c{d}", date(2026, 4, 1), "100", source="focus", start=day, end=day + timedelta(days=1))
    line(con, "inv", date(2026, 4, 1), "500")
    con.execute("insert into marts.budget_vs_actual values ('2026-04-01', 'total', null, null, 3000)")
    rows = {r["stage"]: r for r in model(con, "marts/budget_burn.sql")}
    total = rows["total"]
    assert (total["month_to_date"], total["days_covered"], total["days_in_month"]) == (1500, 10, 30)
    assert total["projected"] == 3500 and total["projected_variance"] == 500
    assert rows["deploy"]["projected"] == 3500 and rows["deploy"]["budget"] is None


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_report_section_shows_the_forecast_its_backtest_and_the_run_rate(con, lang):
    from pipeline.report.planning import forecast

    for i, c in enumerate(["100", "200", "300", "400"], start=1):
        line(con, f"s{i}", date(2026, i, 1), c)
    con.execute("insert into staging.stg_budgets values ('2026-05-01', 'deploy', null, null, 'CNY', 450)")
    con.execute("create table marts.cost_forecast as " + (SQL_DIR / "marts/cost_forecast.sql").read_text())
    con.execute("create table marts.budget_burn as " + (SQL_DIR / "marts/budget_burn.sql").read_text())
    section = forecast(con, lang, date(2026, 4, 1))
    # the straight line of the test above: May 480 (budget 450), June 544 ...
    assert section.rows[0] == ("2026-05", "damped_trend", "480.00", "480.00 - 480.00", "450.00")
    assert section.rows[1][2] == "544.00" and len(section.rows) == 6
    text = " ".join(section.notes)
    assert "29.4%" in text  # the backtest's mean absolute percentage error (see above)
    assert "400.00" in text  # April so far (an invoice: booked for the whole month)


def _strategy(con, sid, kind, **kw):
    cols = {
        "strategy_id": sid,
        "strategy_name": sid.title(),
        "change_no": 1,
        "kind": kind,
        "replaces": 1.0,
        "salvage": 0,
        "maintenance_per_month": 0,
        **kw,
    }
    con.execute(
        f"insert into config.strategy_changes ({', '.join(cols)}) values ({', '.join('?' * len(cols))})",
        list(cols.values()),
    )


def test_strategies_against_the_forecast_baseline(con):
    # the straight line again, as cloud cost (FOCUS, charged by the month): May 480, June 544,
    # July 400 + 100 x (0.8 + 0.64 + 0.512) = 595.20
    for i, c in enumerate(["100", "200", "300", "400"], start=1):
        line(con, f"s{i}", date(2026, i, 1), c, source="focus")
    con.execute("create table marts.cost_forecast as " + (SQL_DIR / "marts/cost_forecast.sql").read_text())
    # a commitment covering 80% of the hardware at 35% off: 28% less, every month
    _strategy(con, "commit", "commitment", leaf="hardware", discount=0.35, coverage=0.8)
    # from June, half the cloud cost moves to a server of 3000 over 3 months (1000 a month) + 10
    _strategy(
        con,
        "owned",
        "owned_hardware",
        leaf="hardware",
        model_id="reco-llm",
        capex=3000,
        life_months=3,
        start_month=date(2026, 6, 1),
        replaces=0.5,
        maintenance_per_month=10,
    )
    rows = model(con, "marts/scenario_projection.sql")
    total = {(r["strategy_id"], r["month"]): r for r in rows if r["level"] == "total"}
    may, june, july = date(2026, 5, 1), date(2026, 6, 1), date(2026, 7, 1)
    assert total[("baseline", may)]["projected"] == 480
    assert total[("commit", may)]["projected"] == D("345.60")  # 480 x 0.72
    assert total[("commit", may)]["break_even_month"] == may
    assert total[("commit", june)]["cumulative_difference"] == D("-134.40") + D("-152.32")
    assert total[("owned", may)]["projected"] == 480
    o = total[("owned", june)]
    assert (o["projected"], o["capex"], o["projected_cash"]) == (
        D("1282.00"),
        3000,
        D("3282.00"),
    )  # 272 + 1000 + 10
    assert total[("owned", july)]["projected"] == D("1307.60")  # 297.60 + 1000 + 10
    # cash: June 272 + 10 + 3000 against 544 (+2,738); from July the server saves half the cloud
    # cost less 10 a month while it depreciates (July -287.60, Aug -308.08), then half of it
    # (Sep -334.46 ... Jan -373.15, Feb -378.52): the cumulative cash difference is -15.92 in
    # February 2027 and stays below zero -- the break-even month
    assert total[("owned", date(2027, 2, 1))]["cumulative_cash_difference"] == D("-15.92")
    assert total[("owned", june)]["break_even_month"] == date(2027, 2, 1)
    leaf = [r for r in rows if r["level"] == "leaf" and r["strategy_id"] == "owned" and r["month"] == june]
    assert [(r["leaf"], r["stage"], r["projected"]) for r in leaf] == [("hardware", "deploy", D("1282.00"))]
