"""The report e-mail over a real SMTP conversation (aiosmtpd on 127.0.0.1): bodies, figures,
attachments, retries, refusals, STARTTLS, and exactly once."""

from __future__ import annotations

import csv
import io
import shutil
import threading
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipeline.config.settings import load_settings
from pipeline.errors import ConfigError
from pipeline.report import ReportError, SmtpDeliveryError, send_monthly_report
from pipeline.report.sent import claim_send, sent_reports
from tests.fixtures.report.published_db import make_published_db
from tests.fixtures.report.smtp_server import Recorder, SmtpServer, free_port, self_signed_cert

FAST = {"attempts": 3, "backoff": 0.01, "timeout": 5}
SYMBOLS = (
    "C_pretrain",
    "C_data",
    "C_labeled",
    "C_training",
    "C_tuning",
    "C_tuning_time",
    "C_tuning_resources",
    "C_deploy",
    "C_hardware",
    "C_software",
    "C_maintenance",
    "C_maintenance_time",
    "C_maintenance_resources",
    "C_total",
)


@pytest.fixture(scope="module")
def published_template(tmp_path_factory) -> Path:
    return make_published_db(tmp_path_factory.mktemp("published") / "costledger.duckdb")


@pytest.fixture
def settings(tmp_path, published_template):
    wh = tmp_path / "warehouse"
    wh.mkdir()
    shutil.copy(published_template, wh / "costledger.duckdb")
    return load_settings(warehouse=wh)


def smtp_cfg(server: SmtpServer, **kw) -> dict:
    return {"host": "127.0.0.1", "port": server.port, "from_address": "costledger@example.com", **kw}


def month_total(settings, month="2026-10-01") -> Decimal:
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        return con.execute(
            "select sum(c_total) from marts.monthly_cost_rollup where month = ?", [month]
        ).fetchone()[0]
    finally:
        con.close()


def test_send_delivers_one_message_with_bodies_symbols_figures_and_attachments(settings):
    with SmtpServer(Recorder()) as srv:
        result = send_monthly_report(
            settings, "2026-10", to=["finance@example.com"], smtp=smtp_cfg(srv), **FAST
        )
    assert result["status"] == "sent" and result["sent"] is True
    assert len(srv.handler.messages) == 1
    msg = srv.handler.messages[0]
    assert srv.handler.envelopes[0] == ("costledger@example.com", ["finance@example.com"])
    assert msg["Message-ID"] == result["message_id"]
    total = month_total(settings)
    total_text = f"{total.quantize(Decimal('0.01')):,}"
    assert msg["Subject"] == f"AI model cost report 2026-10: C_total CNY {total_text}"
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for symbol in SYMBOLS:
        assert symbol in plain and symbol in html
    assert total_text in plain and total_text in html
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 2 and all(f"cid:{p['Content-ID'].strip('<>')}" in html for p in images)
    files = {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_attachments()}
    rollup = files["costledger-2026-10-rollup.csv"]
    assert rollup.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(rollup.decode("utf-8-sig"))))
    cells = [c for r in rows for c in r]
    assert f"{total.quantize(Decimal('0.01'))}" in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")]
    assert "costledger-2026-10.xlsx" in files


def test_second_send_sends_nothing_and_says_so_force_sends_again(settings):
    with SmtpServer(Recorder()) as srv:
        first = send_monthly_report(
            settings, "2026-10", to=["finance@example.com"], smtp=smtp_cfg(srv), **FAST
        )
        # Same recipients written differently: still the same send.
        second = send_monthly_report(
            settings, "2026-10", to=["Finance@Example.com "], smtp=smtp_cfg(srv), **FAST
        )
        assert len(srv.handler.messages) == 1
        assert second["status"] == "already_sent" and second["sent"] is False
        assert second["message_id"] == first["message_id"]
        assert "already sent" in second["message"] and "--force" in second["message"]
        forced = send_monthly_report(
            settings, "2026-10", to=["finance@example.com"], smtp=smtp_cfg(srv), force=True, **FAST
        )
        assert forced["status"] == "sent" and "(forced)" in forced["message"]
        assert len(srv.handler.messages) == 2
        other = send_monthly_report(settings, "2026-10", to=["cfo@example.com"], smtp=smtp_cfg(srv), **FAST)
        assert other["status"] == "sent" and len(srv.handler.messages) == 3
    record = sent_reports(settings)
    assert [r["status"] for r in record] == ["sent", "sent", "sent"]
    assert {r["recipients"] for r in record} == {"finance@example.com", "cfo@example.com"}
    assert all(len(r["content_hash"]) == 64 and r["sent_at"] and r["message_id"] for r in record)


def test_record_survives_in_the_work_database(settings):
    with SmtpServer(Recorder()) as srv:
        send_monthly_report(settings, "2026-10", to=["finance@example.com"], smtp=smtp_cfg(srv), **FAST)
    con = duckdb.connect(str(settings.work_db), read_only=True)
    try:
        row = con.execute("select month, recipients, status from audit.sent_reports").fetchall()
    finally:
        con.close()
    assert [(str(r[0]), r[1], r[2]) for r in row] == [("2026-10-01", "finance@example.com", "sent")]


def test_transient_451_is_retried_then_delivered_once(settings):
    srv_handler = Recorder(data_replies=["451 4.3.0 Mailbox busy, try again later"])
    logs: list[str] = []
    with SmtpServer(srv_handler) as srv:
        result = send_monthly_report(
            settings, "2026-10", to=["finance@example.com"], smtp=smtp_cfg(srv), log=logs.append, **FAST
        )
    assert result["status"] == "sent" and result["attempts"] == 2
    assert srv_handler.data_attempts == 2 and len(srv_handler.messages) == 1
    assert logs and "451" in logs[0] and "retrying" in logs[0]
    assert sent_reports(settings)[0]["attempts"] == 2


def test_refusal_is_one_line_not_retried_and_a_later_send_may_try_again(settings):
    handler = Recorder(data_replies=["550 5.7.1 Message rejected by policy"])
    with SmtpServer(handler) as srv:
        with pytest.raises(SmtpDeliveryError) as exc:
            send_monthly_report(settings, "2026-10", to=["finance@example.com"], smtp=smtp_cfg(srv), **FAST)
        assert handler.data_attempts == 1  # a 5xx is not retried
        assert exc.value.permanent
        text = str(exc.value)
        assert "\n" not in text and "550" in text and "rejected by policy" in text and f":{srv.port}" in text
        failed = sent_reports(settings)[0]
        assert failed["status"] == "failed" and failed["attempts"] == 1 and "550" in failed["error"]
        # The failed attempt did not deliver, so the next send goes out.
        again = send_monthly_report(
            settings, "2026-10", to=["finance@example.com"], smtp=smtp_cfg(srv), **FAST
        )
    assert again["status"] == "sent" and len(handler.messages) == 1


def test_recipient_refused_is_one_line(settings):
    with SmtpServer(Recorder(rcpt_reply="550 5.1.1 No such user")) as srv:
        with pytest.raises(SmtpDeliveryError, match=r"refused every recipient: finance@example.com: 550"):
            send_monthly_report(settings, "2026-10", to=["finance@example.com"], smtp=smtp_cfg(srv), **FAST)


def test_unreachable_server_is_retried_then_fails_in_one_line(settings):
    port = free_port()  # nothing listens here
    with pytest.raises(SmtpDeliveryError) as exc:
        send_monthly_report(
            settings, "2026-10", to=["finance@example.com"], smtp={"host": "127.0.0.1", "port": port}, **FAST
        )
    assert not exc.value.permanent
    assert (
        "unreachable" in str(exc.value)
        and "after 3 attempts" in str(exc.value)
        and "\n" not in str(exc.value)
    )


def test_starttls_with_login_over_a_trusted_certificate(settings, tmp_path):
    cert, key = self_signed_cert(tmp_path)
    handler = Recorder()
    with SmtpServer(handler, tls_cert=(cert, key), auth=("reports", "s3cret")) as srv:
        ok = send_monthly_report(
            settings,
            "2026-10",
            to=["finance@example.com"],
            **FAST,
            smtp=smtp_cfg(srv, starttls=True, user="reports", password="s3cret", ca_file=str(cert)),
        )
        assert ok["status"] == "sent" and len(handler.messages) == 1
        with pytest.raises(SmtpDeliveryError) as exc:
            send_monthly_report(
                settings,
                "2026-10",
                to=["cfo@example.com"],
                **FAST,
                smtp=smtp_cfg(srv, starttls=True, user="reports", password="wrong", ca_file=str(cert)),
            )
        assert exc.value.permanent and "refused the login of user 'reports'" in str(exc.value)
        assert "wrong" not in str(exc.value)
        # Without trusting the certificate, TLS is refused (no silent downgrade).
        with pytest.raises(SmtpDeliveryError, match="certificate"):
            send_monthly_report(
                settings,
                "2026-10",
                to=["audit@example.com"],
                **FAST,
                smtp=smtp_cfg(srv, starttls=True, user="reports", password="s3cret"),
            )
    assert len(handler.messages) == 1


def test_implicit_tls_ssl_port(settings, tmp_path):
    cert, key = self_signed_cert(tmp_path)
    handler = Recorder()
    with SmtpServer(handler, tls_cert=(cert, key), implicit_tls=True) as srv:
        ok = send_monthly_report(
            settings,
            "2026-10",
            to=["finance@example.com"],
            **FAST,
            smtp=smtp_cfg(srv, ssl=True, ca_file=str(cert)),
        )
        # A plain client on a TLS port gets a clear one-line error, not a hang.
        with pytest.raises(SmtpDeliveryError) as exc:
            send_monthly_report(
                settings, "2026-10", to=["cfo@example.com"], attempts=1, timeout=1, smtp=smtp_cfg(srv)
            )
    assert ok["status"] == "sent" and len(handler.messages) == 1
    assert "\n" not in str(exc.value) and f":{srv.port}" in str(exc.value)


def test_interrupted_send_blocks_until_forced(settings):
    from datetime import date

    # A previous process claimed the send and died mid-conversation: it may have gone out.
    claim_send(
        settings,
        month=date(2026, 10, 1),
        recipients="finance@example.com",
        content_hash="0" * 64,
        message_id="<old@example.com>",
        subject="s",
        lang="en",
        force=False,
        smtp_server="x:25",
    )
    with SmtpServer(Recorder()) as srv:
        with pytest.raises(ReportError, match=r"has not finished .*<old@example.com>.*--force"):
            send_monthly_report(settings, "2026-10", to=["finance@example.com"], smtp=smtp_cfg(srv), **FAST)
        assert srv.handler.messages == []
        forced = send_monthly_report(
            settings, "2026-10", to=["finance@example.com"], smtp=smtp_cfg(srv), force=True, **FAST
        )
    assert forced["status"] == "sent" and len(srv.handler.messages) == 1


def test_two_concurrent_sends_deliver_exactly_one_message(settings):
    results: list = []
    with SmtpServer(Recorder()) as srv:

        def go():
            try:
                results.append(
                    send_monthly_report(
                        settings, "2026-10", to=["finance@example.com"], smtp=smtp_cfg(srv), **FAST
                    )["status"]
                )
            except ReportError as exc:  # the other one is still sending
                results.append(str(exc))

        threads = [threading.Thread(target=go) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(srv.handler.messages) == 1
    assert results.count("sent") == 1


def test_missing_smtp_host_and_recipients_are_config_errors(settings):
    with pytest.raises(ConfigError, match="COSTLEDGER_SMTP_HOST"):
        send_monthly_report(settings, "2026-10", to=["finance@example.com"], smtp={"host": None})
    with pytest.raises(ReportError, match="not an e-mail address"):
        send_monthly_report(settings, "2026-10", to=["finance at example"], smtp={"host": "127.0.0.1"})


def test_send_waits_for_a_running_pipeline_then_gives_up_without_sending(settings):
    import dataclasses

    from pipeline.db import run_lock
    from pipeline.errors import LockBusyError

    impatient = dataclasses.replace(settings, lock_timeout_seconds=0.5)
    with SmtpServer(Recorder()) as srv, run_lock(settings):  # a nightly run holds the work database
        with pytest.raises(LockBusyError, match="another costledger run holds"):
            send_monthly_report(impatient, "2026-10", to=["finance@example.com"], smtp=smtp_cfg(srv), **FAST)
        assert srv.handler.messages == []
        assert srv.handler.data_attempts == 0
    # Once the run has finished, the same send goes out.
    with SmtpServer(Recorder()) as srv:
        ok = send_monthly_report(impatient, "2026-10", to=["finance@example.com"], smtp=smtp_cfg(srv), **FAST)
    assert ok["status"] == "sent" and len(srv.handler.messages) == 1
