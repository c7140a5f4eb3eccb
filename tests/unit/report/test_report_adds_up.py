"""Displayed figures add up exactly: largest-remainder rounding, and every table of the report and
its CSVs read back from what is shown."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from pipeline.config.settings import load_settings
from pipeline.report import build_report
from pipeline.report.rounding import largest_remainder, round_table
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
