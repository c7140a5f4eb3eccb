"""The report's HTML rendered once in headless Chromium, and the report command's files."""

from __future__ import annotations

import shutil
from email import message_from_bytes
from email.policy import default

import pytest

from pipeline.config.settings import load_settings
from pipeline.report import ReportError, run_report_command
from pipeline.report.preview import BROWSERS, main
from tests.fixtures.report.published_db import make_published_db
from tests.fixtures.report.smtp_server import Recorder, SmtpServer


@pytest.fixture
def warehouse(tmp_path):
    wh = tmp_path / "warehouse"
    make_published_db(wh / "costledger.duckdb")
    return wh


@pytest.mark.slow
@pytest.mark.skipif(not any(shutil.which(b) for b in BROWSERS), reason="no Chromium installed")
def test_html_renders_in_headless_chromium_to_a_full_page_png(warehouse, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "preview"
    assert main(["--warehouse", str(warehouse), "--out", str(out)]) == 0  # the latest month: 2026-10
    png = out / "costledger-report-2026-10.png"
    assert capsys.readouterr().out.strip() == str(png)
    with Image.open(png) as im:
        width, height = im.size
        colours = im.convert("RGB").getcolors(1 << 20)
    assert width == 880 and 1500 < height < 6000  # the whole report, cropped to its length
    assert len(colours) > 50  # text, tables and charts were drawn, not a blank page


def test_report_command_prints_summary_writes_files_and_sends_once(warehouse, tmp_path):
    settings = load_settings(warehouse=warehouse)
    lines: list[str] = []
    with SmtpServer(Recorder()) as srv:
        smtp = {"host": "127.0.0.1", "port": srv.port, "from_address": "costledger@example.com"}
        result = run_report_command(
            settings,
            "2026-10",
            send=True,
            to=["finance@example.com"],
            out=tmp_path / "out",
            smtp=smtp,
            echo=lines.append,
        )
        again = run_report_command(
            settings, "2026-10", send=True, to=["finance@example.com"], smtp=smtp, echo=lines.append
        )
    assert "C_total" in lines[0] and "C_maintenance_resources" in lines[0]
    assert result["send"]["status"] == "sent" and again["send"]["status"] == "already_sent"
    assert len(srv.handler.messages) == 1
    assert lines[-1].startswith("the 2026-10 report was already sent to finance@example.com")
    eml = message_from_bytes(
        (tmp_path / "out" / "costledger-report-2026-10.eml").read_bytes(), policy=default
    )
    assert eml["To"] == "finance@example.com"
    with pytest.raises(ReportError, match="--force only applies with --send"):
        run_report_command(settings, "2026-10", force=True, echo=lines.append)
