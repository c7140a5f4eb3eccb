"""SIGKILL a real `costledger run` at each crash point (pipeline/crashpoints.py), then check what
an operator finds the next morning (issue 8, point 14):

- the published file opens, and is wholly the old ledger or wholly the new one (every figure of
  one of them, derived from the landing files, never a mix), the one the point implies;
- `costledger status` shows the killed run as interrupted;
- the next run records it interrupted, books the new ledger to the cent, and leaves nothing behind.
"""

from __future__ import annotations

import signal

import duckdb
import pytest

from pipeline.app import steps
from pipeline.crashpoints import KILL_ENV, POINTS
from tests.conftest import sha
from tests.fixtures.cli import cli
from tests.fixtures.random_ledger import booked, differences
from tests.integration.faults.conftest import NEW, OLD, costledger, deliver_new, leftovers

pytestmark = pytest.mark.slow

# point -> (which ledger the published file holds right after the kill, what the next run records)
AFTER_KILL = {
    "before_load": (
        "old",
        "interrupted: no process held the run lock any more (killed or crashed); nothing was published",
    ),
    "mid_load": (
        "old",
        "interrupted: no process held the run lock any more (killed or crashed); nothing was published",
    ),
    "mid_transform": (
        "old",
        "interrupted: no process held the run lock any more (killed or crashed); nothing was published",
    ),
    "mid_publish": ("old", "interrupted while publishing: the published file stayed as it was"),
    "after_swap": ("new", "interrupted after its swap: the published file is this run's"),
}


def test_every_crash_point_is_under_test():
    assert set(AFTER_KILL) == set(POINTS)


def runs(settings) -> dict[str, tuple[str, str]]:
    con = duckdb.connect(str(settings.work_db), read_only=True)
    try:
        return {
            r: (s, m) for r, s, m in con.execute("select run_id, status, message from audit.runs").fetchall()
        }
    finally:
        con.close()


@pytest.mark.parametrize("point", list(AFTER_KILL))
def test_a_run_killed_at_a_crash_point_leaves_one_whole_ledger_and_the_next_run_recovers(
    published_company, point
):
    settings, landing = published_company
    assert not differences(booked(settings.published_db), OLD)
    old_sha = sha(settings.published_db)
    deliver_new(landing)

    proc = costledger("run", settings=settings, env={KILL_ENV: point})
    out, err = proc.communicate(timeout=300)

    assert proc.returncode == -signal.SIGKILL, (proc.returncode, err)
    # the published file opens, and holds one whole ledger: the one this point implies
    got = booked(settings.published_db)
    holds = {name for name, ledger in (("old", OLD), ("new", NEW)) if not differences(got, ledger)}
    want, recorded = AFTER_KILL[point]
    assert holds == {want}, (point, holds, differences(got, OLD), differences(got, NEW))
    if want == "old":
        assert sha(settings.published_db) == old_sha  # not one byte of it was touched
    if point == "mid_publish":  # killed between building and swapping: its new file is left over
        assert list(settings.warehouse.glob(".costledger.*.building.duckdb")), "not killed mid-publish?"
    killed = [r for r, (s, _) in runs(settings).items() if s in ("running", "publishing")]
    assert len(killed) == 1, runs(settings)
    killed = killed[0]

    st = cli("status", landing=landing, warehouse=settings.warehouse)
    assert st.returncode == 0, st.stderr
    assert f"{killed}  interrupted" in st.stdout, st.stdout

    r = cli("run", "--quiet", landing=landing, warehouse=settings.warehouse)
    assert r.returncode == 0, r.stderr
    status, message = runs(settings)[killed]
    assert status == "interrupted"
    assert message.startswith(recorded), message
    assert not differences(booked(settings.published_db), NEW)
    assert leftovers(settings.warehouse) == []
    # and the ledger is settled: the night after has nothing new
    r = cli("run", "--quiet", landing=landing, warehouse=settings.warehouse)
    assert r.returncode == 0 and "nothing new since" in r.stdout, (r.stdout, r.stderr)


def test_a_crash_point_not_named_in_the_environment_does_nothing(company, monkeypatch):
    settings, landing = company
    monkeypatch.setenv(KILL_ENV, "no_such_point")
    assert steps.run_all(settings).status == "succeeded"
    assert not differences(booked(settings.published_db), OLD)
