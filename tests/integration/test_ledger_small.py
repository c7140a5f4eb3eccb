"""The whole pipeline on the tiny company in tests/fixtures/ledger, checked against figures
worked out by hand (reporting currency CNY; USD at 7.10 until 2026-09-14, 7.20 from 09-15)."""

from __future__ import annotations

import shutil
from decimal import Decimal as D

import duckdb
import pytest

from pipeline import steps
from tests.conftest import SMALL_LANDING

pytestmark = pytest.mark.slow

SEPT_LEAVES = {
    "data": D("925.20"),  # crawl 12 USD x 7.10 + 3 h x 280 (E002's own rate from 09-15)
    "labeled": D("1650.00"),  # 350 (15 of 30 days of INV-1001/1) + 300 + 4 h x 250
    "training": D("568.00"),
    "tuning_time": D("1800.00"),
    "tuning_resources": D("497.00"),  # 40 USD + the shared GPU pool 30 USD
    "hardware": D("710.00"),
    "software": D("355.00"),  # support 10 USD (split evenly) + vector DB 40 USD
    "maintenance_time": D("600.00"),
    "maintenance_resources": D("177.50"),
}


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    from pipeline.settings import load_settings

    root = tmp_path_factory.mktemp("small")
    shutil.copytree(SMALL_LANDING, root / "landing")
    import os

    os.environ["COSTLEDGER_PII_KEY"] = "test-pii-key"
    settings = load_settings(landing=root / "landing", warehouse=root / "warehouse")
    summary = steps.run_all(settings)
    con = duckdb.connect(str(settings.published_db), read_only=True)
    yield settings, summary, con
    con.close()


def q(con, sql, params=None):
    return con.execute(sql, params or []).fetchall()


def test_run_publishes_every_month(ledger):
    _, summary, con = ledger
    assert summary.status == "succeeded"
    assert summary.months == ["2026-09", "2026-10"]


def test_september_leaves_match_the_hand_computed_ledger(ledger):
    _, _, con = ledger
    got = dict(
        q(
            con,
            "select leaf, sum(cost) from marts.monthly_leaf_cost where month = date '2026-09-01' group by leaf",
        )
    )
    for leaf, expected in SEPT_LEAVES.items():
        assert got[leaf] == expected, leaf
    assert got["unallocated"] == D("53.25")
    assert got["out_of_scope"] == D("142.00")


def test_stages_and_total_add_up(ledger):
    _, _, con = ledger
    row = q(
        con,
        """
        select sum(c_pretrain), sum(c_tuning), sum(c_deploy), sum(c_maintenance), sum(c_total),
               sum(c_unallocated), sum(c_out_of_scope)
        from marts.monthly_cost_rollup where month = date '2026-09-01'
    """,
    )[0]
    assert row[:4] == (D("3143.20"), D("2297.00"), D("1065.00"), D("777.50"))
    assert row[4] == sum(SEPT_LEAVES.values()) == D("7282.70")
    assert row[5:] == (D("53.25"), D("142.00"))
    bad = q(
        con,
        """
        select * from marts.monthly_cost_rollup
        where c_pretrain <> c_data + c_labeled + c_training
           or c_tuning <> c_tuning_time + c_tuning_resources
           or c_deploy <> c_hardware + c_software
           or c_maintenance <> c_maintenance_time + c_maintenance_resources
           or c_total <> c_pretrain + c_tuning + c_deploy + c_maintenance
    """,
    )
    assert bad == []


def test_invoice_spanning_two_months_is_prorated_by_days(ledger):
    _, _, con = ledger
    rows = q(
        con,
        """
        select strftime(month, '%Y-%m'), effective_cost from marts.cost_line_items
        where invoice_number = 'INV-1001' and source_row = 2 order by month
    """,
    )
    assert rows == [("2026-09", D("350.0000000000")), ("2026-10", D("350.0000000000"))]


def test_shared_costs_split_by_metric_and_evenly(ledger):
    _, _, con = ledger
    gpu = dict(
        q(con, "select model_id, effective_cost from marts.cost_line_items where rule_id = 'shared-gpu-pool'")
    )
    assert gpu == {"search-rerank-bert": D("159.75"), "reco-llm": D("53.25")}
    support = q(
        con,
        "select count(*), sum(effective_cost), min(effective_cost) from marts.cost_line_items where rule_id = 'cloud-support-plan'",
    )
    assert support == [(5, D("71.00"), D("14.20"))]


def test_each_line_keeps_the_rule_that_placed_it(ledger):
    _, _, con = ledger
    rules = dict(q(con, "select rule_id, count(*) from marts.cost_line_items group by all"))
    assert rules[None] == 1  # the untagged bucket: unallocated, no rule
    assert {"tagged-cloud-resources", "vendor-invoices", "time-logs", "webshop-out-of-scope"} <= set(rules)
    reason = q(con, "select unallocated_reason from marts.cost_line_items where leaf = 'unallocated'")
    assert reason == [("no rule matched",)]


def test_budget_vs_actual(ledger):
    _, _, con = ledger
    rows = {
        r[0]: r[1:]
        for r in q(
            con,
            """
        select stage, budget, actual, variance from marts.budget_vs_actual
        where month = date '2026-09-01' and leaf is null and model_id is null
    """,
        )
    }
    assert rows["pretrain"] == (D("2000.00"), D("3143.20"), D("1143.20"))
    assert rows["total"] == (D("10000.00"), D("7282.70"), D("-2717.30"))


def test_conservation_per_file_and_month(ledger):
    _, _, con = ledger
    rec = q(
        con,
        "select source_file, strftime(month, '%Y-%m'), input_cost, difference, rows_in_file, rows_read, rows_rejected from audit.reconciliation order by 1, 2",
    )
    assert len(rec) == 5  # focus, INV-1001 over two months, VO-77, the time log
    assert all(r[3] == 0 for r in rec)
    assert all(r[4] == r[5] + r[6] for r in rec)
    focus = [r for r in rec if r[0].startswith("focus/")][0]
    assert focus[2] == D("2303.95")  # the nine FOCUS lines: 324.50 USD at 7.10


def test_people_data_never_reaches_the_published_file(ledger):
    settings, _, con = ledger
    tables = q(con, "select table_schema || '.' || table_name from information_schema.tables")
    blob = []
    for (t,) in tables:
        blob.append(str(q(con, f"select * from {t}")))
    text = "\n".join(blob)
    for secret in ("Li Wei", "Ana Souza", "li.wei@example.com", "E001", "E002", "280.00", "250.0000"):
        assert secret not in text, secret
    keys = q(con, "select distinct employee_key from marts.cost_line_items where employee_key is not null")
    assert len(keys) == 2 and all(len(k[0]) == 16 for k in keys)
    cols = {
        r[0]
        for r in q(
            con, "select column_name from information_schema.columns where table_name = 'cost_line_items'"
        )
    }
    assert "hours" not in cols and "hourly_rate" not in cols


def test_rule_coverage_is_reported_per_month(ledger):
    _, summary, con = ledger
    # September: 7,282.70 placed on leaves out of 7,335.95 in scope (53.25 unallocated)
    assert summary.coverage["2026-09"] == pytest.approx(99.2741, abs=1e-4)
    row = q(
        con,
        "select in_scope_cost, allocated_cost, unallocated_cost, out_of_scope_cost from marts.rule_coverage where month = date '2026-09-01'",
    )
    assert row == [(D("7335.95"), D("7282.70"), D("53.25"), D("142.00"))]
