"""The streaming pre-scan: one read of a landing file's bytes before any reader opens it.

It computes, in a single pass over the bytes, with bounded memory (one chunk at a time):
- the sha256 of the file as delivered (the file's identity in audit.files);
- for CSV (plain or gzip): the number of physical lines, counted on the bytes, independently of
  DuckDB's reader, so `rows read + rows rejected = data lines` can be checked afterwards;
- the caps: no line longer than `ingest.max_line_bytes`, no more than
  `ingest.max_decompressed_bytes` once decompressed. A file over a cap is refused unread.

gzip is inflated as a stream (zlib with an output limit per call), so a 3 MB file of
compressed zeros costs one chunk of memory, not the 3 GB it expands to. Nothing here loops
over lines in Python: a chunk is searched with bytes.count/find/rfind.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import stat
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Caps:
    max_line_bytes: int
    max_decompressed_bytes: int

    @classmethod
    def of(cls, ingest) -> Caps:
        return cls(int(ingest.max_line_bytes), int(ingest.max_decompressed_bytes))


@dataclass(frozen=True)
class Prescan:
    sha256: str
    size: int
    counted: bool = False  # lines and data_bytes are known (CSV kinds, when asked to count)
    lines: int = 0  # physical lines after decompression: newlines, + 1 for a last line without one
    data_bytes: int = 0  # bytes after decompression
    problem: str | None = None  # why no reader may open the file (a cap, a broken gzip stream)

    @property
    def data_lines(self) -> int:
        """Lines below the header."""
        return max(self.lines - 1, 0)


def kind_of(name: str) -> str:
    """'csv', 'csv.gz', 'parquet' or 'other', from the file name."""
    n = name.lower()
    if n.endswith(".csv.gz"):
        return "csv.gz"
    if n.endswith(".csv"):
        return "csv"
    if n.endswith(".parquet"):
        return "parquet"
    return "other"


def human_bytes(n: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} bytes"


class _Lines:
    """Counts newlines and finds the first line over the cap, one chunk at a time.

    A chunk is never longer than the cap, so a line that lies wholly inside one chunk is
    shorter than the cap: only the line that runs across chunk boundaries needs measuring.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.newlines = 0
        self.run = 0  # bytes since the last newline
        self.too_long_at: int | None = None  # 1-based line number of the first line over the cap

    def feed(self, buf, n: int) -> None:
        k = buf.count(b"\n", 0, n)
        if k == 0:
            self.run += n
        else:
            if self.run + buf.find(b"\n", 0, n) > self.cap and self.too_long_at is None:
                self.too_long_at = self.newlines + 1
            self.newlines += k
            self.run = n - buf.rfind(b"\n", 0, n) - 1
        if self.run > self.cap and self.too_long_at is None:
            self.too_long_at = self.newlines + 1

    @property
    def lines(self) -> int:
        return self.newlines + (1 if self.run else 0)


def open_fd(path: os.PathLike | str) -> int:
    """Open for reading without following a final symlink and without blocking on a pipe."""
    return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))


def prescan_fd(fd: int, shown: str, kind: str, caps: Caps, count: bool = True) -> Prescan:
    """Read the open file `fd` once from its start: sha256, and (CSV kinds, `count`) lines and caps.

    `shown` is the file's name as messages show it. After a cap is exceeded the rest of the
    file is only hashed, never decompressed or counted.
    """
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        return Prescan("", 0, problem=f"{shown}: not a regular file; refused unread")
    count = count and kind in ("csv", "csv.gz")
    chunk = max(1024, min(CHUNK, caps.max_line_bytes))
    sha = hashlib.sha256()
    lines = _Lines(caps.max_line_bytes)
    buf = bytearray(chunk)
    view = memoryview(buf)
    size = data_bytes = 0
    problem: str | None = None
    gz = _Gunzip(chunk) if count and kind == "csv.gz" else None
    os.lseek(fd, 0, os.SEEK_SET)
    # sha256 releases the GIL: on a big plain CSV it runs in a thread while this one counts lines,
    # so counting costs next to nothing on top of the hash the run needs anyway.
    hasher = ThreadPoolExecutor(1) if count and not gz and st.st_size > chunk else None
    with io.FileIO(os.dup(fd), "rb") as fh, hasher or contextlib.nullcontext():
        while True:
            n = fh.readinto(buf)
            if not n:
                break
            size += n
            if not count or problem:
                sha.update(view[:n])
                continue
            hashed = hasher.submit(sha.update, view[:n]) if hasher else sha.update(view[:n])
            try:
                pieces = gz.feed(bytes(view[:n])) if gz else ((buf, n),)
                for piece, m in pieces:
                    data_bytes += m
                    if data_bytes > caps.max_decompressed_bytes:
                        problem = (
                            f"{shown}: more than {human_bytes(caps.max_decompressed_bytes)} once decompressed "
                            f"(cap ingest.max_decompressed_bytes); refused unread as a possible decompression bomb"
                        )
                        break
                    lines.feed(piece, m)
                    if lines.too_long_at is not None:
                        problem = (
                            f"{shown}: line {lines.too_long_at} is longer than {human_bytes(caps.max_line_bytes)} "
                            f"(cap ingest.max_line_bytes); refused unread"
                        )
                        break
            except zlib.error as exc:
                problem = f"{shown}: not a readable gzip file ({exc}); refused unread"
            finally:
                if hashed is not None:
                    hashed.result()  # the buffer is read into again next
    if count and gz and not problem:
        problem = gz.finish(shown)
    return Prescan(
        sha.hexdigest(), size, counted=count, lines=lines.lines, data_bytes=data_bytes, problem=problem
    )


class _Gunzip:
    """Inflate gzip members as a stream, at most `limit` bytes of output per piece."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.d = None  # the member being inflated; None between members
        self.trailing_zeros = False

    def feed(self, data: bytes) -> Iterator[tuple[bytes, int]]:
        while True:
            if self.trailing_zeros:
                if data.strip(b"\0"):
                    raise zlib.error("unexpected data after the end of the gzip stream")
                return
            if self.d is None:
                if not data:
                    return
                if not data.strip(b"\0"):  # zero padding after the last member is allowed
                    self.trailing_zeros = True
                    return
                self.d = zlib.decompressobj(wbits=31)
            out = self.d.decompress(data, self.limit)
            if out:
                yield out, len(out)
            if self.d.eof:
                data = self.d.unused_data  # the next member, if any
                self.d = None
                continue
            data = self.d.unconsumed_tail
            if not data and len(out) < self.limit:
                return  # all input consumed and nothing held back: wait for more

    def finish(self, shown: str) -> str | None:
        if self.d is not None:
            return f"{shown}: the gzip stream ends early (an incomplete download?); refused unread"
        return None


def exact_records(fd: int, kind: str, caps: Caps) -> int:
    """Data records by Python's csv module (quoted newlines, blank lines skipped), below the header.

    The slow, exact count: used only when the byte-level line count and the reader disagree.
    """
    os.lseek(fd, 0, os.SEEK_SET)
    raw = io.FileIO(os.dup(fd), "rb")
    stream = _CappedGunzip(raw, caps) if kind == "csv.gz" else raw
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, caps.max_line_bytes))
    try:
        records = sum(1 for row in csv.reader(text) if row)
    finally:
        csv.field_size_limit(old)
        text.close()
    return max(records - 1, 0)


class _CappedGunzip(io.RawIOBase):
    """A readable stream of the inflated bytes (all members), one bounded piece at a time."""

    def __init__(self, raw: io.FileIO, caps: Caps) -> None:
        self.raw = raw
        self.gz = _Gunzip(CHUNK)
        self.cap = caps.max_decompressed_bytes
        self.total = 0
        self.pieces = self._pieces()
        self.piece = memoryview(b"")

    def _pieces(self) -> Iterator[tuple[bytes, int]]:
        while data := self.raw.read(CHUNK):
            yield from self.gz.feed(data)
        if self.gz.finish("gzip"):
            raise OSError("the gzip stream ends early")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if not len(self.piece):
            nxt = next(self.pieces, None)
            if nxt is None:
                return 0
            self.piece = memoryview(nxt[0])
            self.total += nxt[1]
            if self.total > self.cap:
                raise OSError("more than ingest.max_decompressed_bytes once decompressed")
        n = min(len(b), len(self.piece))
        b[:n] = self.piece[:n]
        self.piece = self.piece[n:]
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()
