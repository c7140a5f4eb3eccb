"""Displayed figures add up exactly: largest-remainder rounding, and every table of the report and
its CSVs read back from what is shown."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from pipeline.config.settings import load_settings
from pipeline.report import build_report
from pipeline.report.rounding import largest_remainder, month_figures, round_table
from tests.fixtures.report.adds_up import assert_report_adds_up
from tests.fixtures.report.published_db import make_published_db

CENT = Decimal("0.01")


def test_three_thirds_add_up_to_the_whole():
    third = Decimal(100) / 3  # 33.333...
    parts = largest_remainder([third, third, third], Decimal(100))
    assert sum(parts) == Decimal("100.00")
    assert sorted(parts) == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    # rounding each on its own would show 99.99
    assert sum(p.quantize(CENT) for p in [third] * 3) == Decimal("99.99")


def test_largest_remainder_moves_each_part_by_less_than_a_cent():
    rng = random.Random(7)
    for _ in range(200):
        parts = [Decimal(rng.randint(-(10**9), 10**9)) / Decimal(10**6) for _ in range(rng.randint(1, 12))]
        shown = largest_remainder(parts)
        exact_total = sum(parts)
        assert sum(shown) == exact_total.quantize(CENT, rounding="ROUND_HALF_UP")
        assert all(abs(s - p) < CENT and s == s.quantize(CENT) for s, p in zip(shown, parts, strict=True))


def test_round_table_keeps_columns_exact_and_cells_on_a_neighbouring_cent():
    rng = random.Random(11)
    for _ in range(100):
        n_rows, n_cols = rng.randint(1, 8), rng.randint(1, 6)
        cells = [
            [Decimal(rng.randint(-(10**7), 10**8)) / Decimal(10**5) for _ in range(n_cols)]
            for _ in range(n_rows)
        ]
        col_exact = [sum(cells[i][j] for i in range(n_rows)) for j in range(n_cols)]
        targets = largest_remainder(col_exact)
        shown = round_table(cells, targets)
        for j in range(n_cols):
            assert sum(shown[i][j] for i in range(n_rows)) == targets[j]
        for i in range(n_rows):
            for j in range(n_cols):
                assert abs(shown[i][j] - cells[i][j]) < CENT


@pytest.mark.parametrize("people", [False, True])
@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_every_table_of_the_report_and_the_csv_adds_up(tmp_path, people, lang):
    make_published_db(tmp_path / "warehouse" / "costledger.duckdb", hostile=True, people=people)
    settings = load_settings(warehouse=tmp_path / "warehouse")
    for month in ("2026-08", "2026-09", "2026-10"):
        assert assert_report_adds_up(build_report(settings, month, lang=lang)) >= 6


def test_round_table_keeps_rows_within_a_cent_when_the_columns_allow():
    # two rows, two columns of 0.6 cents: the columns need one extra cent each; the largest
    # remainders alone would give both to the first row (1.2 cents over), the repair moves one
    cells = [[Decimal("0.006"), Decimal("0.006")], [Decimal("0.006"), Decimal("0.006")]]
    shown = round_table(cells, [Decimal("0.01"), Decimal("0.01")])
    assert [sum(r) for r in shown] == [Decimal("0.01"), Decimal("0.01")]
    rng = random.Random(5)
    for _ in range(100):
        n_rows, n_cols = rng.randint(2, 10), rng.randint(2, 10)
        cells = [
            [Decimal(rng.randint(0, 10**6)) / Decimal(10**4) for _ in range(n_cols)] for _ in range(n_rows)
        ]
        targets = largest_remainder([sum(cells[i][j] for i in range(n_rows)) for j in range(n_cols)])
        shown = round_table(cells, targets)
        drifts = [sum(shown[i]) - sum(cells[i]) for i in range(n_rows)]
        # no row is a cent or more off while another is off the other way
        assert not (max(drifts) >= CENT and min(drifts) < 0) and not (
            min(drifts) <= -CENT and max(drifts) > 0
        )


def _sub_cent(rng: random.Random) -> Decimal:
    """An amount with sub-cent digits, mostly positive, now and then a credit."""
    return Decimal(rng.randint(-(10**6), 10**9)) / Decimal(10**6)


def test_the_month_figures_add_up_to_the_total_read_rounded_half_up():
    # each rounded half up on its own shows 0.01 + 0.01 + 0.00 = 0.02 for an exact total of 0.009
    f = month_figures(Decimal("0.005"), Decimal("0.005"), Decimal("-0.001"))
    assert (f.total, f.c_total) == (Decimal("0.01"), Decimal("0.01"))
    assert f.c_total + f.unallocated + f.out_of_scope == f.total
    rng = random.Random(13)
    for _ in range(2000):
        c, u, o = _sub_cent(rng), _sub_cent(rng), _sub_cent(rng)
        f = month_figures(c, u, o)
        assert f.total == (c + u + o).quantize(CENT, rounding="ROUND_HALF_UP")
        assert f.c_total == c.quantize(CENT, rounding="ROUND_HALF_UP")
        assert f.c_total + f.unallocated + f.out_of_scope == f.total
        assert abs(f.unallocated - u) < CENT and abs(f.out_of_scope - o) < CENT


def test_the_tie_out_adds_up_both_ways_to_the_month_total_read():
    """Per source (C_total, unallocated, out of scope) rounded as the report does: the columns add
    up to the month's figures, the rows to the displayed read, and the TOTAL read is the exact
    total half up (what explain's header shows), on random sub-cent amounts."""
    rng = random.Random(17)
    for _ in range(500):
        cells = [[_sub_cent(rng) for _ in range(3)] for _ in range(rng.randint(1, 7))]
        exact = [sum(row[j] for row in cells) for j in range(3)]
        f = month_figures(*exact)
        table = round_table(cells, [f.c_total, f.unallocated, f.out_of_scope])
        reads = [sum(row) for row in table]
        assert sum(reads) == f.total == sum(exact).quantize(CENT, rounding="ROUND_HALF_UP")
        for j, target in enumerate((f.c_total, f.unallocated, f.out_of_scope)):
            assert sum(row[j] for row in table) == target
        for shown_row, exact_row in zip(table, cells, strict=True):
            assert all(abs(s - e) < CENT for s, e in zip(shown_row, exact_row, strict=True))


def test_explain_and_the_report_show_the_same_unallocated_groups_total():
    from pipeline.report.explain import UnallocatedGroup, figures, shown_costs

    rng = random.Random(19)
    for _ in range(300):
        costs = [abs(_sub_cent(rng)) for _ in range(rng.randint(1, 5))]
        unallocated = sum(costs) + abs(_sub_cent(rng))
        out_of_scope, c_total = _sub_cent(rng), _sub_cent(rng)
        groups = [
            UnallocatedGroup(
                "focus",
                None,
                None,
                None,
                None,
                None,
                None,
                "no rule matched",
                None,
                c,
                1,
                0,
                (),
                (),
                (),
                unallocated,
                c_total + unallocated + out_of_scope,
                len(costs),
                None,
                None,
                None,
                out_of_scope,
            )
            for c in costs
        ]
        month = figures(groups)
        assert month == month_figures(c_total, unallocated, out_of_scope)
        shown = shown_costs(groups)
        assert sum(shown) == month.unallocated
        assert all(abs(s - c) < CENT for s, c in zip(shown, costs, strict=False))


@pytest.mark.parametrize("seed", range(12))
def test_the_report_and_explain_show_one_total_read_on_random_sub_cent_amounts(tmp_path, monkeypatch, seed):
    """A published ledger whose every amount has random sub-cent digits, its line items and
    reconciliation agreeing with its rollup: the tie-out's TOTAL read is the exact month rounded
    half up, and `costledger explain` prints the same read and unallocated."""
    import duckdb

    from pipeline.report.explain import explain
    from pipeline.transform.contracts import create_table_sql
    from tests.fixtures.report import published_db

    rng = random.Random(seed)
    monkeypatch.setattr(
        published_db, "_amount", lambda *_: Decimal(rng.randint(10**6, 10**10)) / Decimal(10**6)
    )
    db = published_db.make_published_db(tmp_path / "warehouse" / "costledger.duckdb", people=seed % 2 == 1)
    con = duckdb.connect(str(db))
    try:
        month = published_db.MONTHS[-1]
        unallocated, out_of_scope = (Decimal(rng.randint(10**5, 10**9)) / Decimal(10**6) for _ in range(2))
        for leaf, amount, col in (
            ("unallocated", unallocated, "c_unallocated"),
            ("out_of_scope", out_of_scope, "c_out_of_scope"),
        ):
            con.execute(
                f"update marts.monthly_leaf_cost set cost = ? where month = ? and leaf = '{leaf}'",
                [amount, month],
            )
            con.execute(
                f"update marts.monthly_cost_rollup set {col} = ? where month = ? and {col} <> 0",
                [amount, month],
            )
        # the line items and the reconciliation: the leaf costs, spread over three sources
        con.execute("delete from marts.cost_line_items")
        con.execute("""
            insert into marts.cost_line_items by name
            select 'L' || row_number() over () as line_id, month, leaf, stage, model_id, scenario, team,
                   (['focus', 'invoice', 'timesheet'])[cast(1 + hash(coalesce(model_id, '') || leaf) % 3 as bigint)] as source_system,
                   cost, cost as effective_cost, cost as billed_cost, currency,
                   case when leaf = 'unallocated' then 'no rule matched' end as unallocated_reason
            from marts.monthly_leaf_cost""")
        con.execute(create_table_sql("audit.reconciliation"))
        con.execute("""
            insert into audit.reconciliation by name
            select source_system || '/file.csv' as source_file, month, source_system, sum(cost) as input_cost,
                   0 as superseded_cost, 0 as difference
            from marts.cost_line_items group by all""")
        exact = con.execute(
            "select sum(cost) from marts.cost_line_items where month = ?", [month]
        ).fetchone()[0]
    finally:
        con.close()
    half_up = Decimal(exact).quantize(CENT, rounding="ROUND_HALF_UP")
    settings = load_settings(warehouse=tmp_path / "warehouse")
    report = build_report(settings, f"{month:%Y-%m}")
    assert assert_report_adds_up(report) >= 6
    total = report.tie_out[-1]
    assert total.read == half_up
    assert (total.c_total, total.unallocated, total.out_of_scope) == (
        report.equation[-1].amount,
        report.unallocated,
        report.out_of_scope,
    )
    header = explain(settings, f"{month:%Y-%m}").splitlines()[0]
    assert f"{half_up:,.2f} read for the month" in header, header
    assert f" {report.unallocated:,.2f} (" in header, header
