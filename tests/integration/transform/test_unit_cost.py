"""Unit cost (marts.unit_cost) on the tiny company with business metrics: each figure derived
from the model's cost in marts.monthly_leaf_cost (another mart, built another way) and the
volumes written here."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal as D

import duckdb
import pytest

from pipeline.app import steps
from tests.conftest import SMALL_LANDING

pytestmark = pytest.mark.slow

METRICS = """\
month,model_or_scenario,metric,value,currency
2026-09,search-rerank-bert,searches,2000000,
2026-10,search-rerank-bert,searches,2500000,
2026-09,search_ranking,orders,4000,
2026-09,search_ranking,gmv,100000.00,USD
2026-09,reco-llm,recommendations,1000000,
2026-09,PRJ-RECO-LLM,recommendations,3000000,
2026-09,search-rerank-bert,gpu_hours_provisioned,150,
2026-09,reco-llm,gpu_hours_provisioned,12,
"""
TEN = D("0.0000000001")


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    from pipeline.config.settings import load_settings

    root = tmp_path_factory.mktemp("unit")
    shutil.copytree(SMALL_LANDING, root / "landing")
    (root / "landing" / "business_metrics").mkdir()
    (root / "landing" / "business_metrics" / "2026.csv").write_text(METRICS)
    settings = load_settings(landing=root / "landing", warehouse=root / "warehouse")
    summary = steps.run_all(settings)
    assert summary.status == "succeeded"
    con = duckdb.connect(str(settings.published_db), read_only=True)
    yield con
    con.close()


def model_cost(con, model: str, month: date) -> D:
    """The model's cost over the nine leaves, from the leaf mart."""
    return con.execute(
        "select sum(cost) from marts.monthly_leaf_cost where model_id = ? and month = ? "
        "and stage in ('pretrain', 'tuning', 'deploy', 'maintenance')",
        [model, month],
    ).fetchone()[0]


def unit(con, **where) -> tuple:
    cond = " and ".join(f"{k} = ?" for k in where)
    return con.execute(
        f"select unit, cost, metric_value, unit_cost, previous_unit_cost, change_share from marts.unit_cost where {cond}",
        list(where.values()),
    ).fetchone()


def test_cost_per_thousand_searches_month_over_month(ledger):
    sep, oct_ = date(2026, 9, 1), date(2026, 10, 1)
    got_sep = unit(ledger, month=sep, grain="model", model_id="search-rerank-bert", metric="searches")
    got_oct = unit(ledger, month=oct_, grain="model", model_id="search-rerank-bert", metric="searches")
    cost_sep, cost_oct = (
        model_cost(ledger, "search-rerank-bert", sep),
        model_cost(ledger, "search-rerank-bert", oct_),
    )
    assert got_sep[0] == "per 1,000 searches"
    assert got_sep[1] == cost_sep and got_sep[2] == 2_000_000
    assert abs(got_sep[3] - cost_sep * 1000 / 2_000_000) <= TEN
    assert abs(got_oct[3] - cost_oct * 1000 / 2_500_000) <= TEN
    assert got_oct[4] == got_sep[3]
    assert abs(got_oct[5] - (got_oct[3] / got_sep[3] - 1)) < D("0.000002")


def test_a_later_row_restates_and_aliases_name_the_model(ledger):
    sep = date(2026, 9, 1)
    # PRJ-RECO-LLM is reco-llm's alias: the later row (3,000,000) restates the first
    got = unit(ledger, month=sep, grain="model", model_id="reco-llm", metric="recommendations")
    assert got[2] == 3_000_000
    assert abs(got[3] - model_cost(ledger, "reco-llm", sep) * 1000 / 3_000_000) <= TEN


def test_orders_and_gmv_share_per_scenario(ledger):
    sep = date(2026, 9, 1)
    cost = model_cost(ledger, "search-rerank-bert", sep)  # the scenario's only model
    orders = unit(ledger, month=sep, grain="scenario", scenario="search_ranking", metric="orders")
    assert orders[0] == "per order" and abs(orders[3] - cost / 4000) <= TEN
    gmv = unit(ledger, month=sep, grain="scenario", scenario="search_ranking", metric="gmv")
    # USD GMV at September's last rate (tests/fixtures/ledger/landing/fx_rates: 7.20 from 09-15)
    assert gmv[0] == "share of GMV" and abs(gmv[3] - cost / (D("100000.00") * D("7.20"))) <= TEN
    # the scenario's searches: none given for the scenario, so its models' sum
    searches = unit(ledger, month=sep, grain="scenario", scenario="search_ranking", metric="searches")
    assert searches[2] == 2_000_000


def test_the_report_shows_unit_cost(ledger, tmp_path):
    from pipeline.report.planning import unit_cost

    section = unit_cost(ledger, "en", date(2026, 10, 1))
    rows = {r[0]: r for r in section.rows}
    assert section.title == "Unit cost"
    got = unit(
        ledger, month=date(2026, 10, 1), grain="model", model_id="search-rerank-bert", metric="searches"
    )
    assert rows["search-rerank-bert"][1] == "per 1,000 searches"
    assert rows["search-rerank-bert"][3] == f"{got[3]:,.4f}"
    assert rows["search-rerank-bert"][5] == f"{got[5] * 100:+.1f}%"
    assert unit_cost(ledger, "zh-CN", date(2026, 10, 1)).title == "单位成本"


def test_findings(ledger):
    sep = date(2026, 9, 1)
    rows = ledger.execute(
        "select rule, model_id, money_at_stake, evidence, month from marts.findings order by month, rank"
    ).fetchall()
    by_rule = {(r[0], r[1], r[4]): r for r in rows}
    # September: search-rerank-bert used 30 (tests/fixtures/ledger/landing/metrics) of 150
    # provisioned GPU-hours: 80% of its training and tuning compute is at stake; reco-llm used 10
    # of 12: none
    compute = ledger.execute(
        "select sum(cost) from marts.monthly_leaf_cost where model_id = 'search-rerank-bert' and month = ? "
        "and leaf in ('training', 'tuning_resources')",
        [sep],
    ).fetchone()[0]
    gpu = by_rule[("low_gpu_utilisation", "search-rerank-bert", sep)]
    assert gpu[2] == (compute * D("0.8")).quantize(D("0.01")) and "20.0%" in gpu[3]
    assert ("low_gpu_utilisation", "reco-llm", sep) not in by_rule
    # a month whose unallocated share is above the demo config's 10% has a finding of that amount
    for month, unallocated, total in ledger.execute(
        "select month, sum(c_unallocated), sum(c_total) from marts.monthly_cost_rollup group by month"
    ).fetchall():
        found = by_rule.get(("unallocated_share", None, month))
        if unallocated / (unallocated + total) > D("0.10"):
            assert found[2] == unallocated.quantize(D("0.01"))
        else:
            assert found is None
