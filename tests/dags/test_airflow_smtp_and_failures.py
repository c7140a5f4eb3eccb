"""How the DAGs talk to the outside: the smtp_default connection, and which failures retry."""

from __future__ import annotations

import json

import pytest


def _connection(**kw):
    from airflow.sdk import Connection

    extra = kw.pop("extra", {})
    return Connection(conn_id="smtp_default", conn_type="smtp", extra=json.dumps(extra), **kw)


def test_a_mailpit_style_connection_sends_plain_smtp():
    from pipeline.airflow_smtp import smtp_from_connection

    conn = _connection(host="mailpit", port=1025, extra={"disable_ssl": "true", "disable_tls": "True"})
    smtp = smtp_from_connection(conn)
    assert (smtp.host, smtp.port, smtp.ssl, smtp.starttls) == ("mailpit", 1025, False, False)
    assert smtp.user is None and smtp.password is None


def test_a_relay_connection_keeps_login_sender_and_starttls():
    from pipeline.airflow_smtp import smtp_from_connection

    conn = _connection(
        host="smtp.example.com", port=587, login="ledger", password="s3cret",
        extra={"disable_ssl": True, "from_email": "costs@example.com"},
    )  # fmt: skip
    smtp = smtp_from_connection(conn)
    assert (smtp.port, smtp.ssl, smtp.starttls) == (587, False, True)
    assert (smtp.user, smtp.password, smtp.from_address) == ("ledger", "s3cret", "costs@example.com")
    assert "s3cret" not in repr(smtp)  # the password never reaches a log line


def test_without_extras_the_connection_means_implicit_tls_on_465_like_airflows_provider():
    from pipeline.airflow_smtp import smtp_from_connection

    smtp = smtp_from_connection(_connection(host="smtp.example.com"))
    assert (smtp.port, smtp.ssl, smtp.starttls) == (465, True, False)


def test_a_step_error_a_person_must_fix_fails_the_task_without_retry(dagbag):
    from airflow.sdk.exceptions import AirflowFailException

    step = dagbag.dags["cost_ledger_nightly"].get_task("transform").python_callable.__globals__["_step"]
    with pytest.raises(AirflowFailException, match="2026-13"):
        step("transform", "run-test", "2026-13", None)  # not a month: retrying will not help
