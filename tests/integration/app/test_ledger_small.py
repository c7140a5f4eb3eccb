"""The whole pipeline on the tiny company in tests/fixtures/ledger, checked against figures
worked out by hand (reporting currency CNY; USD at 7.10 until 2026-09-14, 7.20 from 09-15).

The company has two people: too few for any group of their time to be published on its own
(docs/privacy.md). All their September time is published as one row merged across leaves
(C_people_merged), flagged by a warning; the leaves show the other cost."""

from __future__ import annotations

import shutil
from decimal import Decimal as D

import duckdb
import pytest

from pipeline.app import steps
from tests.conftest import SMALL_LANDING

pytestmark = pytest.mark.slow

# Before people time is grouped: what each leaf cost, people included.
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
# The two people's September time on each leaf (E001 at the ml_engineer role's 300; E002 at the
# data_scientist role's 250, her own 280 from 09-15): published only as C_people_merged.
SEPT_PEOPLE = {
    "data": D("840.00"),
    "labeled": D("1000.00"),
    "tuning_time": D("1800.00"),
    "maintenance_time": D("600.00"),
}
PUBLISHED_LEAVES = {leaf: cost - SEPT_PEOPLE.get(leaf, 0) for leaf, cost in SEPT_LEAVES.items()}


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    from pipeline.config.settings import load_settings

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
    for leaf, expected in PUBLISHED_LEAVES.items():
        assert got[leaf] == expected, leaf
    assert got["people_merged"] == sum(SEPT_PEOPLE.values()) == D("4240.00")
    assert got["unallocated"] == D("53.25")
    assert got["out_of_scope"] == D("142.00")


def test_stages_and_total_add_up(ledger):
    _, _, con = ledger
    row = q(
        con,
        """
        select sum(c_pretrain), sum(c_tuning), sum(c_deploy), sum(c_maintenance), sum(c_people_merged),
               sum(c_total), sum(c_unallocated), sum(c_out_of_scope)
        from marts.monthly_cost_rollup where month = date '2026-09-01'
    """,
    )[0]
    assert row[:5] == (D("1303.20"), D("497.00"), D("1065.00"), D("177.50"), D("4240.00"))
    assert row[5] == sum(SEPT_LEAVES.values()) == D("7282.70")  # C_total as before grouping
    assert row[6:] == (D("53.25"), D("142.00"))
    bad = q(
        con,
        """
        select * from marts.monthly_cost_rollup
        where c_pretrain <> c_data + c_labeled + c_training
           or c_tuning <> c_tuning_time + c_tuning_resources
           or c_deploy <> c_hardware + c_software
           or c_maintenance <> c_maintenance_time + c_maintenance_resources
           or c_total <> c_pretrain + c_tuning + c_deploy + c_maintenance + c_people_merged
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
    # the two people's data and labeling time is in C_people_merged, not in C_pretrain
    assert rows["pretrain"] == (D("2000.00"), D("1303.20"), D("-696.80"))
    assert rows["total"] == (D("10000.00"), D("7282.70"), D("-2717.30"))


def test_conservation_per_file_and_month(ledger):
    _, _, con = ledger
    rec = q(
        con,
        "select source_file, strftime(month, '%Y-%m'), input_cost, difference, rows_in_file, rows_read, rows_rejected from audit.reconciliation order by 1, 2",
    )
    assert len(rec) == 5  # focus, INV-1001 over two months, VO-77, the time logs of September
    assert all(r[3] == 0 for r in rec)
    assert all(r[4] == r[5] + r[6] for r in rec)
    focus = [r for r in rec if (r[0] or "").startswith("focus/")][0]
    assert focus[2] == D("2303.95")  # the nine FOCUS lines: 324.50 USD at 7.10
    # time logs: one row a month for all their files (docs/privacy.md)
    assert [r[:3] for r in rec if r[0] is None] == [(None, "2026-09", D("4240.00"))]


def test_people_data_never_reaches_the_published_file(ledger):
    settings, _, con = ledger
    tables = q(con, "select table_schema || '.' || table_name from information_schema.tables")
    blob = []
    for (t,) in tables:
        blob.append(str(q(con, f"select * from {t}")))
    text = "\n".join(blob)
    for secret in ("Li Wei", "Ana Souza", "li.wei@example.com", "E001", "E002", "280.00", "250.0000"):
        assert secret not in text, secret
    work = duckdb.connect(str(settings.work_db), read_only=True)
    try:
        keys = [k for (k,) in work.execute("select employee_key from raw.employee_keys").fetchall()]
    finally:
        work.close()
    assert len(keys) == 2 and all(k not in text for k in keys)
    cols = {r[0] for r in q(con, "select column_name from information_schema.columns")}
    assert not {"employee_key", "hours", "hourly_rate"} & cols
    # two people cannot make a group of three: their time is one row, and the gate says so
    people = q(
        con, "select line_id, people_grain, cost from marts.cost_line_items where source_system = 'timesheet'"
    )
    assert people == [("people/2026-09", "month", D("4240.00"))]
    warned = q(
        con,
        "select severity, observed from audit.quality_results "
        "where check_name = 'assert_people_rows_above_threshold.sql' and not success",
    )
    assert warned == [("warning", "1 offending rows; first: line_id=people/2026-09")]


def test_rule_coverage_is_reported_per_month(ledger):
    _, summary, con = ledger
    # September: 7,282.70 placed on leaves out of 7,335.95 in scope (53.25 unallocated)
    assert summary.coverage["2026-09"] == pytest.approx(99.2741, abs=1e-4)
    row = q(
        con,
        "select in_scope_cost, allocated_cost, unallocated_cost, out_of_scope_cost from marts.rule_coverage where month = date '2026-09-01'",
    )
    assert row == [(D("7335.95"), D("7282.70"), D("53.25"), D("142.00"))]
