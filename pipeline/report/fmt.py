"""Money and percentage formatting. Rounding to cents happens here, and only here."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
TENTH = Decimal("0.1")
WAN = Decimal(10000)
DASH = "—"

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> date:
    """'2026-10' -> date(2026, 10, 1); anything else is a one-line ReportError."""
    from pipeline.report.errors import ReportError

    m = _MONTH.match(str(text).strip())
    if not m:
        raise ReportError(f"--month: '{text}' is not a month; write it as YYYY-MM, e.g. 2026-10")
    return date(int(m.group(1)), int(m.group(2)), 1)


def month_label(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def add_months(d: date, n: int) -> date:
    k = d.year * 12 + (d.month - 1) + n
    return date(k // 12, k % 12 + 1, 1)


def cents(x: Decimal | None) -> Decimal | None:
    """Quantize to cents, half up; never a negative zero."""
    if x is None:
        return None
    q = Decimal(x).quantize(CENT, rounding=ROUND_HALF_UP)
    return q.copy_abs() if q == 0 else q


def plain(x: Decimal | None) -> str:
    """Two decimals, no separators: the CSV form ('1234567.89')."""
    q = cents(x)
    return "" if q is None else f"{q:.2f}"


def money(x: Decimal | None) -> str:
    """Two decimals with thousands separators ('1,234,567.89'), or a dash."""
    q = cents(x)
    return DASH if q is None else f"{q:,.2f}"


def signed_money(x: Decimal | None) -> str:
    q = cents(x)
    if q is None:
        return DASH
    return f"+{q:,.2f}" if q > 0 else f"{q:,.2f}"


def wan(x: Decimal | None) -> str:
    """The amount in 万 (ten thousands), two decimals: 1,234,567.89 -> '123.46'."""
    if x is None:
        return DASH
    q = (Decimal(x) / WAN).quantize(CENT, rounding=ROUND_HALF_UP)
    q = q.copy_abs() if q == 0 else q
    return f"{q:,.2f}"


def pct(x: Decimal | None, signed: bool = True) -> str:
    """A percentage already in percent units (12.345 -> '+12.3%')."""
    if x is None:
        return DASH
    q = Decimal(x).quantize(TENTH, rounding=ROUND_HALF_UP)
    q = q.copy_abs() if q == 0 else q
    return f"+{q}%" if signed and q > 0 else f"{q}%"


def ratio_pct(part: Decimal | None, whole: Decimal | None) -> Decimal | None:
    """part / whole in percent, or None when there is nothing to compare against."""
    if part is None or whole is None or whole == 0:
        return None
    return Decimal(part) * 100 / Decimal(whole)


def display_width(text: str) -> int:
    """Columns a string takes in a monospace terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill
