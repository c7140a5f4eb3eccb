"""How the DAGs talk to the outside: the smtp_default connection, and which failures retry."""

from __future__ import annotations

import errno
import json

import pytest

from pipeline.errors import ConfigError, CostledgerError, LockBusyError, QualityGateError
from pipeline.report.errors import SmtpDeliveryError
from tests.fixtures.failures import duckdb_io_error as _duckdb_io_error


def _connection(**kw):
    from airflow.sdk import Connection

    extra = kw.pop("extra", {})
    return Connection(conn_id="smtp_default", conn_type="smtp", extra=json.dumps(extra), **kw)


def test_a_mailpit_style_connection_sends_plain_smtp():
    from pipeline.app.airflow_smtp import smtp_from_connection

    conn = _connection(host="mailpit", port=1025, extra={"disable_ssl": "true", "disable_tls": "True"})
    smtp = smtp_from_connection(conn)
    assert (smtp.host, smtp.port, smtp.ssl, smtp.starttls) == ("mailpit", 1025, False, False)
    assert smtp.user is None and smtp.password is None


def test_a_relay_connection_keeps_login_sender_and_starttls():
    from pipeline.app.airflow_smtp import smtp_from_connection

    conn = _connection(
        host="smtp.example.com", port=587, login="ledger", password="s3cret",
        extra={"disable_ssl": True, "from_email": "costs@example.com"},
    )  # fmt: skip
    smtp = smtp_from_connection(conn)
    assert (smtp.port, smtp.ssl, smtp.starttls) == (587, False, True)
    assert (smtp.user, smtp.password, smtp.from_address) == ("ledger", "s3cret", "costs@example.com")
    assert "s3cret" not in repr(smtp)  # the password never reaches a log line


def test_without_extras_the_connection_means_implicit_tls_on_465_like_airflows_provider():
    from pipeline.app.airflow_smtp import smtp_from_connection

    smtp = smtp_from_connection(_connection(host="smtp.example.com"))
    assert (smtp.port, smtp.ssl, smtp.starttls) == (465, True, False)


def test_a_step_error_a_person_must_fix_fails_the_task_without_retry(dagbag):
    from airflow.sdk.exceptions import AirflowFailException

    step = dagbag.dags["cost_ledger_nightly"].get_task("transform").python_callable.__globals__["_step"]
    with pytest.raises(AirflowFailException, match="2026-13"):
        step("transform", "run-test", "2026-13", None)  # not a month: retrying will not help


class ShareNotMounted(CostledgerError):
    """A class another part of costledger might add: it says itself that it is transient."""

    transient = True


TRANSIENT = [
    LockBusyError("another costledger run holds work.duckdb"),
    SmtpDeliveryError("SMTP server mail:25 unreachable", permanent=False),
    OSError(errno.ENOSPC, "No space left on device"),
    ShareNotMounted("the landing share is not mounted"),
]
PERMANENT = [
    ConfigError("config/costledger.yaml: lock_timeout_seconds: not a number"),
    QualityGateError("quality gate failed: conservation on 2026-09"),
    SmtpDeliveryError("SMTP server mail:25 refused the message: 550", permanent=True),
    KeyError("a bug"),
]


def _wrappers(dagbag, monkeypatch, exc):
    """Both DAGs' thin wrappers, each calling a pipeline function that raises `exc`."""
    from pipeline.app import steps

    def boom(*_args, **_kwargs):
        raise exc

    monkeypatch.setattr(steps, "check_raw", boom)
    nightly = dagbag.dags["cost_ledger_nightly"].get_task("check_raw").python_callable
    report = dagbag.dags["cost_ledger_monthly_report"].get_task("save_report").python_callable
    run = report.__globals__["_run"]
    return {
        "nightly check_raw": lambda: nightly(run_id="run-test"),
        "report _run": lambda: run("save_report", boom),
    }


@pytest.mark.parametrize("exc", TRANSIENT + [_duckdb_io_error()], ids=lambda e: type(e).__name__)
def test_both_dags_let_a_transient_error_through_so_airflow_retries_it(dagbag, monkeypatch, exc):
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline.errors import TransientError

    for where, call in _wrappers(dagbag, monkeypatch, exc).items():
        with pytest.raises(Exception) as raised:
            call()
        assert not isinstance(raised.value, AirflowFailException), where
        if isinstance(exc, CostledgerError):
            assert raised.value is exc, where
        else:  # the OS's or DuckDB's error as its one-line transient error, the original as the cause
            assert isinstance(raised.value, TransientError) and raised.value.__cause__ is exc, where


@pytest.mark.parametrize("exc", PERMANENT, ids=lambda e: type(e).__name__)
def test_both_dags_fail_at_once_on_an_error_a_person_must_fix(dagbag, monkeypatch, exc):
    from airflow.sdk.exceptions import AirflowFailException

    for where, call in _wrappers(dagbag, monkeypatch, exc).items():
        with pytest.raises(AirflowFailException) as raised:
            call()
        assert str(exc).strip("'") in str(raised.value), where
