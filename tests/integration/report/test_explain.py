"""`costledger explain` on a real run of the small company (tests/fixtures/ledger): the rule it prints,
pasted into cost_rules.yaml, places the group on the next run, and cost is still conserved."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from decimal import Decimal as D

import duckdb
import pytest
import yaml

from pipeline.config.settings import DEMO_CONFIG
from tests.conftest import TEST_PII_KEY
from tests.fixtures.cli import cli

SEPT = "2026-09"


def _published(warehouse, sql, params=None):
    con = duckdb.connect(str(warehouse / "costledger.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _month_totals(warehouse):
    """(C_total, unallocated, out of scope, everything) of September, from the published line items."""
    return _published(
        warehouse,
        """
        select sum(cost) filter (leaf not in ('unallocated', 'out_of_scope')),
               coalesce(sum(cost) filter (leaf = 'unallocated'), 0),
               coalesce(sum(cost) filter (leaf = 'out_of_scope'), 0),
               sum(cost)
        from marts.cost_line_items where month = date '2026-09-01'
        """,
    )[0]


def _snippet(out: str) -> str:
    """The YAML under the first group's 'rule:' line, as printed (indented two spaces)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("rule:")) + 1
    block = []
    for line in lines[start:]:
        if not line.startswith("  ") or not line.strip():
            break
        block.append(line[2:])
    return "\n".join(block)


@pytest.fixture
def ran(small_landing, tmp_path):
    warehouse = tmp_path / "warehouse"
    config = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, config)
    res = cli("run", "--quiet", landing=small_landing, warehouse=warehouse, config=config)
    assert res.returncode == 0, res.stderr
    return small_landing, warehouse, config


def test_explain_lists_the_unallocated_group_with_a_rule_that_places_it(ran):
    landing, warehouse, config = ran
    before = _month_totals(warehouse)
    # the small company's September: 53.25 in scope that no rule places (tests/integration/app/test_ledger_small.py)
    assert before[1] == D("53.25")
    res = cli("explain", "--month", SEPT, landing=landing, warehouse=warehouse, config=config)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "53.25" in out and "1 line" in out and "no rule matched" in out
    assert "100.0% of unallocated" in out
    # share of total: 53.25 of everything read in September
    share = (D("53.25") * 100 / before[3]).quantize(D("0.1"))
    assert f"{share}% of total" in out
    assert "append to the end of `rules:`" in out

    # paste it: the printed YAML is one rule, appended to the rules as printed
    rules_file = config / "cost_rules.yaml"
    rules = yaml.safe_load(rules_file.read_text())
    pasted = yaml.safe_load(_snippet(out))
    assert isinstance(pasted, list) and len(pasted) == 1
    rules["rules"] += pasted
    rules_file.write_text(yaml.safe_dump(rules, sort_keys=False))

    res = cli("run", "--quiet", landing=landing, warehouse=warehouse, config=config)
    assert res.returncode == 0, res.stderr
    after = _month_totals(warehouse)
    assert after[1] == 0  # the group is placed
    assert after[0] == before[0] + before[1]  # onto C_total, to the cent
    assert after[2] == before[2] and after[3] == before[3]  # nothing else moved; the month is conserved
    placed = _published(
        warehouse, "select leaf, model_id from marts.cost_line_items where rule_id = ?", [pasted[0]["id"]]
    )
    assert placed and all(leaf and model for leaf, model in placed)
    assert _published(warehouse, "select count(*) from audit.reconciliation where difference <> 0") == [(0,)]
    res = cli("explain", "--month", SEPT, landing=landing, warehouse=warehouse, config=config)
    assert "nothing is unallocated" in res.stdout


def test_published_line_items_carry_what_a_rule_is_written_from(ran):
    _, warehouse, _ = ran
    cols = {
        r[0]
        for r in _published(
            warehouse,
            "select column_name from duckdb_columns() where schema_name = 'marts' and table_name = 'cost_line_items'",
        )
    }
    assert {"tags", "resource_id", "resource_name", "charge_description", "service", "billing_account_id",
            "sub_account_id"} <= cols  # fmt: skip
    # FOCUS lines keep their tags and accounts; invoice and time lines have none
    focus = _published(
        warehouse,
        "select count(*) filter (tags <> '{}'), count(*) filter (billing_account_id is not null), count(*) "
        "from marts.cost_line_items where source_system = 'focus'",
    )[0]
    assert focus[0] > 0 and focus[1] == focus[2]
    other = _published(
        warehouse,
        "select count(*) from marts.cost_line_items where source_system <> 'focus' "
        "and (tags <> '{}' or billing_account_id is not null or resource_id is not null)",
    )
    assert other == [(0,)]


def test_explain_of_a_month_without_data_or_a_bad_month_is_one_line(ran):
    landing, warehouse, config = ran
    res = cli("explain", "--month", "2026-13", landing=landing, warehouse=warehouse, config=config)
    assert res.returncode != 0 and "YYYY-MM" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = cli("explain", "--month", "2025-01", landing=landing, warehouse=warehouse, config=config)
    assert res.returncode != 0 and "no published cost for 2025-01" in res.stderr and "2026-09" in res.stderr


def test_explain_into_a_reader_that_stops_early_ends_quietly(ran):
    """`costledger explain | head -0`: the reader has closed the pipe before the first line is
    written (the command takes a second to start); no traceback, the shell's 141."""
    landing, warehouse, config = ran
    env = {
        **os.environ,
        "COSTLEDGER_PII_KEY": TEST_PII_KEY,
        "COSTLEDGER_LANDING": str(landing),
        "COSTLEDGER_WAREHOUSE": str(warehouse),
        "COSTLEDGER_CONFIG": str(config),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.app.cli", "explain", "--month", SEPT],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err
    assert code == 141, err


def test_report_shows_the_same_groups_and_a_tie_out_that_adds_up(ran):
    from pipeline.config.settings import load_settings
    from pipeline.report import build_report
    from pipeline.report.render import render_text
    from tests.fixtures.report.adds_up import assert_report_adds_up

    landing, warehouse, config = ran
    settings = load_settings(landing=landing, warehouse=warehouse, config=config)
    rep = build_report(settings, SEPT)
    assert [(g.cost, g.line_count, g.reason) for g in rep.top_unallocated] == [
        (D("53.25"), 1, "no rule matched")
    ]
    # September of the small company (tests/integration/app/test_ledger_small.py): C_total 7,282.70,
    # 53.25 unallocated, 142.00 out of scope; read from all sources is their sum
    total = rep.tie_out[-1]
    assert (total.c_total, total.unallocated, total.out_of_scope) == (D("7282.70"), D("53.25"), D("142.00"))
    assert total.read == D("7477.95") and total.difference == 0
    assert {r.source for r in rep.tie_out[:-1]} == {"focus", "invoice", "timesheet"}
    assert assert_report_adds_up(rep) >= 8  # the tie-out table and its CSV included
    text = render_text(rep)
    assert "Tie-out" in text and "7,477.95" in text
    # budget variance on C_total and on C_total + unallocated (7,335.95)
    assert "with unallocated (7,335.95)" in text


def test_invoice_freshness_is_dated_by_the_end_of_the_service_period(ran):
    from datetime import date

    _, warehouse, _ = ran
    # tests/fixtures/ledger/landing/invoices: INV-1001 bills labels to 2026-10-15 (its October part
    # starts 2026-10-01); VO-77 bills September to 2026-09-30 (its charge starts 2026-09-01)
    got = _published(
        warehouse,
        "select latest_charge_date from marts.data_freshness where source_system = 'invoice' order by 1",
    )
    assert got == [(date(2026, 9, 30),), (date(2026, 10, 15),)]
