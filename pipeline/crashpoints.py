"""Named points of a run where the fault tests stop the process the hard way.

`crashpoint(name)` does nothing unless the environment names that point:

    COSTLEDGER_TEST_KILL_AT=<point>   SIGKILL this process there (a crash, an OOM kill, a pulled plug)
    COSTLEDGER_TEST_STOP_AT=<point>   SIGSTOP it there (frozen while holding what it holds, until a
                                      SIGCONT: how the tests start a second run beside a first one
                                      deterministically)

Only tests set these (tests/integration/faults/). Nothing is flushed or cleaned up before the
signal: the point of the exercise is that the next run copes with exactly what is left.
"""

from __future__ import annotations

import os
import signal

KILL_ENV = "COSTLEDGER_TEST_KILL_AT"
STOP_ENV = "COSTLEDGER_TEST_STOP_AT"

POINTS = {
    "before_load": "files discovered, nothing loaded yet (run_all, before the first source)",
    "mid_load": "between two files of a source: the first one committed, the next not started",
    "mid_transform": "inside the transform's transaction: core.line_items rebuilt, allocation and marts not yet",
    "mid_publish": "the new published file built and fsynced, not yet swapped in",
    "after_swap": "the new published file swapped in, the run not yet recorded succeeded",
}


def crashpoint(name: str) -> None:
    """SIGKILL (or SIGSTOP) this process here when the environment names `name`; else nothing."""
    if name not in POINTS:
        raise ValueError(f"unknown crash point {name!r} (one of: {', '.join(POINTS)})")
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get(STOP_ENV) == name:
        os.kill(os.getpid(), signal.SIGSTOP)
