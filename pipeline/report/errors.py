"""Errors of the report room: one line each, what failed and what to do."""

from __future__ import annotations

from pipeline.errors import CostledgerError


class ReportError(CostledgerError):
    """The report cannot be built or sent as asked (no published data, bad month, no recipients)."""

    exit_code = 6


class SmtpDeliveryError(CostledgerError):
    """The SMTP server refused the message, or stayed unreachable after the retries.

    `permanent` is True for a refusal (5xx, failed authentication, TLS not possible): retrying
    later will not help until someone changes the configuration. Otherwise (the server stayed
    unreachable or kept answering 4xx) the error is transient: a later try may get through.
    """

    exit_code = 7

    def __init__(self, message: str, permanent: bool, attempts: int = 1):
        super().__init__(message)
        self.permanent = permanent
        self.transient = not permanent  # read by pipeline.errors.is_transient
        self.attempts = attempts
