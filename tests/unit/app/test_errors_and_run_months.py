"""Which errors are worth a retry (decided once, in pipeline.errors) and which month a run covers."""

from __future__ import annotations

import errno
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage

import duckdb
import pytest

from pipeline.app.schedule import MONTH_PATTERN, check_month, month_before, report_month
from pipeline.errors import (
    ConfigError,
    CostledgerError,
    InputError,
    LockBusyError,
    MissingRateError,
    QualityGateError,
    TransientError,
    is_transient,
    run_task,
)
from pipeline.report.errors import ReportError, SmtpDeliveryError
from tests.fixtures.failures import duckdb_io_error as _duckdb_io_error


class Fail(Exception):
    """Stands in for Airflow's AirflowFailException (pipeline/ never imports Airflow)."""


TRANSIENT = {
    "a lock held by another run": LockBusyError("another costledger run holds work.duckdb"),
    "an unreachable SMTP server": SmtpDeliveryError("SMTP server 127.0.0.1:1 unreachable", permanent=False),
    "disk full": OSError(errno.ENOSPC, "No space left on device"),
    "an I/O error": OSError(errno.EIO, "Input/output error"),
    "out of memory": MemoryError(),
    "a DuckDB I/O error": _duckdb_io_error(),
}
PERMANENT = {
    "bad config": ConfigError("config/costledger.yaml: report.recipients: not an e-mail address"),
    "bad input": InputError("focus/x.csv: header fits no known FOCUS format"),
    "a failed quality gate": QualityGateError("quality gate failed: conservation"),
    "a missing rate": MissingRateError("no USD->CNY rate on 2026-09-01"),
    "a month that is not a month": CostledgerError("month: '2026-13' is not a month"),
    "an SMTP refusal": SmtpDeliveryError("SMTP server refused the message: 550", permanent=True),
    "a report that cannot be built": ReportError("nothing published for 2026-09"),
    "a permission problem": PermissionError(errno.EACCES, "Permission denied", "/warehouse"),
    "any other OSError": ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
    "a bug": KeyError("source"),
    "a DuckDB query error": duckdb.BinderException("column x not found"),
}


@pytest.mark.parametrize("exc", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_what_may_succeed_later_is_transient_and_propagates_for_a_retry(exc):
    assert is_transient(exc)

    def step():
        raise exc

    with pytest.raises(Exception) as raised:
        run_task(Fail, "publish", step)
    assert not isinstance(raised.value, Fail)  # the orchestrator retries whatever else it sees
    if isinstance(exc, CostledgerError):
        assert raised.value is exc
    else:  # the OS's or DuckDB's error, as the one-line transient error the CLI would print
        assert isinstance(raised.value, TransientError) and raised.value.__cause__ is exc
        assert str(raised.value).startswith("publish: ") and "\n" not in str(raised.value)


@pytest.mark.parametrize("exc", PERMANENT.values(), ids=PERMANENT.keys())
def test_what_a_person_must_fix_fails_at_once_in_one_line(exc):
    assert not is_transient(exc)

    def step():
        raise exc

    with pytest.raises(Fail) as raised:
        run_task(Fail, "transform", step)
    message = str(raised.value)
    assert "\n" not in message and message
    if isinstance(exc, CostledgerError):
        assert message == str(exc)
        assert raised.value.__cause__ is None  # the one line is the whole story
    else:
        assert message.startswith("transform: ")  # the step, then what failed
        assert raised.value.__cause__ is exc  # a bug keeps its traceback in the task log


def test_a_new_error_class_decides_by_its_attribute_not_by_a_list():
    class ShareUnmounted(CostledgerError):
        transient = True

    class RuleRejectedByEngine(TransientError):
        transient = False

    assert is_transient(ShareUnmounted("landing share not mounted"))
    assert not is_transient(RuleRejectedByEngine("rule 3: DuckDB rejects the regex"))
    assert is_transient(TransientError("x")) and TransientError.exit_code == 75
    assert LockBusyError.exit_code == 75  # the CLI's EX_TEMPFAIL is unchanged


def test_an_smtp_delivery_error_is_transient_exactly_when_not_permanent():
    from pipeline.report.smtp import SmtpTarget, deliver

    target = SmtpTarget("127.0.0.1", 1, None, None, None, False, False)  # nothing listens on port 1
    with pytest.raises(SmtpDeliveryError) as raised:
        deliver(EmailMessage(), target, "a@example.com", ["b@example.com"], attempts=1)
    assert not raised.value.permanent and is_transient(raised.value)


def test_run_task_returns_what_the_step_returns():
    assert run_task(Fail, "add", lambda a, b=0: a + b, 1, b=2) == 3


@pytest.mark.parametrize(
    ("when", "month"),
    [
        (datetime(2026, 4, 3, 8, tzinfo=UTC), "2026-03"),
        (datetime(2027, 1, 3, 8, tzinfo=UTC), "2026-12"),
        (datetime(2026, 3, 1, 0, tzinfo=UTC), "2026-02"),
        (datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), "2026-11"),
        # 2026-04-01 00:30 in UTC+02:00 is still March 31 in UTC: the month before is February
        (datetime(2026, 4, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))), "2026-02"),
    ],
)
def test_month_before_is_the_utc_calendar_month_before(when, month):
    assert month_before(when) == month


def test_a_scheduled_run_reports_the_month_before_its_interval_ends():
    due = datetime(2026, 4, 3, 8, tzinfo=UTC)
    assert report_month(None, data_interval_end=due, run_after=due) == "2026-03"


def test_a_manual_run_without_a_data_interval_reports_the_month_before_it_was_triggered():
    assert (
        report_month(None, data_interval_end=None, run_after=datetime(2026, 12, 2, 2, 53, tzinfo=UTC))
        == "2026-11"
    )


def test_a_manual_run_given_a_logical_date_follows_its_inferred_interval_not_the_clock():
    # `airflow dags test DAG 2026-03-03T08:00` or trigger --logical-date: run_after is "now".
    due, now = datetime(2026, 3, 3, 8, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
    assert report_month(None, data_interval_end=due, run_after=now) == "2026-02"


def test_a_month_given_to_the_run_wins():
    now = datetime(2026, 12, 2, tzinfo=UTC)
    assert report_month("2026-09", data_interval_end=now, run_after=now) == "2026-09"
    assert report_month("", data_interval_end=None, run_after=now) == "2026-11"


@pytest.mark.parametrize(
    "bad", ["2026-13", "2026-00", "2026-9", "26-09", "2026-09-01", " 2026-09", "2026-09\n", 202609]
)
def test_a_month_that_is_not_yyyy_mm_is_a_one_line_error_that_is_not_retried(bad):
    with pytest.raises(CostledgerError, match="is not a month; write it as YYYY-MM") as raised:
        report_month(bad, run_after=datetime(2026, 12, 2, tzinfo=UTC))
    assert not is_transient(raised.value)
    with pytest.raises(CostledgerError):
        check_month(bad)


def test_a_run_with_no_date_at_all_is_an_error_not_a_crash():
    with pytest.raises(CostledgerError, match="neither a month"):
        report_month(None, None, None)


def test_month_pattern_accepts_every_month_and_nothing_else():
    import re

    months = [f"2026-{m:02d}" for m in range(1, 13)]
    assert all(re.match(MONTH_PATTERN, m) for m in months)
    assert not any(re.match(MONTH_PATTERN, m) for m in ["2026-13", "2026-00", "2026-1", "2026-01x"])
