"""Rows read + rows rejected must equal the rows counted without the reader: lines on the bytes
(CSV, with an exact CSV count when quoted newlines make them differ) or the Parquet footer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.ingest import _rows_in_file
from pipeline.ingest.common import Incoming
from pipeline.landing.prescan import Caps, open_fd, prescan_fd
from pipeline.landing.walk import LandingFile

CAPS = Caps(1024 * 1024, 1024**3)


def opened(tmp_path: Path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    fd = open_fd(path)
    scan = prescan_fd(fd, name, "csv", CAPS)
    return LandingFile(
        "focus", f"focus/{name}", path, scan.sha256, scan.size, scan=scan, fd=fd, caps=CAPS
    ), fd


def test_matching_counts_pass(tmp_path):
    f, fd = opened(tmp_path, "ok.csv", b"a,b\n1,2\n3,4\n")
    try:
        assert _rows_in_file(f, Incoming(rows_in_file=2, rows_rejected=1)) == 2
    finally:
        os.close(fd)


def test_quoted_newlines_fall_back_to_an_exact_count(tmp_path):
    f, fd = opened(tmp_path, "quoted.csv", b'a,b\n1,"x\ny"\n3,4\n')
    try:
        assert f.scan.data_lines == 3
        assert _rows_in_file(f, Incoming(rows_in_file=2)) == 2
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    "got, gap",
    [(1, "1 row(s) unaccounted for"), (3, "1 row(s) too many")],
)
def test_a_difference_refuses_the_file_naming_it(tmp_path, got, gap):
    f, fd = opened(tmp_path, "short.csv", b"a,b\n1,2\n3,4\n")
    try:
        with pytest.raises(InputError) as err:
            _rows_in_file(f, Incoming(rows_in_file=got, rows_rejected=0))
    finally:
        os.close(fd)
    assert str(err.value) == (
        f"focus/short.csv: 2 data row(s) counted as CSV records, but the reader returned {got} and rejected 0 "
        f"— {gap}; the file is refused, nothing of it is booked"
    )


def test_parquet_is_checked_against_its_footer(tmp_path):
    f = LandingFile("focus", "focus/x.parquet", tmp_path / "x.parquet", "0" * 64, 1)
    assert _rows_in_file(f, Incoming(rows_in_file=7, footer_rows=7)) == 7
    with pytest.raises(
        InputError, match=r"^focus/x.parquet: 8 data row\(s\) its Parquet footer declares, but"
    ):
        _rows_in_file(f, Incoming(rows_in_file=7, footer_rows=8))
