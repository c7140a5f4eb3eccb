"""Money formatting and spreadsheet safety: what finance sees in every cell."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipeline.report.attachments import neutralise, to_csv
from pipeline.report.errors import ReportError
from pipeline.report.fmt import money, parse_month, pct, plain, signed_money, wan


def test_cents_round_half_up_and_never_show_negative_zero():
    assert plain(Decimal("2.675")) == "2.68"  # float would give 2.67
    assert plain(Decimal("-2.675")) == "-2.68"
    assert plain(Decimal("0.0049999999")) == "0.00"
    assert plain(Decimal("-0.004")) == "0.00"
    assert money(Decimal("1234567.885")) == "1,234,567.89"
    assert signed_money(Decimal("59652.3206339")) == "+59,652.32"
    assert money(None) == "—"


def test_wan_is_ten_thousands_with_two_decimals():
    assert wan(Decimal("209652.3206339")) == "20.97"
    assert wan(Decimal("1234567.89")) == "123.46"
    assert wan(Decimal("50")) == "0.01"


def test_percent_one_decimal_signed():
    assert pct(Decimal("39.76820")) == "+39.8%"
    assert pct(Decimal("-0.04")) == "0.0%"
    assert pct(Decimal("98.8926"), signed=False) == "98.9%"


@pytest.mark.parametrize("bad", ["2026-13", "2026/10", "Oct 2026", "2026-1", ""])
def test_month_must_be_yyyy_mm(bad):
    with pytest.raises(ReportError, match="YYYY-MM"):
        parse_month(bad)


@pytest.mark.parametrize(
    "text", ["=1+1", "+1", "-2+3", "@SUM(A1)", "\tcmd", "\rx", " =HYPERLINK(1)", '=HYPERLINK("http://x")']
)
def test_formula_like_text_is_neutralised(text):
    assert neutralise(text) == "'" + text


def test_ordinary_text_is_left_alone():
    assert neutralise("BERT search re-ranker") == "BERT search re-ranker"
    assert neutralise("") == ""


def test_csv_has_bom_plain_two_decimal_numbers_and_inert_text():
    data = to_csv(
        ("model_id", "c_total", "line_count"),
        [
            {"model_id": "=cmd|' /C calc'!A0", "c_total": Decimal("1234567.8950000000"), "line_count": 7},
            {"model_id": "credit", "c_total": Decimal("-12.345"), "line_count": 1},
        ],
    )
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[1] == "'=cmd|' /C calc'!A0,1234567.90,7"
    assert lines[2] == "credit,-12.35,1"  # a negative amount stays a number
