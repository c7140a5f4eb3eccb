"""The report room: the month's cost report, for the terminal, on disk, and by e-mail (exactly once).

build_report(settings, month)            -> Report  (reads the published ledger read-only)
render_terminal(report)                  -> str     (the CLI's summary)
write_report(report, out_dir)            -> [Path]  (.html, .txt, .eml, CSV, XLSX, PNG)
send_monthly_report(settings, month, ...) -> dict   (SMTP, recorded in audit.sent_reports)
"""

from pipeline.report.data import build_report
from pipeline.report.errors import ReportError, SmtpDeliveryError
from pipeline.report.message import write_report
from pipeline.report.model import Report
from pipeline.report.render import render_terminal

__all__ = [
    "Report",
    "ReportError",
    "SmtpDeliveryError",
    "build_report",
    "render_terminal",
    "run_report_command",
    "send_monthly_report",
    "write_report",
]


def __getattr__(name: str):
    # The sending side imports smtplib/ssl and the work database; load it only when asked.
    if name in ("send_monthly_report", "run_report_command"):
        from pipeline.report import send

        return getattr(send, name)
    raise AttributeError(name)
