"""Every failure reaches the user as one line naming the step and the file; the traceback goes
to the log. The mapping from what DuckDB and the OS raise to what the user reads."""

from __future__ import annotations

import errno
import logging

import duckdb
import pytest

from pipeline.app import logs
from pipeline.errors import (
    CostledgerError,
    InputError,
    LockBusyError,
    QualityGateError,
    ResourceError,
    TransientError,
    UnexpectedError,
    one_line,
    user_error,
)

WH = "/srv/costledger/warehouse"


def _duckdb_error(cls, message: str):
    # DuckDB's own exception classes, raised the way the engine raises them
    try:
        raise cls(message)
    except duckdb.Error as exc:
        return exc


@pytest.mark.parametrize(
    "exc, step, cls, expected",
    [
        (
            OSError(errno.ENOSPC, "No space left on device", f"{WH}/.costledger.run-1.building.duckdb"),
            "publish",
            ResourceError,
            f"publish: no space left on device writing {WH}/.costledger.run-1.building.duckdb; "
            f"free space in {WH} and run again",
        ),
        (
            # what DuckDB 2.0 raised on a full tmpfs (seen on this machine): a failed commit
            _duckdb_error(
                duckdb.TransactionException,
                f'TransactionContext Error: Failed to commit: Could not write file "{WH}/work.duckdb.wal": '
                "No space left on device",
            ),
            "check_raw",
            ResourceError,
            f"check_raw: no space left on device writing {WH}/work.duckdb.wal; free space in {WH} and run again",
        ),
        (
            _duckdb_error(
                duckdb.IOException,
                f'IO Error: Could not write all bytes to file "{WH}/.tmp/duckdb_temp_storage-4.tmp": '
                "No space left on device",
            ),
            "transform",
            ResourceError,
            f"transform: no space left on device writing {WH}/.tmp/duckdb_temp_storage-4.tmp; "
            f"free space in {WH}/.tmp",
        ),
        (
            OSError(errno.EDQUOT, "Disk quota exceeded", f"{WH}/work.duckdb"),
            "load_focus",
            ResourceError,
            f"load_focus: no space left on device writing {WH}/work.duckdb",
        ),
        (
            OSError(errno.EIO, "Input/output error", "/landing/focus/aws/2026-10.csv"),
            "load_focus",
            ResourceError,
            "load_focus: I/O error on /landing/focus/aws/2026-10.csv (",
        ),
        (
            _duckdb_error(
                duckdb.OutOfMemoryException,
                "Out of Memory Error: failed to allocate data of size 64.0 MiB (7.9 GiB/8.0 GiB used)",
            ),
            "transform",
            ResourceError,
            "transform: out of memory (Out of Memory Error: failed to allocate data of size 64.0 MiB",
        ),
        (MemoryError(), "check_raw", ResourceError, "check_raw: out of memory (MemoryError)"),
        (
            PermissionError(errno.EACCES, "Permission denied", f"{WH}/costledger.duckdb"),
            "publish",
            UnexpectedError,
            f"publish: Permission denied: {WH}/costledger.duckdb",
        ),
        (
            _duckdb_error(
                duckdb.BinderException, 'Binder Error: Referenced column "x" not found\nLINE 1: ...'
            ),
            "transform",
            UnexpectedError,
            'transform: DuckDB error: Binder Error: Referenced column "x" not found',
        ),
        (ValueError("boom"), "check_marts", UnexpectedError, "check_marts: unexpected ValueError: boom"),
    ],
)
def test_failures_become_one_line_naming_step_and_file(exc, step, cls, expected):
    err = user_error(exc, step, folder=WH, log_file=f"{WH}/logs/costledger.log")
    assert type(err) is cls
    text = str(err)
    assert text.startswith(expected) or expected in text, text
    assert "\n" not in text and len(text) < 500


def test_an_unexpected_error_says_where_the_traceback_is():
    err = user_error(KeyError("month"), "transform", folder=WH, log_file=f"{WH}/logs/costledger.log")
    assert str(err) == f"transform: unexpected KeyError: 'month' (traceback in {WH}/logs/costledger.log)"


def test_a_user_error_is_passed_through_unchanged():
    gate = QualityGateError("quality gate failed: x on y: 3 offending rows")
    assert user_error(gate, "check_marts") is gate


def test_transient_errors_are_marked_for_orchestrators():
    # an orchestrator retries these; everything else needs a person
    assert LockBusyError.transient and ResourceError.transient
    assert issubclass(LockBusyError, TransientError) and issubclass(ResourceError, TransientError)
    assert not CostledgerError.transient and not InputError.transient and not UnexpectedError.transient
    assert not QualityGateError.transient
    assert (LockBusyError.exit_code, ResourceError.exit_code, UnexpectedError.exit_code) == (75, 74, 70)


def test_one_line_collapses_escapes_and_caps():
    assert one_line("first\nsecond") == "first"
    assert one_line("  a \t b  ") == "a b"
    assert one_line("name\x1b[31m") == "name\\x1b[31m"
    assert len(one_line("x" * 1000)) == 400


def test_the_log_rotates_and_stays_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(logs, "MAX_BYTES", 2000)
    logs.start()
    try:
        path = logs.to_file(tmp_path)
        assert path == tmp_path / "logs" / "costledger.log"
        for i in range(500):
            logging.getLogger("pipeline.test").info("line %d %s", i, "x" * 40)
    finally:
        logs.stop()
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["costledger.log", "costledger.log.1", "costledger.log.2", "costledger.log.3"]
    assert all((tmp_path / "logs" / f).stat().st_size <= 2000 for f in files)


def test_a_log_that_cannot_be_written_never_reaches_the_user(tmp_path, capsys):
    logs.start()
    try:
        logs.to_file(tmp_path)
        # as on a full disk: opening or writing the log fails; the handler gives up quietly
        for h in logging.getLogger("pipeline").handlers:
            if isinstance(h, logging.FileHandler):
                h.baseFilename = "/proc/costledger-cannot-write-here.log"
        logs.failure(RuntimeError("x"), "something failed")
    finally:
        logs.stop()
    assert capsys.readouterr().err == ""


def test_a_failed_cleanup_does_not_hide_the_full_disk():
    # what load and transform raise when their commit hit ENOSPC and the rollback then failed
    try:
        try:
            raise _duckdb_error(
                duckdb.TransactionException,
                f'TransactionContext Error: Failed to commit: Could not write file "{WH}/work.duckdb.wal": '
                "No space left on device",
            )
        except duckdb.Error:
            raise _duckdb_error(
                duckdb.TransactionException,
                "TransactionContext Error: cannot rollback - no transaction is active",
            ) from None
    except duckdb.Error as exc:
        err = user_error(exc, "load_invoices", folder=WH)
    assert isinstance(err, ResourceError)
    assert str(err).startswith(f"load_invoices: no space left on device writing {WH}/work.duckdb.wal")
