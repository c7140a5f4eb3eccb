"""Bytes -> text under a declared encoding. Never guesses: an undeclared non-UTF-8 file is a
one-line error naming the line, never mojibake booked silently.

UTF-8 files may start with a BOM (Excel's "CSV UTF-8", Toggl's exports). GBK/GB18030 (Chinese
Excel exports, 金蝶/用友 downloads) must be declared in the profile: `file.encoding: gb18030`
(GB18030 is a superset of GBK, so `gbk` is read as GB18030 too).
"""

from __future__ import annotations

import codecs
import os
import tempfile
from pathlib import Path

from pipeline.errors import InputError

_CHUNK = 1 << 20


def _codec(encoding: str) -> str:
    return "gb18030" if encoding in ("gbk", "gb18030") else "utf-8"


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _bad_bytes_error(rel: str, encoding: str, line: int, raw: bytes) -> InputError:
    shown = raw.hex(" ").upper()
    if _codec(encoding) == "utf-8":
        hint = "; if it is a GBK/GB18030 file (Chinese Excel export), set `file.encoding: gb18030` in its profile"
        return InputError(f"{rel}: line {line} is not valid UTF-8 (bytes {shown}){hint}")
    return InputError(
        f"{rel}: line {line} is not valid {encoding.upper()} (bytes {shown}); check the profile's file.encoding"
    )


def decode_file(path: Path, rel: str, encoding: str) -> str:
    """The whole file as text (small files: invoices)."""
    data = path.read_bytes()
    codec = _codec(encoding)
    if data.startswith(codecs.BOM_UTF8):
        if codec != "utf-8":
            raise InputError(f"{rel}: starts with a UTF-8 BOM but its profile declares {encoding}")
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise _bad_bytes_error(
            rel, encoding, _line_of(data, exc.start), data[exc.start : exc.start + 2]
        ) from None


def utf8_copy(path: Path, rel: str, encoding: str, workdir: Path | None = None) -> Path:
    """A file DuckDB can read as UTF-8: the file itself when it already is UTF-8 (checked in one
    streaming pass), else a transcoded temporary copy (the caller deletes it when it differs)."""
    codec = _codec(encoding)
    dec = codecs.getincrementaldecoder(codec)(errors="strict")
    out = None
    if codec != "utf-8":
        fd, name = tempfile.mkstemp(suffix=".csv", dir=workdir)
        out = os.fdopen(fd, "w", encoding="utf-8", newline="")
    lines_before = 0
    first = True
    try:
        with path.open("rb") as fh:
            while True:
                chunk = fh.read(_CHUNK)
                if first and chunk.startswith(codecs.BOM_UTF8) and codec != "utf-8":
                    raise InputError(f"{rel}: starts with a UTF-8 BOM but its profile declares {encoding}")
                first = False
                try:
                    text = dec.decode(chunk, final=not chunk)
                except UnicodeDecodeError as exc:
                    line = lines_before + _line_of(chunk, exc.start)
                    raise _bad_bytes_error(rel, encoding, line, chunk[exc.start : exc.start + 2]) from None
                if out is not None:
                    out.write(text)
                lines_before += chunk.count(b"\n")
                if not chunk:
                    break
    except BaseException:
        if out is not None:
            out.close()
            os.unlink(name)
        raise
    if out is None:
        return path
    out.close()
    return Path(name)
