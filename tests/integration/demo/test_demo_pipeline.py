"""The demo company end to end: `costledger run` on the generated landing zone, then the published ledger."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from examples.demo import generate as demo
from pipeline.config.settings import DEMO_CONFIG
from pipeline.ledger import LEAVES

pytestmark = pytest.mark.slow

MONTHS = list(demo.DEFAULT_MONTHS)


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("demo_e2e")
    landing, warehouse = root / "landing", root / "warehouse"
    demo.generate(landing)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSTLEDGER_")}
    env["COSTLEDGER_PII_KEY"] = "demo-e2e-test-key"
    env["COSTLEDGER_CONFIG"] = str(DEMO_CONFIG)
    t0 = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pipeline.app.cli import main; sys.exit(main())",
            "run",
            "--quiet",
            "--landing",
            str(landing),
            "--warehouse",
            str(warehouse),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    seconds = time.perf_counter() - t0
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])
    db = warehouse / "costledger.duckdb"
    assert db.exists()
    return {"db": db, "landing": landing, "seconds": seconds, "stdout": done.stdout}


def _query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_the_demo_runs_quickly(published):
    # the demo is meant to be run by hand: a few seconds, not minutes (budget 20 s on a quiet box)
    assert published["seconds"] < 60, published["seconds"]


def test_every_leaf_is_non_zero_in_every_month(published):
    rows = _query(
        published["db"],
        "select strftime(month, '%Y-%m'), leaf, sum(cost) from marts.monthly_leaf_cost group by all",
    )
    cost = {(m, leaf): c for m, leaf, c in rows}
    for month in MONTHS:
        for leaf in LEAVES:
            assert cost.get((month, leaf), 0) > 0, (month, leaf)


def test_c_total_is_near_the_budget_and_both_extra_buckets_show(published):
    rows = _query(
        published["db"],
        """select strftime(month, '%Y-%m'), sum(c_total), sum(c_unallocated), sum(c_out_of_scope),
                  sum(c_pretrain + c_tuning + c_deploy + c_maintenance + c_people_merged)
           from marts.monthly_cost_rollup group by all order by 1""",
    )
    assert [r[0] for r in rows] == MONTHS
    totals = []
    for month, total, unallocated, out_of_scope, stages in rows:
        assert Decimal("800000") <= total <= Decimal("1200000"), (month, total)
        assert stages == total  # the four stages (and people time merged across leaves) add up to C_total
        assert out_of_scope > 0, month
        share = unallocated / (total + unallocated)
        assert Decimal("0.02") <= share <= Decimal("0.06"), (month, share)
        totals.append(total)
    assert len(set(totals)) == len(totals)  # months differ


def test_cost_is_conserved_per_file_and_month(published):
    rows = _query(
        published["db"], "select source_file, month, difference, source_system from audit.reconciliation"
    )
    assert rows
    assert [r for r in rows if r[2] != 0] == []
    files = {r[0] for r in rows if r[0] is not None}
    assert any(f.startswith("focus/aws-focus/") for f in files)
    assert any(f.startswith("focus/alibaba/") for f in files)
    assert any(f.startswith("invoices/") for f in files)
    # time logs are reconciled per month, all their files together (docs/privacy.md)
    people = [r for r in rows if r[3] == "timesheet"]
    assert len(people) == len(MONTHS) and all(r[0] is None for r in people)


def test_the_demo_loads_without_rejected_rows(published):
    assert _query(published["db"], "select source_file, source_row, reason from audit.rejected_rows") == []


def test_people_data_never_reaches_the_published_file(published):
    people: set[str] = set()
    for path in (published["landing"] / "timesheets").glob("*.csv"):
        with path.open(newline="") as fh:
            for r in csv.DictReader(fh):
                people.update({r["employee_name"], r["employee_email"]})
    # the trackers' own exports name people their way
    for path in (published["landing"] / "timesheets").glob("*/*.csv"):
        with path.open(newline="") as fh:
            for r in csv.DictReader(fh):
                people.update(
                    {r["Full name"]} if "Full name" in r else {r["First Name"] + " " + r["Last Name"]}
                )
    con = duckdb.connect(str(published["db"]), read_only=True)
    try:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR'"
        ).fetchall()
        leaks = []
        for schema, table, column in columns:
            found = con.execute(
                f'select distinct "{column}" from "{schema}"."{table}" where "{column}" = any($people) limit 3',
                {"people": sorted(people)},
            ).fetchall()
            leaks.extend((schema, table, column, f[0]) for f in found)
    finally:
        con.close()
    assert leaks == []


def test_no_demo_pay_rate_can_be_read_off_the_published_file(published):
    """The pay-rate attack of tests/integration/publish/test_people_privacy.py on the demo company."""
    from tests.integration.publish.test_people_privacy import published_candidates, published_tables

    rates = {
        Decimal(r) for table in (*demo.ROLE_RATES.values(), *demo.EMPLOYEE_RATES.values()) for _, r in table
    }
    con = duckdb.connect(str(published["db"]), read_only=True)
    try:
        figures, _ = published_candidates(con, published_tables(con))
    finally:
        con.close()
    assert sorted(rates & figures) == []


def test_people_leaves_are_published_at_the_merged_grain(published):
    # the demo's teams are small: most people time is grouped over several models, and the two
    # data engineers' time (one role rate between them) is merged across leaves every month
    rows = _query(
        published["db"],
        """select leaf, count(*) filter (model_id = '(several)'), sum(cost) from marts.monthly_leaf_cost
           where leaf in ('tuning_time', 'maintenance_time', 'people_merged') group by 1 order by 1""",
    )
    assert [r[0] for r in rows] == ["maintenance_time", "people_merged", "tuning_time"]
    assert all(r[1] > 0 and r[2] > 0 for r in rows)
    grains = _query(
        published["db"],
        "select people_grain, count(*) from marts.cost_line_items where source_system = 'timesheet' group by 1",
    )
    assert {g for g, _ in grains} == {"activity_team", "model", "leaf", "month"}


def test_the_month_total_read_is_one_figure_in_explain_and_in_the_report(published, tmp_path):
    """explain's header and the report's tie-out TOTAL (a sum of the displayed parts) show the same
    total read and the same unallocated: the exact month rounded half up, from the line items."""
    from tests.fixtures.cli import cli

    landing, warehouse = published["landing"], published["db"].parent
    month = MONTHS[-1]
    exact_total, exact_c_total = _query(
        published["db"],
        f"select sum(cost), sum(cost) filter (leaf not in ('unallocated', 'out_of_scope')) "
        f"from marts.cost_line_items where month = date '{month}-01'",
    )[0]
    half_up = Decimal(exact_total).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")

    res = cli("explain", "--month", month, landing=landing, warehouse=warehouse, config=DEMO_CONFIG)
    assert res.returncode == 0, res.stderr
    header = res.stdout.splitlines()[0]
    assert f"{half_up:,.2f} read for the month" in header, header

    out = tmp_path / "report"
    res = cli(
        "report",
        "--month",
        month,
        "--out",
        str(out),
        landing=landing,
        warehouse=warehouse,
        config=DEMO_CONFIG,
    )
    assert res.returncode == 0, res.stderr
    (tie_csv,) = out.glob("*tie-out.csv")
    rows = list(csv.DictReader(tie_csv.open(encoding="utf-8-sig")))
    body, total = rows[:-1], rows[-1]
    assert Decimal(total["read"]) == half_up
    assert sum(Decimal(r["read"]) for r in body) == half_up
    for col in ("c_total", "c_unallocated", "c_out_of_scope"):
        assert sum(Decimal(r[col]) for r in body) == Decimal(total[col]), col
    for r in rows:
        parts = sum(Decimal(r[c]) for c in ("c_total", "c_unallocated", "c_out_of_scope", "difference"))
        assert Decimal(r["read"]) == parts, r
    # C_total is its own exact sum, half up, as the report's equation shows it
    assert Decimal(total["c_total"]) == Decimal(exact_c_total).quantize(
        Decimal("0.01"), rounding="ROUND_HALF_UP"
    )
    # explain's unallocated is the tie-out's
    assert header.startswith("Unallocated ") and f" {Decimal(total['c_unallocated']):,.2f} (" in header, (
        header
    )


def test_the_demo_cur_export_is_read_and_its_tagged_lines_placed(published):
    """The ML lab's native CUR 2.0 (issue 11): every month read, its tagged lines placed by the
    demo's CUR rule on the model and leaf their tags name, the untagged ones left unallocated."""
    con = duckdb.connect(str(published["db"]), read_only=True)
    try:
        got = con.execute(
            """
            select strftime(month, '%Y-%m'), rule_id, model_id, leaf, count(*)
            from marts.cost_line_items where source_system = 'aws_cur' group by all order by all
            """
        ).fetchall()
    finally:
        con.close()
    assert {m for m, *_ in got} == set(demo.DEFAULT_MONTHS)
    placed = {(rule, model, leaf) for _, rule, model, leaf, _ in got if rule is not None}
    assert placed == {
        ("tagged-cur-resources", "reco-llm", "training"),
        ("tagged-cur-resources", "home-feed-personalizer", "software"),
        ("tagged-cur-resources", "search-rerank-bert", "hardware"),
    }
    assert {leaf for _, rule, _, leaf, _ in got if rule is None} == {"unallocated"}


def test_the_demo_exports_as_focus_1_3_and_round_trips(published, tmp_path):
    """Issue 13: the demo's FOCUS export conforms and reproduces the ledger's totals to the cent,
    with every source in it and nobody's name."""
    from tests.fixtures.focus_export import check_focus_1_3

    out = tmp_path / "demo-focus.parquet"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSTLEDGER_")}
    env["COSTLEDGER_PII_KEY"] = "demo-e2e-test-key"
    env["COSTLEDGER_CONFIG"] = str(DEMO_CONFIG)
    warehouse = published["db"].parent
    for fmt, path in (("parquet", out), ("csv", tmp_path / "demo-focus.csv")):
        done = subprocess.run(
            [sys.executable, "-m", "pipeline.app.cli", "export", "focus", "--format", fmt, "--out", str(path),
             "--landing", str(published["landing"]), "--warehouse", str(warehouse)],
            capture_output=True, text=True, env=env, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
    recs = check_focus_1_3(out)
    rollup = _query(
        published["db"],
        "select month, sum(c_total + c_unallocated + c_out_of_scope) from marts.monthly_cost_rollup group by 1",
    )
    expected = {m: Decimal(v).quantize(Decimal("0.01")) for m, v in rollup}
    got: dict = {}
    for r in recs:
        got[r["x_Month"]] = got.get(r["x_Month"], Decimal(0)) + r["EffectiveCost"]
    assert {m: v.quantize(Decimal("0.01")) for m, v in got.items()} == expected

    assert {"focus", "invoice", "timesheet", "asset"} <= {r["x_SourceSystem"] for r in recs}
    assert any(r["AllocatedMethodId"] for r in recs)
    people: set[str] = set()
    for path in (published["landing"] / "timesheets").rglob("*.csv"):
        with path.open(newline="") as fh:
            for r in csv.DictReader(fh):
                for key in ("employee_name", "employee_email", "Full name"):
                    if r.get(key):
                        people.add(r[key])
                if r.get("First Name"):
                    people.add(f"{r['First Name']} {r['Last Name']}")
    assert people
    text = (tmp_path / "demo-focus.csv").read_text().lower()
    assert [p for p in people if p.lower() in text] == []
