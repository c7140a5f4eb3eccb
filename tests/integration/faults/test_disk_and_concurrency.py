"""Two more faults of a real night (issue 8, point 14): the warehouse's disk fills up mid-run,
and two `costledger run` processes start on the same warehouse at once.

After each: the published file opens and is wholly the old ledger or wholly the new one (figures
derived from the landing files), and the books are right once the fault is gone.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest
import yaml

from pipeline.config.settings import DEMO_CONFIG, load_settings
from pipeline.crashpoints import STOP_ENV
from tests.conftest import sha
from tests.fixtures.cli import cli
from tests.fixtures.disk import fill
from tests.fixtures.random_ledger import booked, differences, write_ledger
from tests.integration.faults.conftest import NEW, OLD, costledger, deliver_new, leftovers

pytestmark = pytest.mark.slow


def config_with_lock_timeout(dest: Path, seconds: int) -> Path:
    """A copy of the demo config whose runs wait `seconds` for the run lock."""
    import shutil

    shutil.copytree(DEMO_CONFIG, dest)
    main_cfg = yaml.safe_load((dest / "costledger.yaml").read_text())
    main_cfg["lock_timeout_seconds"] = seconds
    (dest / "costledger.yaml").write_text(yaml.safe_dump(main_cfg))
    return dest


def process_state(pid: int) -> str:
    """The kernel's one-letter state of a process (R, S, T for stopped, Z ...)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2]


def wait_for_state(pid: int, state: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while process_state(pid) != state:
        assert time.monotonic() < deadline, f"pid {pid} never reached state {state}"
        time.sleep(0.05)


# --- disk full ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "when, leave, failing_step",
    [
        # full from the start: DuckDB meets ENOSPC writing the work database's WAL
        ("from the start", 128 * 1024, r"[a-z_]+: no space left on device writing "),  # transform, seen
        # fills up (another writer) while the run is in its transform, 1 MiB left: the transform
        # commits, the publish refuses before building a file that cannot fit
        ("mid_transform", 1024 * 1024, "publish: not enough free space in "),
    ],
)
def test_a_full_disk_fails_in_one_line_keeps_the_old_ledger_and_the_rerun_books_the_new(
    tmpfs, tmp_path, when, leave, failing_step
):
    """One line naming the step, the old ledger whole, and the rerun after freeing space books the new."""
    landing, warehouse = tmp_path / "landing", tmpfs / "warehouse"
    write_ledger(landing, OLD)
    settings = load_settings(landing=landing, warehouse=warehouse)
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    assert not differences(booked(settings.published_db), OLD)
    before = sha(settings.published_db)
    deliver_new(landing)

    if when == "from the start":
        ballast = fill(tmpfs, leave=leave)
        proc = costledger("run", "--quiet", settings=settings)
    else:
        proc = costledger("run", "--quiet", settings=settings, env={STOP_ENV: when})
        wait_for_state(proc.pid, "T")
        ballast = fill(tmpfs, leave=leave)
        proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=300)

    assert proc.returncode == 74, err  # EX_IOERR
    # a run may warn on lines of their own (the demo rules leave these ledgers' cost unallocated)
    lines = [e for e in err.strip().splitlines() if not e.startswith("costledger: warning: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert re.match(f"costledger: error: {failing_step}", lines[0]), lines[0]
    assert str(warehouse) in lines[0] and "free space" in lines[0], lines[0]
    assert sha(settings.published_db) == before  # wholly the old ledger, not a byte changed
    assert not differences(booked(settings.published_db), OLD)

    ballast.unlink()
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    assert not differences(booked(settings.published_db), NEW)
    assert leftovers(warehouse) == []


# --- two runs at once --------------------------------------------------------------------------------


def test_two_runs_started_together_book_the_ledger_once(company):
    settings, landing = company
    a = costledger("run", "--quiet", settings=settings)
    b = costledger("run", "--quiet", settings=settings)
    (out_a, err_a), (out_b, err_b) = a.communicate(timeout=300), b.communicate(timeout=300)

    assert (a.returncode, b.returncode) == (0, 0), (err_a, err_b)
    # one published; the other waited for the lock, then found nothing new to do
    assert sorted(["nothing new since" in out_a, "nothing new since" in out_b]) == [False, True], (
        out_a,
        out_b,
    )
    assert not differences(booked(settings.published_db), OLD)
    assert leftovers(settings.warehouse) == []


def test_a_second_run_waits_for_the_first_or_exits_75_naming_it(company, tmp_path):
    settings, landing = company
    assert cli("run", "--quiet", landing=landing, warehouse=settings.warehouse).returncode == 0
    before = sha(settings.published_db)
    deliver_new(landing)
    # the first run stops (SIGSTOP) holding the run lock, just before it loads anything
    first = costledger("run", "--quiet", settings=settings, env={STOP_ENV: "before_load"})
    try:
        wait_for_state(first.pid, "T")

        impatient = costledger(
            "run",
            "--quiet",
            settings=settings,
            env={"COSTLEDGER_CONFIG": str(config_with_lock_timeout(tmp_path / "cfg", 1))},
        )
        out, err = impatient.communicate(timeout=120)
        assert impatient.returncode == 75, err
        line = err.strip()
        assert "\n" not in line and "Traceback" not in line, err
        assert line.startswith(
            f"costledger: error: another costledger run holds {settings.work_db} (pid {first.pid} since "
        ), line
        assert line.endswith("waited 1s — try again when it has finished"), line

        st = cli("status", landing=landing, warehouse=settings.warehouse)
        assert f"a run is in progress (pid {first.pid} since " in st.stdout, st.stdout

        patient = costledger("run", "--quiet", settings=settings)  # the demo's 60 s
        time.sleep(2)
        assert patient.poll() is None  # still waiting for the lock
        assert sha(settings.published_db) == before  # nobody published meanwhile
    finally:
        first.send_signal(signal.SIGCONT)
    out_first, err_first = first.communicate(timeout=300)
    out_patient, err_patient = patient.communicate(timeout=300)

    assert first.returncode == 0, err_first
    assert patient.returncode == 0, err_patient
    assert "nothing new since" in out_patient, out_patient  # it waited, then found the work done
    assert not differences(booked(settings.published_db), NEW)
    assert leftovers(settings.warehouse) == []
