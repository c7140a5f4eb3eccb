"""Send the month's report once: build, claim in audit.sent_reports, deliver over SMTP, record."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from pipeline.clock import now_utc
from pipeline.report.data import build_report
from pipeline.report.errors import ReportError, SmtpDeliveryError
from pipeline.report.fmt import month_label
from pipeline.report.message import RenderedReport, build_message, write_report
from pipeline.report.render import render_terminal
from pipeline.report.sent import claim_send, finish_send, recipients_key
from pipeline.report.smtp import DEFAULT_ATTEMPTS, DEFAULT_BACKOFF, DEFAULT_TIMEOUT, deliver, smtp_target


def normalise_recipients(addresses: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Lower-cased, de-duplicated, sorted addresses; a one-line error for anything that is not one."""
    out: dict[str, None] = {}
    for raw in addresses or ():
        for part in str(raw).split(","):
            part = part.strip()
            if not part:
                continue
            _, addr = parseaddr(part)
            local, at, domain = addr.rpartition("@")
            if not at or not local or "." not in domain or any(c.isspace() for c in addr):
                raise ReportError(f"--to: '{part}' is not an e-mail address")
            out[addr.lower()] = None
    return tuple(sorted(out))


def _recipients(settings, to) -> tuple[str, ...]:
    rcpts = normalise_recipients(to if to else settings.report.recipients)
    if not rcpts:
        raise ReportError("no recipients: pass --to ADDR or set report.recipients in config/costledger.yaml")
    return rcpts


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat(sep=" ", timespec="seconds")


def send_monthly_report(
    settings,
    month: str,
    to: list[str] | tuple[str, ...] | None = None,
    smtp: Any = None,
    force: bool = False,
    lang: str | None = None,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    timeout: float = DEFAULT_TIMEOUT,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """E-mail the month's report once to `to` (default: config report.recipients).

    Returns a JSON-able dict: status 'sent' or 'already_sent', month, recipients, message_id,
    content_hash, sent_at, and `message`, one line for a person. A second call for the same month
    and recipients sends nothing unless `force`. Raises SmtpDeliveryError (one line) when the
    server refuses or stays unreachable, ReportError when a previous send was interrupted.
    """
    recipients = _recipients(settings, to)
    target = smtp_target(smtp if smtp is not None else settings.smtp)
    report = build_report(settings, month, lang=lang, recipients=recipients)
    rendered = RenderedReport(report)
    from_address = target.from_address or report.from_address
    key = recipients_key(recipients)
    domain = from_address.rpartition("@")[2] or "costledger.localhost"
    # Short enough never to be folded: the same Message-ID goes into the record and the message.
    message_id = f"<costledger.{report.month_label}.{uuid.uuid4().hex[:20]}@{domain}>"
    to_text = ", ".join(recipients)
    base = {
        "month": report.month_label,
        "recipients": list(recipients),
        "content_hash": rendered.content_hash,
    }

    claim = claim_send(
        settings,
        month=report.month,
        recipients=key,
        content_hash=rendered.content_hash,
        message_id=message_id,
        subject=rendered.subject,
        lang=report.lang,
        force=force,
        smtp_server=target.server,
    )
    if not claim.claimed:
        prev = claim.previous
        if prev["status"] == "sending":
            started, mid = _iso(prev["claimed_at"]), prev["message_id"]
            raise ReportError(
                f"a send of the {report.month_label} report to {to_text} started at {started} UTC has not "
                f"finished (still running, or interrupted); it may have been delivered (Message-ID {mid}) — "
                f"check the mailbox, then use --force to send again"
            )
        changed = prev["content_hash"] != rendered.content_hash
        note = "; the figures have changed since" if changed else ""
        return {
            **base,
            "status": "already_sent",
            "sent": False,
            "message_id": prev["message_id"],
            "sent_at": _iso(prev["sent_at"]),
            "previous_content_hash": prev["content_hash"],
            "changed_since_sent": changed,
            "message": (
                f"the {report.month_label} report was already sent to {to_text} at {_iso(prev['sent_at'])} "
                f"UTC (Message-ID {prev['message_id']}){note}; nothing sent — use --force to send again"
            ),
        }

    msg = build_message(rendered, from_address, recipients, message_id=message_id)
    try:
        result = deliver(
            msg,
            target,
            from_address,
            list(recipients),
            attempts=attempts,
            backoff=backoff,
            timeout=timeout,
            log=log,
        )
    except SmtpDeliveryError as exc:
        # The server answered, and not with acceptance: nothing was delivered, a later send may retry.
        finish_send(settings, claim.send_id, status="failed", attempts=exc.attempts, error=str(exc))
        raise
    # Anything else (a bug, an interrupt) leaves the claim 'sending': the outcome is unknown, a person decides.
    sent_at = now_utc()
    refused = "; ".join(f"{a}: {r}" for a, r in result["refused"].items()) or None
    try:
        finish_send(
            settings,
            claim.send_id,
            status="sent",
            attempts=result["attempts"],
            refused=refused,
            sent_at=sent_at,
        )
    except Exception as exc:
        raise ReportError(
            f"the {report.month_label} report WAS delivered (Message-ID {message_id}) but could not be "
            f"recorded: {exc}; do not resend"
        ) from None
    forced = " (forced)" if force and claim.previous else ""
    warn = f"; the server refused {refused}" if refused else ""
    return {
        **base,
        "status": "sent",
        "sent": True,
        "message_id": message_id,
        "sent_at": _iso(sent_at),
        "attempts": result["attempts"],
        "refused": result["refused"],
        "message": (
            f"sent the {report.month_label} report{forced} to {to_text} via {target.server} "
            f"(Message-ID {message_id}){warn}"
        ),
    }


def run_report_command(
    settings,
    month: str,
    *,
    send: bool = False,
    to: list[str] | None = None,
    out: str | Path | None = None,
    lang: str | None = None,
    force: bool = False,
    smtp: Any = None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """What `costledger report` does: print the summary; write files with --out; e-mail with --send."""
    recipients = normalise_recipients(to) if to else None
    report = build_report(settings, month, lang=lang, recipients=recipients)
    echo(render_terminal(report))
    result: dict[str, Any] = {"month": month_label(report.month)}
    if out:
        paths = write_report(report, out)
        echo(f"wrote {len(paths)} files to {Path(out).resolve()} ({paths[0].name}, {paths[4].name}, ...)")
        result["files"] = [str(p) for p in paths]
    if send:
        sent = send_monthly_report(settings, month, to=to, smtp=smtp, force=force, lang=lang, log=echo)
        echo(sent["message"])
        result["send"] = sent
    elif force:
        raise ReportError("--force only applies with --send")
    return result
