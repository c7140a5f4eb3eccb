"""Compressed input is bounded (issue 8, point 4): every decompression is a stream under caps, so a
gzip bomb is refused in one line naming the file and the cap, with the run's memory bounded.

The peak-RSS test runs a real `costledger run` in a fresh probe process and reads the probe's
RUSAGE_CHILDREN (the run is its only child), the way `make bench` measures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import duckdb
import pytest

from tests.conftest import TEST_PII_KEY

pytestmark = pytest.mark.slow

GIB = 1024**3
HEADER = (
    b"BilledCost,EffectiveCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,"
    b"ProviderName,BillingAccountId\n"
)
PROBE = (
    "import json, resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "print(json.dumps({'rc': done.returncode, 'stderr': done.stderr, "
    "'peak_rss_bytes': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))\n"
)


def write_gzip_stream(path: Path, chunks) -> None:
    """A single-member gzip file written chunk by chunk: never more than one chunk in memory."""
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    with path.open("wb") as fh:
        for chunk in chunks:
            fh.write(z.compress(chunk))
        fh.write(z.flush())


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.strip().splitlines() if not line.startswith("costledger: warning: ")]


def measured_run(landing: Path, warehouse: Path, *extra: str) -> dict:
    env = {
        **os.environ,
        "COSTLEDGER_PII_KEY": TEST_PII_KEY,
        "COSTLEDGER_LANDING": str(landing),
        "COSTLEDGER_WAREHOUSE": str(warehouse),
    }
    cmd = [sys.executable, "-c", PROBE, sys.executable, "-m", "pipeline.app.cli", "run", "--quiet", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_3_gib_gzip_of_zeros_is_refused_in_one_line_under_1_gib_of_memory(tmp_path):
    landing = tmp_path / "landing"
    bomb = landing / "focus" / "bombs" / "zeros.csv.gz"
    bomb.parent.mkdir(parents=True)
    zeros = bytes(8 * 1024 * 1024)
    write_gzip_stream(bomb, (zeros for _ in range(3 * GIB // len(zeros))))
    assert bomb.stat().st_size < 4 * 1024 * 1024  # ~3 MB on disk

    got = measured_run(landing, tmp_path / "warehouse")
    print(
        f"peak RSS of `costledger run` facing a 3 GiB gzip of zeros: {got['peak_rss_bytes'] / 2**20:.0f} MiB"
    )
    assert got["rc"] == 3
    lines = errors(got["stderr"])
    assert lines == [
        "costledger: error: focus/bombs/zeros.csv.gz: line 1 is longer than 8 MiB (cap ingest.max_line_bytes); "
        "refused unread; nothing was published — fix or remove the file and run again"
    ], got["stderr"]
    assert got["peak_rss_bytes"] < GIB, f"peak RSS {got['peak_rss_bytes'] / 2**20:.0f} MiB"


def test_a_legit_gzip_over_the_decompressed_cap_is_refused_before_duckdb_opens_it(tmp_path):
    """A real FOCUS export of ~6 MiB once inflated, with the cap at 4 MiB: the pre-scan refuses it,
    so DuckDB's own gzip reader never inflates past the cap."""
    landing = tmp_path / "landing"
    export = landing / "focus" / "big" / "focus-2026-09.csv.gz"
    export.parent.mkdir(parents=True)
    row = b"1.25,1.25,USD,2026-09-01T00:00:00Z,2026-09-02T00:00:00Z,Usage,AWS,111122223333\n"
    write_gzip_stream(export, [HEADER, *(row * 10_000 for _ in range(8))])
    config = tmp_path / "config"
    from pipeline.config.settings import DEMO_CONFIG

    config.mkdir()
    for f in DEMO_CONFIG.iterdir():
        text = f.read_text()
        if f.name == "costledger.yaml":
            text = text.replace("max_decompressed_bytes: 16GiB", "max_decompressed_bytes: 4MiB")
        (config / f.name).write_text(text)
    got = measured_run(landing, tmp_path / "warehouse", "--config", str(config))
    assert got["rc"] == 3
    assert errors(got["stderr"]) == [
        "costledger: error: focus/big/focus-2026-09.csv.gz: more than 4 MiB once decompressed "
        "(cap ingest.max_decompressed_bytes); refused unread as a possible decompression bomb; "
        "nothing was published — fix or remove the file and run again"
    ]
    con = duckdb.connect(str(tmp_path / "warehouse" / "work.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from raw.focus_line_items").fetchone() == (0,)
        assert con.execute("select action from audit.load_log").fetchall() == [("refused",)]
    finally:
        con.close()
