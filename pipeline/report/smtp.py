"""Deliver one message over SMTP: timeouts, STARTTLS or SSL, retries with backoff on transient errors.

Transient: 4xx replies, a dropped or refused connection, a timeout. Permanent (no retry): 5xx
replies, failed authentication, TLS that cannot be set up. Either way the error is one line.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from pipeline.errors import ConfigError
from pipeline.report.errors import SmtpDeliveryError

DEFAULT_TIMEOUT = 30.0
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF = 2.0
MAX_DELAY = 60.0


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    user: str | None
    password: str | None = field(repr=False)
    from_address: str | None
    starttls: bool
    ssl: bool
    ca_file: str | None = None  # a private CA (or a self-signed test server); system CAs otherwise

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"


def smtp_target(cfg: Any) -> SmtpTarget:
    """Accept SmtpSettings, any object with the same attributes (host, port, user, password,
    from_address, starttls, ssl[, ca_file]) or a mapping of them."""

    def get(key: str, default: Any = None) -> Any:
        if isinstance(cfg, Mapping):
            return cfg.get(key, default)
        return getattr(cfg, key, default)

    host = get("host")
    if not host:
        raise ConfigError(
            "SMTP is not configured: set COSTLEDGER_SMTP_HOST (and _PORT, _USER, _PASSWORD, _FROM, "
            "_STARTTLS or _SSL), or the Airflow connection smtp_default"
        )
    use_ssl = bool(get("ssl", False))
    port = get("port") or (465 if use_ssl else 25)
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise ConfigError(f"COSTLEDGER_SMTP_PORT: '{port}' is not a port number") from None
    return SmtpTarget(
        host=str(host),
        port=port,
        user=get("user") or None,
        password=get("password") or None,
        from_address=get("from_address") or None,
        starttls=bool(get("starttls", False)) and not use_ssl,
        ssl=use_ssl,
        ca_file=get("ca_file") or None,
    )


def _one_line(text: Any) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return " ".join(str(text).split())


class _Transient(Exception):
    pass


def _classify(exc: BaseException, target: SmtpTarget) -> tuple[bool, str]:
    """(transient?, one-line reason) for an exception raised while talking to the server."""
    where = f"SMTP server {target.server}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False, (
            f"{where} refused the login of user '{target.user}': "
            f"{exc.smtp_code} {_one_line(exc.smtp_error)} — check COSTLEDGER_SMTP_USER/PASSWORD"
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{addr}: {code} {_one_line(msg)}" for addr, (code, msg) in exc.recipients.items())
        return all(400 <= c < 500 for c in codes), f"{where} refused every recipient: {detail}"
    if isinstance(exc, smtplib.SMTPResponseException):
        code, text = exc.smtp_code, _one_line(exc.smtp_error)
        if 400 <= code < 500:
            return True, f"{where} answered {code} {text}"
        if code == -1:  # smtplib's "connection unexpectedly closed" style replies
            return True, f"{where}: {text}"
        return False, f"{where} refused the message: {code} {text}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return False, f"{where}: {_one_line(exc)} (turn off COSTLEDGER_SMTP_STARTTLS or use SSL)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return False, f"{where}: TLS certificate not trusted: {_one_line(exc.verify_message or exc)}"
    if isinstance(exc, ssl.SSLError):
        return (
            False,
            f"{where}: TLS failed: {_one_line(exc.reason or exc)} (is it an SSL or a STARTTLS port?)",
        )
    if isinstance(exc, socket.gaierror):
        return False, f"{where}: host name does not resolve ({_one_line(exc)})"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True, f"{where} closed the connection: {_one_line(exc) or 'no reason given'}"
    if isinstance(exc, TimeoutError | socket.timeout):
        hint = (
            " (port 465 expects SSL: set COSTLEDGER_SMTP_SSL=true)"
            if target.port == 465 and not target.ssl
            else ""
        )
        return True, f"{where} timed out{hint}"
    if isinstance(exc, ConnectionError | OSError):
        return True, f"{where} unreachable: {_one_line(exc.strerror or exc)}"
    if isinstance(exc, smtplib.SMTPException):
        text = _one_line(exc)
        if "STARTTLS" in text:
            return False, f"{where}: {text} (turn off COSTLEDGER_SMTP_STARTTLS or use SSL)"
        return False, f"{where}: {text}"
    raise exc


def _send_once(
    target: SmtpTarget, msg: EmailMessage, from_address: str, recipients: list[str], timeout: float
) -> dict[str, tuple[int, bytes]]:
    context = ssl.create_default_context(cafile=target.ca_file) if (target.ssl or target.starttls) else None
    if target.ssl:
        client = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=timeout)
    try:
        client.ehlo()
        if target.starttls:
            client.starttls(context=context)
            client.ehlo()
        if target.user:
            client.login(target.user, target.password or "")
        refused = client.send_message(msg, from_addr=from_address, to_addrs=recipients)
    except BaseException:
        client.close()
        raise
    # Accepted: a failing QUIT must not turn a delivered message into a retry.
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
    return refused


def deliver(
    msg: EmailMessage,
    target: SmtpTarget,
    from_address: str,
    recipients: list[str],
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff: float = DEFAULT_BACKOFF,
    timeout: float = DEFAULT_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Send `msg`; return {'attempts': n, 'refused': {addr: 'code text'}} or raise SmtpDeliveryError."""
    last = ""
    for attempt in range(1, max(1, attempts) + 1):
        try:
            refused = _send_once(target, msg, from_address, recipients, timeout)
            return {
                "attempts": attempt,
                "refused": {a: f"{c} {_one_line(t)}" for a, (c, t) in (refused or {}).items()},
            }
        except Exception as exc:  # classified below; anything unknown is re-raised as a bug
            transient, reason = _classify(exc, target)
            if not transient:
                raise SmtpDeliveryError(reason, permanent=True, attempts=attempt) from None
            last = reason
            if attempt < attempts:
                delay = min(MAX_DELAY, backoff * 2 ** (attempt - 1))
                if log:
                    log(f"{reason}; retrying in {delay:.1f}s (attempt {attempt + 1} of {attempts})")
                sleep(delay)
    raise SmtpDeliveryError(f"{last} (gave up after {attempts} attempts)", permanent=False, attempts=attempts)
