"""Errors of the report room: one line each, what failed and what to do."""

from __future__ import annotations

from pipeline.errors import CostledgerError


class ReportError(CostledgerError):
    """The report cannot be built or sent as asked (no published data, bad month, no recipients)."""

    exit_code = 6


class SmtpDeliveryError(CostledgerError):
    """The SMTP server refused the message, or stayed unreachable after the retries."""

    exit_code = 7
