"""Incremental by month: a history built night by night, recomputing only the months new,
changed, restated or forgotten files touch, equals to the cent and row for row a full rebuild of
the same landing in a fresh warehouse (every published table, audit.reconciliation, the checks).

The history: the tiny company of tests/fixtures/ledger (2026-09: FOCUS, invoices, time logs,
metrics, budgets, FX) plus FOCUS exports for 2026-10 .. 2026-12 of several billing accounts,
with credits and a line split by cost (shared serving). Each FOCUS file has its own billing
account: two files of one account and period are the same charges twice (a critical check)."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipeline.app import steps
from pipeline.config.settings import load_settings
from pipeline.ingest import SOURCES
from pipeline.transform import runner
from pipeline.transform.contracts import load_contracts, published_tables
from tests.conftest import DEMO_CONFIG, SMALL_LANDING

pytestmark = pytest.mark.slow

FIXTURE_FOCUS = SMALL_LANDING / "focus" / "acme-cloud" / "focus-2026-09.csv"
COST_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
# columns that name a load, a run or a moment: they differ between any two warehouses
VOLATILE = {"load_id", "run_id", "loaded_at", "first_seen_at", "last_seen_at", "rejected_at", "checked_at"}


def _next(month: str) -> str:
    y, m = map(int, month.split("-"))
    return f"{y + m // 12}-{m % 12 + 1:02d}"


def focus_file(path: Path, month: str, account: str, factor: str = "1") -> Path:
    """The fixture's September FOCUS lines moved to `month`, for billing account `account`, costs
    times `factor`; plus a line shared by serving cost (split by cost) and a credit."""
    with FIXTURE_FOCUS.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0].keys())
    extra_split = dict(
        rows[0],
        ChargeDescription="Serving load balancers",
        ResourceId="lb-shared",
        ResourceName="serving-lb",
        ServiceName="Elastic Load Balancing",
        ServiceCategory="Networking",
        BilledCost="33.33",
        EffectiveCost="33.33",
        ListCost="33.33",
        ContractedCost="33.33",
        Tags='{"cl-pool":"shared-serving"}',
    )
    credit = dict(
        rows[1],
        ChargeCategory="Credit",
        ChargeDescription="Promotional credit",
        BilledCost="-7.77",
        EffectiveCost="-7.77",
        ListCost="0",
        ContractedCost="0",
        PricingQuantity="",
        PricingUnit="",
    )
    out = io.StringIO()
    w = csv.DictWriter(out, header, lineterminator="\n")
    w.writeheader()
    nxt = _next(month)
    for r in [*rows, extra_split, credit]:
        r = dict(r, BillingAccountId=account)
        for k, v in r.items():
            if k.endswith(("Start", "End")) and v:
                v = v.replace("2026-10-01", f"{nxt}-01@").replace("2026-09", month).replace("@", "")
                r[k] = v
        for k in COST_COLUMNS:
            if r[k]:
                r[k] = str((Decimal(r[k]) * Decimal(factor)).quantize(Decimal("0.01")))
        w.writerow(r)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue())
    return path


def make_landing(root: Path) -> Path:
    landing = root / "landing"
    shutil.copytree(SMALL_LANDING, landing)
    focus_file(landing / "focus/acme-cloud/focus-2026-10.csv", "2026-10", "210000000001", "1.5")
    focus_file(landing / "focus/acme-cloud/focus-2026-11.csv", "2026-11", "210000000002", "0.75")
    focus_file(landing / "focus/other/focus-2026-11.csv", "2026-11", "310000000001", "2.25")
    return landing


def settings_for(landing: Path, warehouse: Path, config: Path = DEMO_CONFIG):
    return load_settings(config=config, landing=landing, warehouse=warehouse)


def _columns(con, relation: str) -> list[str]:
    return [
        name
        for name, typ, *_ in con.execute(f"describe select * from {relation}").fetchall()
        if name not in VOLATILE and not typ.startswith("TIMESTAMP")
    ]


def snapshot(con, relation: str) -> list[tuple]:
    """The relation's rows without its volatile columns, sorted: an order-independent multiset."""
    cols = _columns(con, relation)
    rows = con.execute(f"select {', '.join(cols)} from {relation}").fetchall()
    return sorted(rows, key=repr)


def published(settings) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        tables = [n for n in published_tables() if n.startswith("marts.")] + [
            "audit.reconciliation",
            "audit.rejected_rows",
        ]
        return {t: snapshot(con, t) for t in tables}
    finally:
        con.close()


def work(settings) -> dict[str, object]:
    """What the work database holds for the books, and the last run's check results."""
    con = duckdb.connect(str(settings.warehouse / "work.duckdb"), read_only=True)
    try:
        last = con.execute(
            "select run_id from audit.runs where status = 'succeeded' order by started_at desc limit 1"
        ).fetchone()[0]
        checks = sorted(
            con.execute(
                "select * exclude (run_id, checked_at) from audit.quality_results where run_id = ?", [last]
            ).fetchall(),
            key=repr,
        )
        return {
            "core.allocated_line_items": snapshot(con, "core.allocated_line_items"),
            "core.line_items": snapshot(con, "core.line_items"),
            "audit.reconciliation": snapshot(con, "audit.reconciliation"),
            "checks": checks,
        }
    finally:
        con.close()


def scope_of(settings, run_id: str) -> tuple[str, list[date]]:
    con = duckdb.connect(str(settings.warehouse / "work.duckdb"), read_only=True)
    try:
        mode, months = con.execute(
            "select mode, months from audit.run_scope where run_id = ?", [run_id]
        ).fetchone()
        return mode, list(months or [])
    finally:
        con.close()


def full_rebuild(landing: Path, root: Path, name: str, config: Path = DEMO_CONFIG):
    """The same landing in a fresh warehouse, built whole."""
    fresh = settings_for(landing, root / name, config)
    summary = steps.run_all(fresh)
    assert summary.status == "succeeded"
    return fresh


def assert_same_books(incr, full) -> None:
    got, want = published(incr), published(full)
    for table in want:
        assert got[table] == want[table], f"published {table} differs from a full rebuild"
    got, want = work(incr), work(full)
    for key in want:
        assert got[key] == want[key], f"{key} differs from a full rebuild"


def M(s: str) -> date:
    return date.fromisoformat(s + "-01")


@pytest.fixture
def history(tmp_path):
    landing = make_landing(tmp_path)
    settings = settings_for(landing, tmp_path / "warehouse")
    first = steps.run_all(settings)
    assert first.status == "succeeded"
    assert first.scope.startswith("full rebuild")
    return tmp_path, landing, settings


def test_night_by_night_equals_a_full_rebuild(history):
    root, landing, settings = history

    # night 2: one new file in one month
    focus_file(landing / "focus/late/focus-2026-11.csv", "2026-11", "410000000001", "3")
    s = steps.run_all(settings)
    assert s.status == "succeeded", s.message
    assert scope_of(settings, s.run_id) == ("months", [M("2026-11")])
    assert "recomputed 2026-11 of 3 months" in s.scope
    assert s.publish_mode == "months"
    assert_same_books(settings, full_rebuild(landing, root, "full2"))

    # night 3: a restated file (same path, new content), in its own month
    focus_file(landing / "focus/acme-cloud/focus-2026-10.csv", "2026-10", "210000000001", "1.75")
    s = steps.run_all(settings)
    assert scope_of(settings, s.run_id) == ("months", [M("2026-10")])
    assert_same_books(settings, full_rebuild(landing, root, "full3"))

    # night 4: a file forgotten (gone from landing, taken off the books), plus a new month
    (landing / "focus/other/focus-2026-11.csv").unlink()
    steps.forget(settings, "focus/other/focus-2026-11.csv", reason="sent by mistake")
    focus_file(landing / "focus/acme-cloud/focus-2026-12.csv", "2026-12", "210000000003", "1.1")
    s = steps.run_all(settings)
    assert scope_of(settings, s.run_id) == ("months", [M("2026-11"), M("2026-12")])
    assert_same_books(settings, full_rebuild(landing, root, "full4"))

    # night 5: nothing new: nothing recomputed, the published file left as it was
    s = steps.run_all(settings)
    assert "nothing new" in s.message


def test_a_restated_file_that_moves_month_recomputes_both_months(history):
    """The test that fails when the months of the rows that left the books are not recomputed:
    the October file restated with December charges leaves October's old lines behind."""
    root, landing, settings = history
    focus_file(landing / "focus/acme-cloud/focus-2026-10.csv", "2026-12", "210000000001", "1.5")
    s = steps.run_all(settings)
    assert_same_books(settings, full_rebuild(landing, root, "full"))  # first the books, then the why
    assert scope_of(settings, s.run_id) == ("months", [M("2026-10"), M("2026-12")])


def test_a_rule_change_rebuilds_everything(history, tmp_path):
    root, landing, _ = history
    config = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, config)
    # build once on the copied config, then change a rule
    settings = settings_for(landing, root / "warehouse-cfg", config)
    assert steps.run_all(settings).status == "succeeded"
    rules = config / "cost_rules.yaml"
    text = rules.read_text()
    moved = text.replace("      leaf: tuning_resources\n    split:", "      leaf: training\n    split:", 1)
    assert moved != text
    rules.write_text(moved)  # the shared GPU pool moves from tuning resources to training
    settings = settings_for(landing, root / "warehouse-cfg", config)  # the next night reads the config anew
    s = steps.run_all(settings)
    assert s.status == "succeeded"
    mode, _ = scope_of(settings, s.run_id)
    assert mode == "full"
    assert "full rebuild: changed: cost_rules.yaml" in s.scope
    assert s.publish_mode == "full"
    assert_same_books(settings, full_rebuild(landing, root, "full", config))


def test_a_forgotten_file_month_is_recomputed(history):
    root, landing, settings = history
    (landing / "focus/acme-cloud/focus-2026-10.csv").unlink()
    steps.forget(settings, "focus/acme-cloud/focus-2026-10.csv", reason="duplicate export")
    s = steps.run_all(settings)
    assert scope_of(settings, s.run_id) == ("months", [M("2026-10")])
    assert s.publish_mode == "months"
    assert_same_books(settings, full_rebuild(landing, root, "full"))


def _night_by_steps(settings, run_id: str) -> None:
    """The nightly DAG's tasks, one call each, in its order."""
    steps.discover(settings)
    for source in SOURCES:
        steps.load_source(settings, source, run_id)
    assert steps.nothing_new(settings, run_id) == {"nothing_new": False}
    steps.check_raw(settings, run_id)
    steps.transform(settings, run_id)
    steps.check_marts(settings, run_id)
    steps.publish(settings, run_id)


def test_the_dag_steps_one_by_one_equal_run_all(history):
    root, landing, settings = history
    focus_file(landing / "focus/late/focus-2026-11.csv", "2026-11", "410000000001", "3")
    _night_by_steps(settings, "run-steps-night-2")
    assert scope_of(settings, "run-steps-night-2") == ("months", [M("2026-11")])
    con = duckdb.connect(str(settings.warehouse / "work.duckdb"), read_only=True)
    status, message = con.execute(
        "select status, message from audit.runs where run_id = 'run-steps-night-2'"
    ).fetchone()
    con.close()
    assert status == "succeeded" and "recomputed 2026-11" in message
    assert_same_books(settings, full_rebuild(landing, root, "full"))


def _scans(profile: Path, table: str) -> list[tuple[str, int]]:
    """(filters, rows passed on) of every scan of `table` in DuckDB's JSON profile of the last statement."""

    def walk(node) -> list[tuple[str, int]]:
        info = node.get("extra_info", {})
        own = (
            [(str(info.get("Filters", "")), int(node["intermediate_rows"]))]
            if node.get("type") == "TABLE_SCAN" and str(info.get("Table", "")).endswith(f".{table}")
            else []
        )
        return own + [s for c in node.get("children", []) for s in walk(c)]

    return [s for op in json.loads(profile.read_text())["operator"] for s in walk(op)]


def test_a_recomputed_month_reads_only_the_raw_lines_of_its_loads(history, tmp_path):
    """The narrowing saves work, not only keeps the books: rebuilding one month of core.line_items
    scans the raw FOCUS table for that month's loads only (twice: the lines and their rate days),
    where the whole build scans all of it.
    (One whole scan is left: the owned-hardware register books its months up to the ledger's last
    month, staging.stg_asset_months; at 5M lines that min/max costs about 1 CPU second.)"""
    _, _, settings = history
    contract = load_contracts()["core.line_items"]
    sql = runner.model_sql(contract)
    profile = tmp_path / "profile.json"
    con = duckdb.connect(str(settings.warehouse / "work.duckdb"))
    try:
        raw_total = con.execute("select count(*) from raw.focus_line_items").fetchone()[0]
        loads = [
            r[0]
            for r in con.execute(
                "select load_id from audit.built_loads where list_contains(months, ?) order by 1",
                [M("2026-11")],
            ).fetchall()
        ]
        in_loads = con.execute(
            "select count(*) from raw.focus_line_items where list_contains(?, load_id)", [loads]
        ).fetchone()[0]
        assert loads and 0 < in_loads < raw_total
        con.execute("set enable_profiling = 'json'")
        con.execute(f"set profiling_output = '{profile}'")
        con.begin()
        runner._build_partitioned(
            con, contract.name, sql, None, None, [M("2026-11")], loads, contract.month_local_inputs
        )
        one_month = _scans(profile, "raw.focus_line_items")
        runner._build_partitioned(con, contract.name, sql, None, None)  # the whole table
        whole = _scans(profile, "raw.focus_line_items")
        con.rollback()
    finally:
        con.close()
    # the lines, their rate days (two columns, sql/core/line_items.sql) and the register's range
    assert all("load_id" not in f for f, _ in whole) and sum(n for _, n in whole) == 3 * raw_total
    narrowed = [n for f, n in one_month if "load_id" in f]
    assert narrowed == [in_loads, in_loads], one_month
    assert [n for f, n in one_month if "load_id" not in f] == [raw_total], one_month  # the register's range


SHARES = "assert_allocated_shares_sum_to_line"


def _checked(con) -> dict[date, tuple]:
    return {
        m: (n, at)
        for m, n, at in con.execute(
            "select month, offending_rows, checked_at from audit.checked_months where check_name = ?",
            [SHARES],
        ).fetchall()
    }


def test_a_night_checks_the_shares_of_the_months_it_recomputed_only(history):
    """The month-local check (sql/checks/assert_allocated_shares_sum_to_line.sql reads only the
    month partitions) is kept per month; a night that recomputes 2026-11 checks 2026-11 alone,
    and its outcome is the whole check's (test_night_by_night_equals_a_full_rebuild compares
    the recorded checks with a full rebuild's)."""
    _, landing, settings = history
    con = duckdb.connect(str(settings.warehouse / "work.duckdb"), read_only=True)
    before = _checked(con)
    con.close()
    assert sorted(before) == [M("2026-09"), M("2026-10"), M("2026-11")]
    assert all(n == 0 for n, _ in before.values())

    focus_file(landing / "focus/late/focus-2026-11.csv", "2026-11", "410000000001", "3")
    s = steps.run_all(settings)
    assert s.status == "succeeded", s.message
    con = duckdb.connect(str(settings.warehouse / "work.duckdb"), read_only=True)
    after = _checked(con)
    observed = con.execute(
        "select success, observed from audit.quality_results where run_id = ? and check_name = ?",
        [s.run_id, f"{SHARES}.sql"],
    ).fetchall()
    con.close()
    assert observed == [(True, "ok")]
    assert {m: at for m, (_, at) in after.items() if m != M("2026-11")} == {
        m: at for m, (_, at) in before.items() if m != M("2026-11")
    }, "a month the night did not recompute was checked again"
    assert after[M("2026-11")][1] > before[M("2026-11")][1]


def test_a_kept_month_whose_rows_changed_outside_a_transform_is_checked_again(history):
    """A kept result holds only while the month's rows, billed and effective cost are as they
    were: a share changed by hand in 2026-10 fails the gate, and keeps failing it."""
    from pipeline import db, quality
    from pipeline.errors import QualityGateError

    _, _, settings = history
    con = db.connect_work(settings)
    try:
        share = con.execute(
            "select share_id from core.allocated_line_items where month = ? and effective_cost > 1 "
            "order by share_id limit 1",
            [M("2026-10")],
        ).fetchone()[0]
        con.execute(
            "update core.allocated_line_items set effective_cost = effective_cost + 0.01 where share_id = ?",
            [share],
        )
        for _ in range(2):
            with pytest.raises(QualityGateError, match=SHARES):
                quality.run_gate(con, settings, "run-by-hand", "marts")
            assert _checked(con)[M("2026-10")][0] == 1
            assert all(n == 0 for m, (n, _) in _checked(con).items() if m != M("2026-10"))
    finally:
        con.close()


def _counted(con) -> dict[str, object]:
    return dict(
        con.execute(
            "select source_file, checked_at from audit.checked_files where raw_table = 'raw.focus_line_items'"
        ).fetchall()
    )


def test_the_raw_gate_counts_the_files_a_night_loaded_and_any_whose_rows_changed(history):
    """The raw gate's per-file counts are kept per file with its loads and their rows: a night
    counts the file it loaded, not every line; a line added to a kept file's load by hand is
    counted (and fails the gate as a line read twice)."""
    from pipeline import db, quality
    from pipeline.errors import QualityGateError

    _, landing, settings = history
    con = duckdb.connect(str(settings.warehouse / "work.duckdb"), read_only=True)
    before = _counted(con)
    con.close()
    assert sorted(before) == [
        "focus/acme-cloud/focus-2026-09.csv",
        "focus/acme-cloud/focus-2026-10.csv",
        "focus/acme-cloud/focus-2026-11.csv",
        "focus/other/focus-2026-11.csv",
    ]
    focus_file(landing / "focus/late/focus-2026-11.csv", "2026-11", "410000000001", "3")
    assert steps.run_all(settings).status == "succeeded"

    con = db.connect_work(settings)
    try:
        after = _counted(con)
        assert {f: at for f, at in after.items() if f in before} == before, (
            "a file loaded as it was was counted again"
        )
        assert after["focus/late/focus-2026-11.csv"] > max(before.values())

        con.execute(
            "insert into raw.focus_line_items select * from raw.focus_line_items "
            "where source_file = 'focus/acme-cloud/focus-2026-10.csv' and source_row = 2"
        )
        with pytest.raises(
            QualityGateError,
            match="1 duplicate \\(source_file, source_row\\) lines in focus/acme-cloud/focus-2026-10.csv",
        ):
            quality.run_gate(con, settings, "run-by-hand", "raw")
        again = _counted(con)
        assert again["focus/acme-cloud/focus-2026-10.csv"] > after["focus/acme-cloud/focus-2026-10.csv"]
        assert again["focus/acme-cloud/focus-2026-09.csv"] == before["focus/acme-cloud/focus-2026-09.csv"]
    finally:
        con.close()
