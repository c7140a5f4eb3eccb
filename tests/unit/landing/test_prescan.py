"""The streaming pre-scan: one read of a file's bytes gives its sha256, its line count (counted
without DuckDB) and whether it stays within the caps — with bounded memory, gzip included."""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import pytest

from pipeline.landing.prescan import Caps, exact_records, open_fd, prescan_fd

CAPS = Caps(max_line_bytes=64 * 1024, max_decompressed_bytes=64 * 1024 * 1024)
BODY = b"a,b\n" + b"".join(b"%d,x\n" % i for i in range(50_000))


def scan(tmp_path: Path, name: str, data: bytes, caps: Caps = CAPS):
    path = tmp_path / name
    path.write_bytes(data)
    kind = "csv.gz" if name.endswith(".gz") else "csv"
    fd = open_fd(path)
    try:
        result = prescan_fd(fd, name, kind, caps)
        exact = None if result.problem else exact_records(fd, kind, caps)
    finally:
        os.close(fd)
    return result, exact


@pytest.mark.parametrize(
    "name, data",
    [
        ("plain.csv", BODY),
        ("no_final_newline.csv", BODY[:-1]),
        ("crlf.csv", BODY.replace(b"\n", b"\r\n")),
        ("one.csv.gz", gzip.compress(BODY)),
        ("members.csv.gz", gzip.compress(BODY[:100_001]) + gzip.compress(BODY[100_001:])),
        ("zero_padded.csv.gz", gzip.compress(BODY) + b"\0" * 512),
    ],
)
def test_lines_are_counted_on_the_bytes_and_the_hash_is_of_the_file_as_delivered(tmp_path, name, data):
    result, exact = scan(tmp_path, name, data)
    assert result.problem is None
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.size == len(data)
    assert result.data_lines == 50_000 == exact
    assert result.data_bytes == (len(BODY) if name.endswith(".gz") else len(data))


def test_quoted_newlines_and_blank_lines_differ_from_the_byte_count_but_not_from_the_exact_count(tmp_path):
    result, exact = scan(tmp_path, "quoted.csv", b'a,b\n1,"two\nlines"\n\n2,y\n')
    assert result.data_lines == 4  # physical lines below the header
    assert exact == 2  # CSV records: the quoted newline and the blank line do not count


@pytest.mark.parametrize(
    "data, line",
    [
        (b"a,b\n1," + b"x" * (64 * 1024) + b"\n", 2),  # the cap exactly: 1 + 1 + 65536 bytes > cap
        (b"a,b\n1,x\n2," + b"x" * 200_000, 3),  # the last line, without a newline
        (b"x" * 300_000, 1),  # no newline at all
    ],
)
def test_a_line_over_the_cap_is_found_wherever_it_crosses_chunk_boundaries(tmp_path, data, line):
    result, _ = scan(tmp_path, "long.csv", data)
    assert result.problem == (
        f"long.csv: line {line} is longer than 64 KiB (cap ingest.max_line_bytes); refused unread"
    )
    assert result.sha256 == hashlib.sha256(data).hexdigest()  # still hashed whole


def test_a_line_exactly_at_the_cap_passes(tmp_path):
    result, exact = scan(tmp_path, "cap.csv", b"a\n" + b"x" * (64 * 1024) + b"\n")
    assert result.problem is None and exact == 1


def test_a_gzip_of_zeros_is_refused_after_one_cap_of_output_not_inflated_whole(tmp_path):
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = z.compress(bytes(256 * 1024 * 1024)) + z.flush()  # 256 MiB of zeros in ~250 KB
    result, _ = scan(tmp_path, "zeros.csv.gz", bomb)
    assert result.problem.startswith("zeros.csv.gz: line 1 is longer than 64 KiB (cap ingest.max_line_bytes)")
    assert result.data_bytes <= 2 * 64 * 1024  # inflation stopped at the cap
    assert result.sha256 == hashlib.sha256(bomb).hexdigest()


def test_a_gzip_over_the_decompressed_cap_is_refused_naming_the_cap(tmp_path):
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = z.compress(b"0,0\n" * (4 * 1024 * 1024)) + z.flush()  # 16 MiB of short lines
    result, _ = scan(tmp_path, "lines.csv.gz", bomb, Caps(64 * 1024, 1024 * 1024))
    assert result.problem == (
        "lines.csv.gz: more than 1 MiB once decompressed (cap ingest.max_decompressed_bytes); "
        "refused unread as a possible decompression bomb"
    )
    assert result.data_bytes <= 1024 * 1024 + 64 * 1024


@pytest.mark.parametrize(
    "name, data, says",
    [
        ("truncated.csv.gz", gzip.compress(BODY)[:-40], "the gzip stream ends early"),
        ("not_gzip.csv.gz", BODY, "not a readable gzip file"),
        ("trailing.csv.gz", gzip.compress(BODY) + b"garbage", "not a readable gzip file"),
    ],
)
def test_a_broken_gzip_stream_is_refused_unread(tmp_path, name, data, says):
    result, _ = scan(tmp_path, name, data)
    assert result.problem.startswith(f"{name}: {says}"), result.problem


def test_a_pipe_is_not_read(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    fd = open_fd(fifo)  # O_NONBLOCK: opening a pipe with no writer does not hang
    try:
        assert (
            prescan_fd(fd, "pipe.csv", "csv", CAPS).problem == "pipe.csv: not a regular file; refused unread"
        )
    finally:
        os.close(fd)


def test_a_final_symlink_is_never_followed(tmp_path):
    (tmp_path / "target.csv").write_bytes(BODY)
    (tmp_path / "link.csv").symlink_to(tmp_path / "target.csv")
    with pytest.raises(OSError):
        open_fd(tmp_path / "link.csv")
