"""Errors a user sees: one line that names what failed, where, and what to do.

`user_error(exc, step)` turns anything a step can raise — DuckDB's errors and the operating
system's included (no space left, I/O error, out of memory) — into one of these classes, so the
CLI prints one line and the traceback goes to the log (pipeline/app/logs.py).

`transient` says whether the same run may succeed later without anyone changing config or
input: an orchestrator retries a transient error and fails a permanent one at once. That is
decided here, once: `is_transient(exc)` (the class's attribute; anything that is not a
CostledgerError is first mapped by `user_error`), and both Airflow DAGs call every step through
`run_task`. A new error class says so itself: subclass `TransientError` (or set
`transient = True`) when the same call may succeed later with nothing changed.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable
from typing import Any


class CostledgerError(Exception):
    """Base class: str(err) is the one-line message the CLI prints; exit_code is what it returns.

    `transient` False: retrying cannot help until someone changes the config, the input or the
    code (the DAGs fail the task at once). A subclass or an instance may set it True.
    """

    exit_code = 1
    transient = False


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


class TransientError(CostledgerError):
    """The same run may succeed later, once the machine has recovered: worth a retry."""

    exit_code = 75  # EX_TEMPFAIL: try again later
    transient = True


class LockBusyError(TransientError):
    """Another run (or another process with work.duckdb open) holds the work database."""

    exit_code = 75


class ResourceError(TransientError):
    """The machine ran short: no space left on a device, an I/O error, out of memory.

    Nothing was published; leftovers are removed by the next run, which succeeds once the
    space (or memory, or device) is back.
    """

    exit_code = 74  # EX_IOERR


class UnexpectedError(CostledgerError):
    """Anything else a step raised: a bug or an environment problem. The traceback is in the log."""

    exit_code = 70  # EX_SOFTWARE


_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_NO_SPACE_TEXT = ("no space left on device", "disk quota exceeded", "disk full")
_IO_TEXT = ("input/output error",)
# DuckDB names the file in its messages: Could not write file "/w/work.duckdb.wal": ...
_QUOTED_PATH = re.compile(r"""["'](/[^"']+)["']""")


def one_line(text: str, limit: int = 400) -> str:
    """First line of a message, whitespace collapsed, control characters shown escaped, capped."""
    first = next((ln for ln in str(text).splitlines() if ln.strip()), "")
    first = " ".join(first.split())
    first = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in first)
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _path_of(exc: BaseException, text: str) -> str | None:
    name = getattr(exc, "filename", None)
    if name:
        return str(name)
    m = _QUOTED_PATH.search(text)
    return m.group(1) if m else None


def user_error(exc: BaseException, step: str, folder: str | None = None, log_file: str | None = None):
    """The one-line CostledgerError for `exc` raised in `step` (returned, not raised).

    `folder` is where to free space when the error does not name a file; `log_file` is where
    the traceback went. A CostledgerError is returned as it is: its message is already for users.
    """
    if isinstance(exc, CostledgerError):
        return exc
    import duckdb

    # A cleanup that failed after the real failure ('cannot rollback - no transaction is active'
    # once a commit hit a full disk) must not hide it: the machine running short is the news.
    for cause in _chain(exc):
        if cause is not exc and _is_resource(cause):
            return user_error(cause, step, folder, log_file)

    text = one_line(str(exc)) or type(exc).__name__
    low = text.lower()
    path = _path_of(exc, text)
    where = path or folder or "the warehouse folder"
    code = getattr(exc, "errno", None)
    details = f" (traceback in {log_file})" if log_file else ""
    if code in _NO_SPACE or any(t in low for t in _NO_SPACE_TEXT):
        room = str(_parent(path)) if path else (folder or where)
        return ResourceError(
            f"{step}: no space left on device writing {where}; free space in {room} and run again"
            " (what a failed run left behind is removed by the next run)"
        )
    if isinstance(exc, MemoryError | duckdb.OutOfMemoryException):
        return ResourceError(
            f"{step}: out of memory ({text}); free memory, or lower COSTLEDGER_DUCKDB_MEMORY_LIMIT so "
            f"DuckDB spills to {folder or 'the warehouse'}/.tmp, and run again"
        )
    if code == errno.EIO or any(t in low for t in _IO_TEXT):
        return ResourceError(f"{step}: I/O error on {where} ({text}); check the device and run again")
    if isinstance(exc, OSError):
        reason = exc.strerror or text
        return UnexpectedError(f"{step}: {reason}: {where}{details}")
    if isinstance(exc, duckdb.IOException) and "permission denied" not in low:
        return ResourceError(f"{step}: {text}{details}")
    kind = "DuckDB error" if isinstance(exc, duckdb.Error) else f"unexpected {type(exc).__name__}"
    return UnexpectedError(f"{step}: {kind}: {text}{details}")


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _is_resource(exc: BaseException) -> bool:
    import duckdb

    low = str(exc).lower()
    return (
        getattr(exc, "errno", None) in (*_NO_SPACE, errno.EIO)
        or any(t in low for t in _NO_SPACE_TEXT + _IO_TEXT)
        or isinstance(exc, MemoryError | duckdb.OutOfMemoryException)
    )


def _parent(path: str):
    from pathlib import Path

    return Path(path).parent


def is_transient(exc: BaseException) -> bool:
    """True when the same call may succeed later without anyone changing config, input or code.

    A CostledgerError says so itself (`transient`: a busy lock, a machine short of space, an
    unreachable SMTP server: yes; config, bad input, a quality gate, a missing rate, a month that
    is not a month, a bug: no). Anything else is judged as `user_error` maps it: no space left,
    an I/O error (OSError EIO, DuckDB's IOException), out of memory are transient; any other OSError
    (a permission, a missing file) or exception is not.
    """
    if isinstance(exc, CostledgerError):
        return bool(exc.transient)
    return bool(user_error(exc, "task").transient)


def run_task(
    fail: Callable[[str], BaseException], step: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
):
    """Call `fn(*args, **kwargs)` as an orchestrator's task named `step`.

    A transient error propagates (the orchestrator retries it): a CostledgerError as it is,
    anything else as its one-line CostledgerError (`user_error`) with the original as the cause.
    Any other error is raised as `fail(one line)`: the DAGs pass Airflow's AirflowFailException,
    which fails the task at once without retrying (this module never imports Airflow).
    """
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        err = user_error(exc, step)
        if err.transient:
            if err is exc:
                raise
            raise err from exc
        # A CostledgerError's line is the whole story; anything else keeps its traceback in the log.
        raise fail(one_line(str(err)) or type(err).__name__) from (None if err is exc else exc)


class PullFailedError(TransientError):
    """`costledger pull` could not list or copy (network, server, an object changed); landing unchanged."""

    exit_code = 74  # EX_IOERR: a retry may succeed
