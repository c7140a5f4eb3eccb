"""An invoice document: its header (number, date, currency, service period, printed totals),
its line items as canonical text, and the rule that the lines sum to the printed total.

The grid parser here reads any table-shaped page — a CSV, an XLSX sheet, a PDF's table — laid
out as invoices are: header rows above the table (title, vendor address, "Invoice No.:" fields),
the line items, totals rows below (Subtotal / Tax / Total / 合计 / 总计).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from pipeline.errors import InputError
from pipeline.ingest.documents.profiles import Fit, Profile, _norm, fit
from pipeline.ingest.documents.textfile import decode_file
from pipeline.ingest.documents.values import (
    currency_of,
    date_text,
    dec_text,
    parse_date,
    parse_decimal,
    parse_period,
)

# raw.invoice_lines' columns, in order: what every invoice reader hands over per line.
LINE_COLUMNS = (
    "vendor",
    "invoice_number",
    "invoice_date",
    "revision",
    "document_type",
    "line_number",
    "description",
    "service_period_start",
    "service_period_end",
    "quantity",
    "unit",
    "unit_price",
    "amount",
    "currency",
    "model_or_project",
)


@dataclass(frozen=True)
class RowRef:
    """Where a row sits: `source_row` for raw's lineage column, `label` for messages."""

    source_row: int
    label: str

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class Reject:
    where: RowRef
    field: str
    reason: str


@dataclass
class DocumentRead:
    """What an invoice reader returns (see the package docstring for the contract)."""

    header: dict[str, str]
    rows: list[tuple[RowRef, dict[str, str]]]
    rejects: list[Reject] = field(default_factory=list)
    skipped: list[tuple[RowRef, str]] = field(default_factory=list)


@dataclass
class GridRow:
    where: RowRef
    cells: list


@dataclass
class _Doc:
    """Collected while reading; turned into a DocumentRead by finish()."""

    rel: str
    profile: Profile
    vendor: str
    values: dict[str, object] = field(default_factory=dict)  # header field -> raw value
    title_text: list[str] = field(default_factory=list)  # text seen before the table
    totals: dict[str, Decimal] = field(default_factory=dict)
    total_ccy: str | None = None
    lines: list[tuple[RowRef, dict[str, object]]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    skipped: list[tuple[RowRef, str]] = field(default_factory=list)
    table_rows: tuple[int, int] = (0, 0)  # source_row of the table's header row and of its last line


def _cell_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    return " ".join(str(v).split())


_LABEL_END = re.compile(r"^\s*(?:\([^)]*\))?\s*(?:[:：#]|no\.?|$|\s)", re.IGNORECASE)


def _label_match(text: str, labels: list[str]) -> tuple[str, str] | None:
    """(label, rest) when `text` starts with one of the labels (longest first), else None."""
    n = _norm(text)
    for label in sorted(labels, key=len, reverse=True):
        lab = _norm(label)
        if n.startswith(lab):
            rest = n[len(lab) :]
            if lab[-1:] in ":：" or _LABEL_END.match(rest) or not lab.isascii():
                # keep the original casing of the value: cut the same number of characters
                raw = " ".join(str(text).split())
                value = raw[len(lab) :].strip()
                value = re.sub(r"^(?:\([^)]*\))?\s*[:：#]?\s*", "", value)
                return label, value
    return None


def _find_header_values(doc: _Doc, cells: list) -> None:
    texts = [_cell_text(c) for c in cells]
    for i, t in enumerate(texts):
        if not t:
            continue
        for name, labels in doc.profile.header_fields.items():
            if name in doc.values:
                continue
            m = _label_match(t, labels)
            if not m:
                continue
            value: object = m[1]
            if not value:
                # the value sits in the next non-empty cell to the right
                nxt = next((cells[j] for j in range(i + 1, len(cells)) if _cell_text(cells[j])), None)
                value = nxt
            if value not in (None, ""):
                doc.values[name] = value
            break


_TOTAL_REST = re.compile(
    r"^(?:\([^)]*\)|[\d.,]+\s*%)?\s*[:：]?\s*(?:[A-Z]{3}\s*)?[-−(]?[$€£¥￥]?\s*[\d.,]*\)?-?\s*$"
)


def _totals_kind(doc: _Doc, text: str) -> tuple[str, str] | None:
    """('subtotal' | 'tax' | 'total', rest) when the cell is a totals label: the label alone, or
    followed only by a currency in parentheses, a colon and an amount ('Total (USD): 1,835.00')."""
    best = None
    for kind in ("subtotal", "tax", "total"):
        m = _label_match(text, getattr(doc.profile.totals, kind))
        if m and _TOTAL_REST.match(m[1]) and (best is None or len(m[0]) > len(best[1])):
            best = (kind, m[0], m[1])
    return (best[0], best[2]) if best else None


def _take_total(doc: _Doc, where: RowRef, kind: str, raw) -> None:
    try:
        amount = parse_decimal(raw, doc.profile.numbers)
    except ValueError as exc:
        raise InputError(f"{doc.rel}: {where}: printed {kind} {exc}") from None
    ccy = currency_of(raw) if isinstance(raw, str) else None
    if ccy:
        doc.total_ccy = ccy
    if kind == "tax":
        doc.totals["tax"] = doc.totals.get("tax", Decimal(0)) + amount
    elif kind not in doc.totals:
        doc.totals[kind] = amount


_NUMBERISH = re.compile(r"^[(\-−]?\s*(?:[A-Z]{3}\s*)?[$€£¥￥]?\s*\d[\d.,'\s\u00a0]*\)?-?\s*(?:[A-Z]{3})?$")


def _numberish(v) -> bool:
    """An amount as a cell holds it: a number, or text like '1,835.00', '(150.00)', 'USD 12.00'."""
    if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        return True
    return bool(_NUMBERISH.match(_cell_text(v)))


def read_grid(doc: _Doc, rows: list[GridRow], where_name: str) -> bool:
    """Find the profile's table among the rows; collect header values, lines, totals.
    Returns False when no row of `rows` is the table's header row."""
    header_at = None
    tfit: Fit | None = None
    for k, row in enumerate(rows):
        texts = [_cell_text(c) for c in row.cells]
        try:
            tfit = fit(doc.profile, texts, doc.rel)
        except InputError:
            continue
        header_at = k
        break
    if header_at is None:
        return False
    for row in rows[:header_at]:
        _find_header_values(doc, row.cells)
        doc.title_text.extend(t for t in (_cell_text(c) for c in row.cells) if t)
    amount_i = tfit.columns["amount"]
    in_footer = False
    head_row = rows[header_at].where.source_row
    doc.table_rows = (head_row, head_row)
    head_texts = [_cell_text(c) for c in rows[header_at].cells]
    for row in rows[header_at + 1 :]:
        cells = row.cells
        texts = [_cell_text(c) for c in cells]
        if not any(texts) or texts == head_texts:
            continue  # blank rows; the header repeated on a new page
        totals = None
        for i, t in enumerate(texts):
            if t and not _numberish(cells[i]):
                totals = _totals_kind(doc, t)
                if totals:
                    label_i = i
                    break
        if totals:
            kind, rest = totals
            raw = cells[amount_i] if amount_i < len(cells) and _cell_text(cells[amount_i]) else None
            if raw is None and rest and _numberish(rest):
                raw = rest
            if raw is None:
                raw = next(
                    (cells[j] for j in range(len(cells) - 1, label_i, -1) if _numberish(cells[j])), None
                )
            if raw is None:
                raise InputError(f"{doc.rel}: {row.where}: '{texts[label_i]}' row has no amount")
            _take_total(doc, row.where, kind, raw)
            in_footer = True
            continue
        if in_footer:
            continue  # notes, bank details, signatures below the totals
        doc.table_rows = (head_row, row.where.source_row)
        line = {name: (cells[i] if i < len(cells) else None) for name, i in tfit.columns.items()}
        if not any(_cell_text(v) for n, v in line.items() if n in ("amount", "quantity", "unit_price")):
            doc.skipped.append((row.where, "no amount: a heading or note row"))
            continue
        doc.lines.append((row.where, line))
    return True


def _header_date(doc: _Doc, name: str) -> date | None:
    raw = doc.values.get(name)
    if raw in (None, ""):
        return None
    try:
        return parse_date(raw, doc.profile.dates)
    except ValueError as exc:
        raise InputError(f"{doc.rel}: {name}: {exc}") from None


def _missing_field(doc: _Doc, name: str) -> InputError:
    labels = doc.profile.header_fields.get(name, [])
    hint = f" (looked for: {', '.join(labels)})" if labels else " (the profile names no label for it)"
    return InputError(f"{doc.rel}: no {name} found{hint}")


def finish(doc: _Doc) -> DocumentRead:
    """Header values parsed, lines made canonical, and the sum-to-printed-total rule applied."""
    p = doc.profile
    hv = doc.values
    number = _cell_text(hv.get("invoice_number")) or None
    inv_date = _header_date(doc, "invoice_date")
    ccy = currency_of(hv.get("currency")) if hv.get("currency") not in (None, "") else None
    if hv.get("currency") not in (None, "") and ccy is None:
        raise InputError(f"{doc.rel}: currency: '{_cell_text(hv['currency'])}' is not a currency")
    ccy = ccy or doc.total_ccy
    period: tuple[date, date] | None = None
    if hv.get("service_period") not in (None, ""):
        try:
            period = parse_period(hv["service_period"], p.dates)
        except ValueError as exc:
            raise InputError(f"{doc.rel}: service_period: {exc}") from None
    else:
        s, e = _header_date(doc, "service_period_start"), _header_date(doc, "service_period_end")
        if s and e:
            period = (s, e)
    text_before = " ".join(doc.title_text + [_cell_text(v) for v in hv.values()])
    is_credit = any(_norm(m) in _norm(text_before) for m in p.credit_note)
    doc_type = "credit_note" if is_credit else "invoice"
    revision = _cell_text(hv.get("revision")) or None

    rows: list[tuple[RowRef, dict[str, str]]] = []
    ordinal = 0
    for where, line in doc.lines:
        ordinal += 1
        out: dict[str, str | None] = dict.fromkeys(LINE_COLUMNS)
        try:
            out.update(
                _canonical_line(doc, line, where, ordinal, number, inv_date, ccy, period, doc_type, revision)
            )
        except _LineError as exc:
            doc.rejects.append(Reject(where, exc.field, exc.reason))
            continue
        rows.append((where, out))

    spans = {(r["service_period_start"], r["service_period_end"]) for _, r in rows}
    if not period and len(spans) == 1:
        s0, e0 = spans.pop()
        period = (date.fromisoformat(s0), date.fromisoformat(e0))
    for name in ("invoice_number", "invoice_date", "currency"):
        seen = {r[name] for _, r in rows}
        if len(seen) == 1:
            one = seen.pop()
            if name == "invoice_number" and not number:
                number = one
            elif name == "invoice_date" and not inv_date and one:
                inv_date = date.fromisoformat(one)
            elif name == "currency" and not ccy:
                ccy = one
    header = {
        "vendor": doc.vendor,
        "profile": p.id,
        "invoice_number": number or "",
        "invoice_date": date_text(inv_date) if inv_date else "",
        "currency": ccy or "",
        "document_type": doc_type,
        "service_period_start": date_text(period[0]) if period else "",
        "service_period_end": date_text(period[1]) if period else "",
    }
    if revision:
        header["revision"] = revision
    if doc.title_text:
        header["title"] = doc.title_text[0]  # the first text above the table: the document's title
    _reconcile(doc, rows, header)
    return DocumentRead(header=header, rows=rows, rejects=doc.rejects, skipped=doc.skipped)


class _LineError(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def _canonical_line(doc, line, where, ordinal, number, inv_date, ccy, period, doc_type, revision) -> dict:
    p = doc.profile

    def num(name, required=False):
        raw = line.get(name)
        if _cell_text(raw) == "":
            if required:
                raise _LineError(name, f"{name}: missing")
            return None
        try:
            return dec_text(parse_decimal(raw, p.numbers))
        except ValueError as exc:
            raise _LineError(name, f"{name}: {exc}") from None

    def day(name):
        raw = line.get(name)
        if _cell_text(raw) == "":
            return None
        try:
            return parse_date(raw, p.dates)
        except ValueError as exc:
            raise _LineError(name, f"{name}: {exc}") from None

    start = end = None
    if _cell_text(line.get("service_period")):
        try:
            start, end = parse_period(line["service_period"], p.dates)
        except ValueError as exc:
            raise _LineError("service_period", f"service_period: {exc}") from None
    start = start or day("service_period_start")
    end = end or day("service_period_end")
    if (start is None or end is None) and period:
        start, end = start or period[0], end or period[1]
    if start is None or end is None:
        if "service_period" not in p.header_fields and not (
            {"service_period", "service_period_start"} & set(p.columns)
        ):
            raise _missing_field(doc, "service_period")
        raise _LineError(
            "service_period", "service_period: missing (no period on the line or above the table)"
        )
    if end < start:
        raise _LineError("service_period_end", "service_period_end: ends before service_period_start")
    line_ccy = currency_of(line.get("currency")) if _cell_text(line.get("currency")) else None
    if _cell_text(line.get("currency")) and line_ccy is None:
        raise _LineError("currency", f"currency: '{_cell_text(line.get('currency'))}' is not a currency")
    own_date = day("invoice_date")
    own_number = _cell_text(line.get("invoice_number")) or None
    out = {
        "vendor": doc.vendor,
        "invoice_number": own_number or number,
        "invoice_date": date_text(own_date or inv_date) if (own_date or inv_date) else None,
        "revision": _cell_text(line.get("revision")) or revision,
        "document_type": _cell_text(line.get("document_type")) or doc_type,
        "line_number": _cell_text(line.get("line_number")) or str(ordinal),
        "description": _cell_text(line.get("description")) or None,
        "service_period_start": date_text(start),
        "service_period_end": date_text(end),
        "quantity": num("quantity"),
        "unit": _cell_text(line.get("unit")) or None,
        "unit_price": num("unit_price"),
        "amount": num("amount", required=True),
        "currency": line_ccy or ccy,
        "model_or_project": _cell_text(line.get("model_or_project"))
        or doc.values.get("model_or_project")
        or None,
    }
    for name in ("invoice_number", "invoice_date", "currency"):
        if not out[name]:
            if name in p.columns:
                raise _LineError(name, f"{name}: missing (not on the line, not above the table)")
            raise _missing_field(doc, name)
    return out


def _money(d: Decimal) -> str:
    return f"{d:,.2f}" if d == d.quantize(Decimal("0.01")) else f"{d:,}"


def _reconcile(doc: _Doc, rows, header: dict[str, str]) -> None:
    """Σ lines = printed subtotal; Σ lines + printed tax = printed total. Else the invoice is refused."""
    p = doc.profile
    credit = header["document_type"] == "credit_note"

    def signed(d: Decimal) -> Decimal:
        # a credit note books negative whichever way it prints its amounts (as staging does)
        return -abs(d) if credit else d

    items = sum((signed(Decimal(r["amount"])) for _, r in rows), Decimal(0))
    tax = doc.totals.get("tax")
    sub, total = doc.totals.get("subtotal"), doc.totals.get("total")
    ccy = header["currency"]
    for key, v in (("printed_subtotal", sub), ("printed_tax", tax), ("printed_total", total)):
        if v is not None:
            header[key] = dec_text(v)
    header["lines_total"] = dec_text(items)
    why = ""
    if doc.rejects:
        first = doc.rejects[0]
        why = f"; {len(doc.rejects)} line(s) could not be read, first: {first.where}: {first.reason}"
    if total is None and sub is None:
        if p.require_total:
            labels = ", ".join(p.totals.total)
            raise InputError(f"{doc.rel}: no printed total found (looked for a row labelled {labels}){why}")
        if doc.rejects:
            raise InputError(f"{doc.rel}: {doc.rejects[0].where}: {doc.rejects[0].reason}")
        header["reconciled"] = "no printed total"
        return
    if sub is not None and items != signed(sub):
        diff = items - signed(sub)
        raise InputError(
            f"{doc.rel}: lines sum to {ccy} {_money(items)} but the printed subtotal is {_money(signed(sub))} "
            f"(difference {_money(diff)}); the invoice is refused{why}"
        )
    if total is not None:
        expected = items + (signed(tax) if tax is not None else Decimal(0))
        if expected != signed(total):
            diff = expected - signed(total)
            with_tax = f" + tax {_money(signed(tax))}" if tax is not None else ""
            raise InputError(
                f"{doc.rel}: lines sum to {ccy} {_money(items)}{with_tax} but the printed total is "
                f"{_money(signed(total))} (difference {_money(diff)}); the invoice is refused{why}"
            )
    if doc.rejects:  # sums agree only by accident of a zero-amount bad line: still refuse
        raise InputError(f"{doc.rel}: {doc.rejects[0].where}: {doc.rejects[0].reason}")
    if tax and p.tax == "book":
        ordinal = len(rows) + 1
        where = RowRef(ordinal, "printed tax")
        first = rows[0][1] if rows else {}
        rows.append(
            (
                where,
                {
                    **first,
                    "line_number": "tax",
                    "description": "Tax (as printed on the invoice)",
                    "quantity": None,
                    "unit": None,
                    "unit_price": None,
                    "amount": dec_text(abs(tax) if credit else tax),
                },
            )
        )
    header["booked_total"] = dec_text(items + (signed(tax) if (tax and p.tax == "book") else Decimal(0)))
    header["reconciled"] = "ok"


# ----------------------------------------------------------------------------- CSV invoices


def read_csv_invoice(path: Path, rel: str, profile: Profile, vendor: str) -> DocumentRead:
    """A CSV invoice (small: Python is fine): header rows, line items, totals rows."""
    text = decode_file(path, rel, profile.file.encoding)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=profile.file.delimiter))
    except csv.Error as exc:
        raise InputError(f"{rel}: not a readable CSV file: {exc}") from None
    rows = [GridRow(RowRef(i, f"line {i}"), rec) for i, rec in enumerate(records, 1)]
    doc = _Doc(rel, profile, vendor)
    if not read_grid(doc, rows, "file"):
        header = next((r.cells for r in rows if any(c.strip() for c in r.cells)), [])
        fit(profile, header, rel)  # raises naming the missing columns
        raise InputError(f"{rel}: no line-item table found for profile '{profile.id}'")
    return finish(doc)
