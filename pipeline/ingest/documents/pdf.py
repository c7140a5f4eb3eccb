"""PDF invoices as labeling and software vendors send them: a text PDF with header fields
("Invoice No.:", "Invoice date:", "Currency:", "Service period:"), a line-item table and
printed totals. Read with pdfplumber; no OCR.

Ruled tables are taken from pdfplumber's table finder; everything else on a page is split
into lines (by vertical position) and cells (by horizontal gaps wider than a few spaces), so a
table printed without rules is read as well. The rows of all pages, top to bottom, then go
through the same grid parser as CSV and XLSX invoices.
"""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.errors import InputError
from pipeline.ingest.documents.invoice import DocumentRead, GridRow, RowRef, _Doc, finish, read_grid
from pipeline.ingest.documents.profiles import Profile, fit

CELL_GAP = 8.0  # points: wider than a word space at invoice font sizes, narrower than a column gap
LINE_TOLERANCE = 3.0
MAX_PAGES = 50


def _password_protected(exc: BaseException) -> bool:
    seen = [exc, *getattr(exc, "args", ())]
    names = {type(e).__name__ for e in seen}
    return bool(names & {"PDFPasswordIncorrect", "PDFEncryptionError"}) or "password" in str(exc).lower()


def _text_lines(page, skip_boxes) -> list[tuple[float, list[str]]]:
    def outside(obj):
        cx = (obj["x0"] + obj["x1"]) / 2
        cy = (obj["top"] + obj["bottom"]) / 2
        return not any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in skip_boxes)

    words = page.filter(outside).extract_words(keep_blank_chars=False, use_text_flow=False)
    words.sort(key=lambda w: (round(w["top"] / LINE_TOLERANCE), w["x0"]))
    lines: list[tuple[float, list[dict]]] = []
    for w in words:
        if lines and abs(lines[-1][0] - w["top"]) <= LINE_TOLERANCE:
            lines[-1][1].append(w)
        else:
            lines.append((w["top"], [w]))
    out = []
    for top, ws in lines:
        ws.sort(key=lambda w: w["x0"])
        cells: list[str] = []
        prev_x1 = None
        for w in ws:
            if prev_x1 is not None and w["x0"] - prev_x1 <= CELL_GAP:
                cells[-1] += " " + w["text"]
            else:
                cells.append(w["text"])
            prev_x1 = w["x1"]
        out.append((top, cells))
    return out


def _unwrap(cell: str | None) -> str | None:
    """A cell's text wrapped over lines, joined: at a hyphen without a space ('PRJ-SEARCH-' + 'RR')."""
    if cell is None:
        return None
    return re.sub(r"-\n", "-", cell).replace("\n", " ")


def read_pdf_invoice(path: Path, rel: str, profile: Profile, vendor: str) -> DocumentRead:
    import pdfplumber  # imported here: only PDF invoices need it

    try:
        pdf = pdfplumber.open(path)
    except Exception as exc:  # pdfminer wraps its errors; classify the two users can act on
        if _password_protected(exc):
            raise InputError(
                f"{rel}: the PDF is password-protected; ask the vendor for an unprotected copy"
            ) from None
        raise InputError(f"{rel}: not a readable PDF: {type(exc).__name__}: {exc}") from None
    with pdf:
        try:
            pages = list(pdf.pages)
        except Exception as exc:
            if _password_protected(exc):
                raise InputError(
                    f"{rel}: the PDF is password-protected; ask the vendor for an unprotected copy"
                ) from None
            raise InputError(f"{rel}: not a readable PDF: {type(exc).__name__}: {exc}") from None
        if len(pages) > MAX_PAGES:
            raise InputError(f"{rel}: {len(pages)} pages; an invoice has at most {MAX_PAGES}")
        rows: list[GridRow] = []
        ordinal = 0
        pages_with_text = 0
        for pno, page in enumerate(pages, 1):
            if not page.chars:
                continue
            pages_with_text += 1
            tables = page.find_tables()
            placed: list[tuple[float, str, list]] = []
            for t in tables:
                for k, (trow, cells) in enumerate(zip(t.rows, t.extract(), strict=False), 1):
                    placed.append((trow.bbox[1], f"page {pno} table row {k}", [_unwrap(c) for c in cells]))
            for top, cells in _text_lines(page, [t.bbox for t in tables]):
                placed.append((top, f"page {pno}", cells))
            placed.sort(key=lambda x: x[0])
            for _, label, cells in placed:
                ordinal += 1
                rows.append(GridRow(RowRef(ordinal, label), cells))
        if pages_with_text == 0:
            detail = " (an image only)" if any(p.images for p in pages) else ""
            raise InputError(f"{rel}: page 1 has no text layer{detail}; scanned PDFs are not read (no OCR)")
    doc = _Doc(rel, profile, vendor)
    if not read_grid(doc, rows, "pdf"):
        header = next((r.cells for r in rows if len(r.cells) > 2), [])
        fit(profile, [c or "" for c in header], rel)
        raise InputError(f"{rel}: no line-item table found for profile '{profile.id}'")
    return finish(doc)
