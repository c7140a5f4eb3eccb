"""The MIME message (multipart/mixed: alternative(text, related(html, charts)), attachments) and the files on disk."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path

from pipeline.report.attachments import build_attachments
from pipeline.report.charts import render_charts
from pipeline.report.model import Report
from pipeline.report.render import render_html, render_text, subject


def chart_cid(report: Report, name: str) -> str:
    # Stable Content-IDs: the same report gives the same HTML, so its content hash is stable too.
    return f"chart-{name}-{report.month_label}@costledger"


class RenderedReport:
    """Everything the message and the files are made of, rendered once."""

    def __init__(self, report: Report):
        self.report = report
        self.subject = subject(report)
        self.text = render_text(report)
        self.charts = render_charts(report)
        self.html_mail = render_html(report, {n: f"cid:{chart_cid(report, n)}" for n in self.charts})
        self.attachments = build_attachments(report)

    @property
    def content_hash(self) -> str:
        """sha256 over what the reader sees: subject, both bodies, charts and CSV attachments.

        The XLSX is left out (its zip carries a timestamp); it holds the same cells as the CSVs.
        """
        h = hashlib.sha256()
        parts = [self.subject.encode(), self.text.encode(), self.html_mail.encode(), *self.charts.values()]
        parts += [data for name, (_, data) in sorted(self.attachments.items()) if name.endswith(".csv")]
        for p in parts:
            h.update(len(p).to_bytes(8, "big"))
            h.update(p)
        return h.hexdigest()


def build_message(
    rendered: RenderedReport,
    from_address: str,
    recipients: list[str] | tuple[str, ...],
    message_id: str | None = None,
) -> EmailMessage:
    report = rendered.report
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = rendered.subject
    msg["From"] = from_address
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(usegmt=True)
    domain = from_address.rpartition("@")[2] or "costledger.localhost"
    msg["Message-ID"] = message_id or make_msgid(idstring=f"costledger-{report.month_label}", domain=domain)
    msg["Content-Language"] = report.lang
    msg["X-Costledger-Month"] = report.month_label
    msg["X-Costledger-Content-Hash"] = rendered.content_hash
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html_mail, subtype="html", charset="utf-8")
    html_part = msg.get_payload()[1]
    for name, png in rendered.charts.items():
        html_part.add_related(
            png,
            maintype="image",
            subtype="png",
            cid=f"<{chart_cid(report, name)}>",
            filename=f"{name}.png",
            disposition="inline",
        )
    for filename, (mime, data) in rendered.attachments.items():
        maintype, subtype = mime.split("/", 1)
        params = {"charset": "utf-8"} if maintype == "text" else None
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename, params=params)
    return msg


def write_report(report: Report, out_dir: str | Path, rendered: RenderedReport | None = None) -> list[Path]:
    """Write the month's report for review without sending: .html (+ its PNG charts), .txt, .eml, CSV, XLSX.

    Returns the paths written. The .html refers to the PNGs next to it; the .eml is the exact
    message that `--send` would deliver (To: the configured recipients).
    """
    rendered = rendered or RenderedReport(report)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"costledger-report-{report.month_label}"
    written: list[Path] = []

    def put(name: str, data: bytes) -> None:
        path = out / name
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        written.append(path)

    chart_files = {name: f"{stem}-{name}.png" for name in rendered.charts}
    put(f"{stem}.html", render_html(report, chart_files).encode("utf-8"))
    for name, png in rendered.charts.items():
        put(chart_files[name], png)
    put(f"{stem}.txt", rendered.text.encode("utf-8"))
    msg = build_message(rendered, report.from_address, report.recipients or ("undisclosed-recipients:;",))
    put(f"{stem}.eml", msg.as_bytes())
    for filename, (_, data) in rendered.attachments.items():
        put(filename, data)
    return written
