"""The fault suite's company: an old ledger already published, and a new delivery on its way.

OLD is two FOCUS files; NEW restates the first (same path, new content), keeps the second and
adds a third, so a run from OLD to NEW loads two files (a kill can fall between them) and
changes every figure. The expected books of both come from the rows (tests/fixtures/random_ledger.py).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.config.settings import load_settings
from pipeline.ledger import LEAVES
from tests.conftest import TEST_PII_KEY
from tests.fixtures.random_ledger import MODELS, MONTHS, FocusFile, Ledger, Row, file_names, write_ledger


def fixed_file(i: int, seed: int, n: int = 12) -> FocusFile:
    """A file of n rows over the three months, every bucket and some credits, from a seed."""
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        day = MONTHS[k % len(MONTHS)] + timedelta(days=rng.randrange(28))
        amount = Decimal(rng.randrange(-2_000_000, 90_000_000)).scaleb(-6)
        kind = k % 4
        if kind == 0:
            tags = (("cl-leaf", rng.choice(LEAVES)), ("cl-model", rng.choice(MODELS)))
        elif kind == 1:
            tags = (("cl-workload", "webshop"),)
        elif kind == 2:
            tags = (("cl-model", rng.choice(MODELS)),)  # no leaf: unallocated
        else:
            tags = ()
        category = "Credit" if k % 5 == 4 else "Usage"
        if category == "Credit":
            amount = -abs(amount)
        service = "AWS Support (Business)" if k % 7 == 6 else "Amazon SageMaker"
        rows.append(Row(day, amount, amount, category, service, tags))
    return FocusFile(file_names(i), f"2000000000{i:02d}", tuple(rows))


OLD: Ledger = (fixed_file(0, 100), fixed_file(1, 101))
NEW: Ledger = (fixed_file(0, 200, n=9), fixed_file(1, 101), fixed_file(2, 202))


@pytest.fixture
def company(tmp_path):
    """(settings, landing) with OLD in landing/ (not yet run)."""
    landing = tmp_path / "landing"
    write_ledger(landing, OLD)
    return load_settings(landing=landing, warehouse=tmp_path / "warehouse"), landing


@pytest.fixture(scope="module")
def _old_published(tmp_path_factory):
    """OLD run and published once per module (a run is seconds; every test copies the result)."""
    from pipeline.app import steps

    base = tmp_path_factory.mktemp("old-published")
    write_ledger(base / "landing", OLD)
    summary = steps.run_all(load_settings(landing=base / "landing", warehouse=base / "warehouse"))
    assert summary.status == "succeeded", summary.message
    return base


@pytest.fixture
def published_company(tmp_path, _old_published):
    """(settings, landing): OLD in landing/ and published, in a warehouse of this test's own."""
    for folder in ("landing", "warehouse"):
        shutil.copytree(_old_published / folder, tmp_path / folder, symlinks=True)
    return load_settings(landing=tmp_path / "landing", warehouse=tmp_path / "warehouse"), tmp_path / "landing"


def deliver_new(landing: Path) -> None:
    write_ledger(landing, NEW)


def costledger(*args: str, settings, env: dict | None = None, **popen) -> subprocess.Popen:
    """`costledger ARGS` as a real process (what cron or Airflow's BashOperator starts)."""
    full_env = {
        **os.environ,
        "COSTLEDGER_PII_KEY": TEST_PII_KEY,
        "COSTLEDGER_LANDING": str(settings.landing),
        "COSTLEDGER_WAREHOUSE": str(settings.warehouse),
        **(env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.app.cli", *args],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def leftovers(warehouse: Path) -> list[Path]:
    """What a failed or killed run may leave: half-built published files, WALs, spill files."""
    spill = warehouse / ".tmp"
    return sorted(
        [
            *warehouse.glob(".costledger.*building*"),
            *warehouse.glob("*.wal"),
            *(spill.iterdir() if spill.is_dir() else ()),
        ]
    )
