"""JSON invoices: an array of line items, or one invoice object whose lines sit under
`lines` / `line_items` / `items` (the profile's file.lines_key), with its own header fields and
printed totals as keys. Numbers are read as Decimal (never float)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from pipeline.errors import InputError
from pipeline.ingest.documents.invoice import DocumentRead, RowRef, _Doc, _take_total, finish
from pipeline.ingest.documents.profiles import Profile, _norm
from pipeline.ingest.documents.textfile import decode_file

MAX_LINES = 100_000


def _pick(obj: dict, names: list[str]):
    by = {_norm(k): k for k in obj}
    for n in names:
        if _norm(n) in by:
            return obj[by[_norm(n)]]
    return None


def _line(obj: dict, profile: Profile) -> dict:
    return {name: _pick(obj, names) for name, names in profile.columns.items()}


def read_json_invoice(path: Path, rel: str, profile: Profile, vendor: str) -> DocumentRead:
    text = decode_file(path, rel, profile.file.encoding)
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise InputError(f"{rel}: not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    doc = _Doc(rel, profile, vendor)
    if isinstance(data, list):
        items, prefix = data, ""
    elif isinstance(data, dict):
        key = next((k for k in data if _norm(k) in {_norm(n) for n in profile.file.lines_key}), None)
        if key is None or not isinstance(data[key], list):
            raise InputError(
                f"{rel}: an invoice object needs its lines under one of: {', '.join(profile.file.lines_key)}"
            )
        items, prefix = data[key], key
        for name, labels in profile.header_fields.items():
            v = _pick(data, labels + [name])
            if v not in (None, ""):
                doc.values[name] = v
        for kind in ("subtotal", "tax", "total"):
            v = _pick(data, getattr(profile.totals, kind) + [f"{kind}_amount", f"printed_{kind}"])
            if v not in (None, ""):
                _take_total(doc, RowRef(0, f"key '{kind}'"), kind, v)
        doc.title_text.extend(str(data.get(k, "")) for k in ("title", "document_type", "type") if k in data)
    else:
        raise InputError(f"{rel}: expected a JSON array of line items or an invoice object")
    if len(items) > MAX_LINES:
        raise InputError(f"{rel}: more than {MAX_LINES} lines")
    for i, item in enumerate(items):
        where = RowRef(i + 1, f"{prefix}[{i}]")
        if not isinstance(item, dict):
            raise InputError(f"{rel}: {where}: a line item must be an object")
        doc.lines.append((where, _line(item, profile)))
    return finish(doc)
