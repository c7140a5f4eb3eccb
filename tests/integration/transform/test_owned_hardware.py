"""Owned hardware (landing/assets/) through a whole run on the tiny company: depreciation,
a change of useful life, a disposal, a maintenance contract and a server in the shared GPU
pool, every figure worked out by hand below (amounts in CNY, the reporting currency)."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal as D

import duckdb
import pytest

from pipeline.app import steps
from tests.conftest import SMALL_LANDING

pytestmark = pytest.mark.slow

REGISTER = """\
asset_id,description,purchase_date,in_service_date,cost,currency,useful_life_months,salvage_value,serves,leaf,effective_month,disposal_date,disposal_proceeds,contract_id,contract_start,contract_end,contract_amount
GPU-1,8x GPU inference server,2026-07-20,2026-08-10,10000.00,CNY,3,0,search-rerank-bert,hardware,,,,,,,
GPU-2,training server,2026-04-01,2026-05-01,12000.00,CNY,12,1200.00,reco-llm,training,,,,,,,
GPU-2,training server,2026-04-01,2026-05-01,12000.00,CNY,6,1200.00,reco-llm,training,2026-07,,,,,,
POOL-1,shared fine-tuning node,2026-08-01,2026-09-01,3000.00,CNY,3,0,pool:shared-gpu,tuning_resources,,,,,,,
OLD-1,old serving box,2026-04-01,2026-05-01,6000.00,CNY,6,0,reco-llm,hardware,,2026-09-15,1500.00,,,,
GPU-1,support contract,,,,CNY,,,,,,,,MC-1,2026-09-16,2026-10-15,3000.00
NEW-1,new GPU server,2026-09-20,2026-10-01,24000.00,CNY,24,2400.00,ads-ctr-dcn,hardware,,,,,,,
"""


MAY_INVOICE = (
    "vendor,invoice_number,invoice_date,line_number,service_period_start,service_period_end,amount,currency,model_or_project\n"
    "vectorops,VO-MAY,2026-05-31,1,2026-05-01,2026-05-31,10.00,CNY,reco-llm\n"
)
EARLY = "EARLY-1,bought before the ledger,2025-12-01,2026-01-01,1200.00,CNY,12,0,reco-llm,hardware,,,,,,,\n"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    from pipeline.config.settings import load_settings

    root = tmp_path_factory.mktemp("assets")
    shutil.copytree(SMALL_LANDING, root / "landing")
    (root / "landing" / "assets").mkdir()
    (root / "landing" / "assets" / "register.csv").write_text(REGISTER + EARLY)
    # the ledger's other cost starts in May (and ends in October, as the tiny company's does)
    (root / "landing" / "invoices" / "vectorops" / "VO-MAY.csv").write_text(MAY_INVOICE)
    settings = load_settings(landing=root / "landing", warehouse=root / "warehouse")
    summary = steps.run_all(settings)
    con = duckdb.connect(str(settings.published_db), read_only=True)
    yield settings, summary, con
    con.close()


def by_month(con, where: str) -> dict:
    rows = con.execute(
        f"select month, sum(cost) from marts.cost_line_items where source_system = 'asset' and {where} "
        "group by month order by month"
    ).fetchall()
    return {m: c for m, c in rows}


def test_run_succeeds_and_conserves(ledger):
    _, summary, con = ledger
    assert summary.status == "succeeded"
    failed = con.execute(
        "select check_name from audit.quality_results where not success and severity = 'critical'"
    ).fetchall()
    assert failed == []
    ran = con.execute(
        "select success from audit.quality_results where check_name like 'assert_asset_depreciation_exact%'"
    ).fetchall()
    assert ran == [(True,)]


def test_depreciation_is_exact_to_the_cent_with_the_remainder_last(ledger):
    _, _, con = ledger
    # 10000 / 3 = 3333.33 twice, the last month takes 3333.34; from the in-service month (Aug)
    got = by_month(con, "resource_id = 'GPU-1' and sku_id = 'depreciation'")
    assert got == {
        date(2026, 8, 1): D("3333.33"),
        date(2026, 9, 1): D("3333.33"),
        date(2026, 10, 1): D("3333.34"),
    }
    assert sum(got.values()) == D("10000.00")


def test_a_changed_useful_life_changes_only_later_months(ledger):
    _, _, con = ledger
    # 12 months of (12000 - 1200) = 900.00 for May and June; from July the life is 6 months in
    # all: what is left, 10800 - 1800 = 9000, over the 4 months left = 2250.00 each
    got = by_month(con, "resource_id = 'GPU-2' and sku_id = 'depreciation'")
    assert got == {
        date(2026, 5, 1): D("900.00"),
        date(2026, 6, 1): D("900.00"),
        date(2026, 7, 1): D("2250.00"),
        date(2026, 8, 1): D("2250.00"),
        date(2026, 9, 1): D("2250.00"),
        date(2026, 10, 1): D("2250.00"),
    }
    assert sum(got.values()) == D("12000.00") - D("1200.00")
    change = con.execute(
        "select previous_useful_life_months, useful_life_months from marts.asset_register "
        "where asset_id = 'GPU-2' and effective_month = date '2026-07-01' and is_change"
    ).fetchone()
    assert change == (12, 6)


def test_disposal_stops_depreciation_and_books_the_loss(ledger):
    _, _, con = ledger
    dep = by_month(con, "resource_id = 'OLD-1' and sku_id = 'depreciation'")
    assert dep == {date(2026, m, 1): D("1000.00") for m in (5, 6, 7, 8)}
    # net book value 6000 - 4000 = 2000, sold for 1500: a loss of 500 in September
    loss = by_month(con, "resource_id = 'OLD-1' and sku_id = 'disposal'")
    assert loss == {date(2026, 9, 1): D("500.00")}
    # over its life the asset cost what was paid less what it fetched
    assert sum(dep.values()) + sum(loss.values()) == D("6000.00") - D("1500.00")


def test_maintenance_is_prorated_by_days(ledger):
    _, _, con = ledger
    # 2026-09-16 .. 2026-10-15 is 30 days: 15 in September, 15 in October
    got = by_month(con, "resource_id = 'GPU-1' and sku_id = 'maintenance'")
    assert got == {date(2026, 9, 1): D("1500.00"), date(2026, 10, 1): D("1500.00")}


def test_a_pool_server_is_split_like_the_pool(ledger):
    _, _, con = ledger
    # September gpu_hours (tests/fixtures/ledger/landing/metrics): search 30, reco 10 -> 3:1 of 1000
    rows = con.execute(
        "select model_id, leaf, cost from marts.cost_line_items where resource_id = 'POOL-1' "
        "and month = date '2026-09-01' order by model_id"
    ).fetchall()
    assert rows == [
        ("reco-llm", "tuning_resources", D("250.00")),
        ("search-rerank-bert", "tuning_resources", D("750.00")),
    ]


def test_depreciation_lands_on_the_leaves(ledger):
    _, _, con = ledger
    got = con.execute(
        "select sum(cost) from marts.cost_line_items where source_system = 'asset' and leaf = 'hardware' "
        "and month = date '2026-09-01'"
    ).fetchone()[0]
    # GPU-1's depreciation and its maintenance, OLD-1's loss on disposal, EARLY-1's depreciation
    assert got == D("3333.33") + D("1500.00") + D("500.00") + D("100.00")


def test_months_after_the_ledger_are_known_future_cost_not_booked(ledger):
    _, _, con = ledger
    # the ledger's other cost ends in October: NEW-1 books October only, (24000 - 2400) / 24 = 900
    got = by_month(con, "resource_id = 'NEW-1'")
    assert got == {date(2026, 10, 1): D("900.00")}
    over_life, to_come, last = con.execute(
        "select depreciation_over_life, depreciation_to_come, last_depreciation_month_of_life "
        "from marts.asset_register where asset_id = 'NEW-1'"
    ).fetchone()
    assert over_life == D("24000.00") - D("2400.00")
    assert to_come == over_life - D("900.00")
    assert last == date(2028, 9, 1)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_report_shows_owned_hardware_and_the_changed_life(ledger, lang):
    from pipeline.report.data import build_report
    from pipeline.report.render import render_html, render_text

    settings, _, _ = ledger
    report = build_report(settings, "2026-09", lang=lang)
    text = render_text(report)
    html = render_html(report)
    title = "Owned hardware" if lang == "en" else "自有硬件"
    assert title in text and title in html
    # September: GPU-1's depreciation and maintenance, OLD-1's loss on disposal
    assert "3,333.33" in text and "1,500.00" in text and "+500.00" in text
    # the change of GPU-2's useful life, in force since July, is explained under the table
    change = "12 to 6 months" if lang == "en" else "由 12 个月改为 6 个月"
    assert change in text and change in html
    assert "2,250.00" in text


def test_months_before_the_ledger_are_not_booked(ledger):
    _, summary, con = ledger
    # EARLY-1 depreciates 100.00 a month from January; the ledger starts in May
    got = by_month(con, "resource_id = 'EARLY-1'")
    assert got == {date(2026, m, 1): D("100.00") for m in range(5, 11)}
    assert summary.months[0] == "2026-05"
    before = con.execute(
        "select depreciation_before_ledger from marts.asset_register where asset_id = 'EARLY-1'"
    ).fetchone()[0]
    assert before == D("400.00")


def test_costledger_plan_shows_the_strategies_side_by_side(ledger):
    from tests.fixtures.cli import cli

    settings, _, con = ledger
    done = cli("plan", "--months", "6", landing=settings.landing, warehouse=settings.warehouse)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # the demo company's config/scenarios.yaml: three strategies against the baseline
    for sid in ("baseline", "reserved-serving", "owned-ads-serving", "more-labeling"):
        assert sid in out
    assert "Break-even" in out and "By leaf, 6 months" in out
    # the commitment saves from the first month: its cumulative difference over 6 months is printed
    saved = con.execute(
        "select sum(difference) from marts.scenario_projection where level = 'total' "
        "and strategy_id = 'reserved-serving' and horizon_months <= 6"
    ).fetchone()[0]
    assert saved < 0 and f"{saved:,.2f}" in out
    from pipeline.report.data import build_report
    from pipeline.report.render import render_text

    text = render_text(build_report(settings, "2026-10"))
    assert "What-if strategies" in text and "Serving on a 1-year compute commitment" in text
    assert "Forecast and budget burn" in text and "Backtest" in text


def test_the_unallocated_share_is_a_finding(ledger):
    # October: the pool server's depreciation has no GPU-hours to split by, and stays unallocated
    _, _, con = ledger
    unallocated, total = con.execute(
        "select sum(c_unallocated), sum(c_total) from marts.monthly_cost_rollup where month = date '2026-10-01'"
    ).fetchone()
    assert unallocated / (unallocated + total) > D("0.10")
    row = con.execute(
        "select money_at_stake, evidence from marts.findings where rule = 'unallocated_share' "
        "and month = date '2026-10-01'"
    ).fetchone()
    assert row[0] == unallocated.quantize(D("0.01")) and "shared fine-tuning node" in row[1]
