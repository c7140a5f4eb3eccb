"""Errors a user sees: one line that names what failed, where, and what to do.

Whether an error is worth retrying is decided here, once, by `is_transient`: both Airflow DAGs
follow it through `run_task` (and the CLI exits 75, EX_TEMPFAIL, on a TransientError). A new error
class says so itself: subclass `TransientError` (or set `transient = True`) when the same call may
succeed later with nothing changed; any other `CostledgerError` means a person must fix something.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


class CostledgerError(Exception):
    """Base class: str(err) is the one-line message the CLI prints; exit_code is what it returns.

    `transient` False: retrying cannot help until someone changes the config, the input or the
    code (the DAGs fail the task at once). A subclass or an instance may set it True.
    """

    exit_code = 1
    transient = False


class TransientError(CostledgerError):
    """Nothing is wrong with the config or the input: the same call may succeed later."""

    exit_code = 75  # EX_TEMPFAIL: try again later
    transient = True


class ConfigError(CostledgerError):
    """A configuration file is wrong (names file, rule/key and value)."""

    exit_code = 2


class InputError(CostledgerError):
    """A landing file cannot be used as a whole (names file, and row/field where it can)."""

    exit_code = 3


class MissingRateError(CostledgerError):
    """A currency has no rate to the reporting currency for a charge date."""

    exit_code = 4


class QualityGateError(CostledgerError):
    """A critical quality check failed; nothing was published."""

    exit_code = 5


class LockBusyError(TransientError):
    """Another run holds the work database."""


def is_transient(exc: BaseException) -> bool:
    """True when retrying the same call later may succeed without anyone changing anything.

    * a CostledgerError: its `transient` attribute (a busy lock, an unreachable SMTP server: yes;
      config, bad input, a quality gate, a missing rate, a month that is not a month: no);
    * an OSError (disk full, an I/O error, a dropped connection, a timeout), except a
      PermissionError, which someone has to fix;
    * DuckDB's IOException (a file another process holds, a failed read or write, disk full);
    * anything else is a bug or a bad input: not transient.
    """
    if isinstance(exc, CostledgerError):
        return bool(exc.transient)
    if isinstance(exc, PermissionError):
        return False
    if isinstance(exc, OSError):
        return True
    duckdb = sys.modules.get("duckdb")  # not imported here: whoever raised its error has loaded it
    return duckdb is not None and isinstance(exc, duckdb.IOException)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, CostledgerError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_task(fail: Callable[[str], BaseException], fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call `fn` for an orchestrator's task: a transient error propagates as it is (the
    orchestrator retries it); any other error is raised as `fail(one line)` instead.

    The DAGs pass Airflow's AirflowFailException as `fail`, which fails the task at once without
    retrying; this module never imports Airflow. A CostledgerError's line is enough (`from None`);
    anything else keeps its traceback in the task log.
    """
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        if is_transient(exc):
            raise
        if isinstance(exc, CostledgerError):
            raise fail(one_line(exc)) from None
        raise fail(one_line(exc)) from exc
