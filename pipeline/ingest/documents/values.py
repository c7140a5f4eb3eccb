"""Text -> typed values under a profile's conventions (decimal comma, thousands separators,
negative formats, date formats), and canonical text back out.

Readers hand staging *canonical text*: dates as YYYY-MM-DD, amounts as plain decimals with a
'.' mark and a leading '-', so the staging SQL reads every source the same way. A value that
cannot be read raises ValueError with a reason that names the value (callers never pass
names or e-mails here).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from pipeline.ingest.documents.profiles import NumberSpec

_CURRENCY_SIGNS = "$€£¥￥元"
_CCY = re.compile(r"\b([A-Z]{3})\b")
_SIGN_WORDS = {"¥": "CNY", "￥": "CNY", "元": "CNY", "€": "EUR", "£": "GBP", "$": "USD"}


def parse_decimal(value, numbers: NumberSpec) -> Decimal:
    """A number as printed ('1,234.50', '1.234,50', '(12.00)', '12.00-', 'USD 5') -> Decimal."""
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # openpyxl gives floats; their shortest repr is the number as the sheet stored it
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    text = str(value or "").strip()
    if not text:
        raise ValueError("missing")
    shown = text
    t = text
    for ccy in _CCY.findall(t):
        t = t.replace(ccy, "")
    t = t.strip(_CURRENCY_SIGNS + " \u00a0\u202f").strip()
    negative = False
    if t.startswith("(") and t.endswith(")"):
        if "parentheses" not in numbers.negative:
            raise ValueError(f"'{shown}' is not a number (negative in parentheses not expected)")
        negative, t = True, t[1:-1].strip()
    elif t.endswith("-"):
        if "trailing_minus" not in numbers.negative:
            raise ValueError(f"'{shown}' is not a number (trailing minus not expected)")
        negative, t = True, t[:-1].strip()
    elif t.startswith("-") or t.startswith("\u2212"):
        negative, t = True, t[1:].strip()
    t = t.strip(_CURRENCY_SIGNS + " ").strip()
    if numbers.thousands and numbers.thousands in t:
        sep, dec = re.escape(numbers.thousands), re.escape(numbers.decimal)
        if not re.fullmatch(rf"\d{{1,3}}(?:{sep}\d{{3}})+(?:{dec}\d+)?", t):
            raise ValueError(
                f"'{shown}' is not a number ('{numbers.thousands}' groups thousands, '{numbers.decimal}' marks decimals)"
            )
        t = t.replace(numbers.thousands, "")
    if numbers.decimal == ",":
        if "." in t:
            raise ValueError(f"'{shown}' is not a number with a decimal comma")
        t = t.replace(",", ".")
    elif "," in t:
        raise ValueError(
            f"'{shown}' is not a number ('{numbers.thousands or 'no'}' thousands separator expected)"
        )
    if not re.fullmatch(r"\d+(\.\d+)?|\.\d+", t):
        raise ValueError(f"'{shown}' is not a number")
    try:
        d = Decimal(t)
    except InvalidOperation:
        raise ValueError(f"'{shown}' is not a number") from None
    return -d if negative else d


def parse_date(value, formats: list[str]) -> date:
    """A date as printed, in one of the profile's formats (tried in order)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = " ".join(str(value or "").split())
    if not text:
        raise ValueError("missing")
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"'{text}' is not a date in the profile's format(s) {', '.join(formats)}")


# "2026-01-15 to 2026-02-14", "15.01.2026 - 14.02.2026", "2026-01-15 ~ 2026-02-14", "… 至 …"
_PERIOD_SPLIT = re.compile(r"\s+(?:to|until|bis|through|-|–|—|~)\s+|\s*[~至–—]\s*", re.IGNORECASE)


def parse_period(value, formats: list[str]) -> tuple[date, date]:
    """A service period printed in one cell or line: 'start to end'."""
    text = " ".join(str(value or "").split())
    if not text:
        raise ValueError("missing")
    parts = [p for p in _PERIOD_SPLIT.split(text) if p]
    if len(parts) != 2:
        raise ValueError(f"'{text}' is not a period 'start to end'")
    start, end = (parse_date(p, formats) for p in parts)
    if end < start:
        raise ValueError(f"'{text}' ends before it starts")
    return start, end


def currency_of(value) -> str | None:
    """An ISO-4217 code from 'USD', 'United States Dollar - USD', '¥' or '人民币 CNY'."""
    text = str(value or "").strip()
    if not text:
        return None
    codes = _CCY.findall(text)
    if codes:
        return codes[-1]
    for sign, code in _SIGN_WORDS.items():
        if sign in text:
            return code
    if "人民币" in text:
        return "CNY"
    return None


def dec_text(d: Decimal) -> str:
    """Canonical decimal text: no exponent, no thousands, '.' mark."""
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".") or "0"
    return "0" if s in ("-0", "") else s


def date_text(d: date) -> str:
    return d.isoformat()


def norm_key(value: str | None) -> str | None:
    """An activity value as a config key: 'Fine-tuning' -> 'fine_tuning'."""
    if value is None:
        return None
    k = re.sub(r"[\W_]+", "_", str(value).casefold()).strip("_")
    return k or None
