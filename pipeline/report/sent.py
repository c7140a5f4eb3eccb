"""The durable record of sent reports: `audit.sent_reports` in the warehouse's work database.

Exactly once: a send is claimed (a row in status 'sending') under the run lock before the SMTP
conversation, and marked 'sent' or 'failed' after it. A later send of the same month to the same
recipients finds the 'sent' row and sends nothing. A 'sending' row that never finished (the
process died mid-conversation) also blocks: the message may have gone out, so a person decides
(`--force`). The work database is opened only for these short statements.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pipeline.clock import now_utc
from pipeline.config.settings import SQL_DIR
from pipeline.report.errors import ReportError

DDL = SQL_DIR / "report" / "create_sent_reports.sql"
COLUMNS = (
    "send_id",
    "month",
    "recipients",
    "content_hash",
    "message_id",
    "subject",
    "lang",
    "status",
    "forced",
    "smtp_server",
    "claimed_at",
    "sent_at",
    "attempts",
    "refused",
    "error",
)


@dataclass(frozen=True)
class Claim:
    claimed: bool
    send_id: str | None
    previous: dict[str, Any] | None  # the blocking row when not claimed


def recipients_key(recipients: list[str] | tuple[str, ...]) -> str:
    return ",".join(recipients)


def _with_work_db(settings, fn, timeout: float | None = None):
    """Run fn(con) on the work database under the run lock; wait out a DuckDB file lock held by
    a process that does not use the run lock (an analyst's read-write session)."""
    import duckdb

    from pipeline.db import work_db

    timeout = settings.lock_timeout_seconds if timeout is None else timeout
    deadline = time.monotonic() + timeout
    while True:
        try:
            with work_db(settings, timeout=max(0.0, deadline - time.monotonic())) as con:
                con.execute(DDL.read_text(encoding="utf-8"))
                return fn(con)
        except duckdb.IOException as exc:
            first = str(exc).splitlines()[0]
            if "lock" not in first.lower() or time.monotonic() >= deadline:
                raise ReportError(f"{settings.work_db}: cannot record the report send: {first}") from None
            time.sleep(0.5)


def _rows(con, sql: str, params: list) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def claim_send(
    settings,
    *,
    month: date,
    recipients: str,
    content_hash: str,
    message_id: str,
    subject: str,
    lang: str,
    force: bool,
    smtp_server: str,
) -> Claim:
    """Claim the send of (month, recipients), or return the row that says it was sent already."""

    def tx(con) -> Claim:
        con.execute("begin transaction")
        try:
            prev = _rows(
                con,
                f"""
                select {", ".join(COLUMNS)} from audit.sent_reports
                where month = ? and recipients = ? and status in ('sent', 'sending')
                order by claimed_at desc limit 1""",
                [month, recipients],
            )
            if prev and not force:
                con.execute("rollback")
                return Claim(False, None, prev[0])
            send_id = uuid.uuid4().hex
            con.execute(
                f"insert into audit.sent_reports ({', '.join(COLUMNS)}) values "
                f"(?, ?, ?, ?, ?, ?, ?, 'sending', ?, ?, ?, null, null, null, null)",
                [
                    send_id,
                    month,
                    recipients,
                    content_hash,
                    message_id,
                    subject,
                    lang,
                    force,
                    smtp_server,
                    now_utc(),
                ],
            )
            con.execute("commit")
            return Claim(True, send_id, prev[0] if prev else None)
        except BaseException:
            con.execute("rollback")
            raise

    return _with_work_db(settings, tx)


def finish_send(
    settings,
    send_id: str,
    *,
    status: str,
    attempts: int | None = None,
    refused: str | None = None,
    error: str | None = None,
    sent_at: datetime | None = None,
) -> None:
    """Mark a claimed send 'sent' or 'failed'.

    Waits longer for the lock than a claim does: a delivered message must be recorded.
    """

    def tx(con) -> None:
        con.execute(
            "update audit.sent_reports set status = ?, sent_at = ?, attempts = ?, refused = ?, error = ? "
            "where send_id = ?",
            [status, (sent_at or now_utc()) if status == "sent" else None, attempts, refused, error, send_id],
        )

    _with_work_db(settings, tx, timeout=max(300.0, settings.lock_timeout_seconds * 5))


def sent_reports(settings, month: date | None = None) -> list[dict[str, Any]]:
    """The record, newest first (for `status` and tests)."""

    def q(con) -> list[dict[str, Any]]:
        where, params = ("where month = ?", [month]) if month else ("", [])
        return _rows(
            con,
            f"select {', '.join(COLUMNS)} from audit.sent_reports {where} order by claimed_at desc",
            params,
        )

    return _with_work_db(settings, q)
