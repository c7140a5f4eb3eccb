"""Render the month's report HTML once in headless Chromium to a PNG, so a person can look at it.

    python -m pipeline.report.preview [--month 2026-10] [--lang zh-CN] [--out reports/preview]

Writes the report files (as `costledger report --out` does) and `<stem>.png` next to them.
Needs a Chromium binary (Debian: `apt-get install chromium`); the report itself does not.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pipeline.errors import CostledgerError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
WIDTH, MAX_HEIGHT = 880, 6000


def find_chromium(explicit: str | None = None) -> str:
    for name in (explicit,) if explicit else BROWSERS:
        path = shutil.which(name) if name else None
        if path:
            return path
    raise CostledgerError(
        f"no Chromium found ({explicit or ', '.join(BROWSERS)}); install it (Debian: apt-get install chromium)"
    )


def screenshot(html: Path, png: Path, chromium: str | None = None, timeout: float = 120) -> Path:
    """Screenshot `html` at e-mail width, cropped to the page's height."""
    browser = find_chromium(chromium)
    with tempfile.TemporaryDirectory(prefix="costledger-chromium-") as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{MAX_HEIGHT}",
            f"--screenshot={png}",
            html.resolve().as_uri(),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not png.is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CostledgerError(f"{browser} could not render {html}: {last}")
    _crop_to_content(png)
    return png


def _crop_to_content(png: Path) -> None:
    from PIL import Image  # ships with matplotlib

    with Image.open(png) as im:
        rgb = im.convert("RGB")
    background = rgb.getpixel((rgb.width - 1, rgb.height - 1))
    bottom = rgb.height
    # Walk up from the bottom while a row is all page background.
    while bottom > 1:
        row = rgb.crop((0, bottom - 1, rgb.width, bottom))
        if row.getcolors(1) is None or row.getcolors(1)[0][1] != background:
            break
        bottom -= 1
    rgb.crop((0, 0, rgb.width, min(rgb.height, bottom + 16))).save(png)


def latest_month(settings) -> str:
    """The newest month in the published ledger, as YYYY-MM."""
    import duckdb

    if not settings.published_db.is_file():
        raise CostledgerError(f"{settings.published_db}: nothing published yet; run `costledger demo` first")
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        (month,) = con.execute("select max(month) from marts.monthly_cost_rollup").fetchone()
    finally:
        con.close()
    if month is None:
        raise CostledgerError(f"{settings.published_db}: the published ledger holds no month yet")
    return f"{month:%Y-%m}"


def main(argv: list[str] | None = None) -> int:
    from pipeline.config.settings import load_settings
    from pipeline.report import build_report, write_report

    p = argparse.ArgumentParser(prog="python -m pipeline.report.preview", description=__doc__.splitlines()[0])
    p.add_argument("--month", help="YYYY-MM (default: the latest published month)")
    p.add_argument("--lang", choices=["en", "zh-CN"])
    p.add_argument("--out", help="folder for the files (default: <reports>/preview)")
    p.add_argument(
        "--chromium", help="the browser binary (default: the first of chromium, google-chrome on PATH)"
    )
    p.add_argument("--landing")
    p.add_argument("--warehouse")
    p.add_argument("--config")
    args = p.parse_args(argv)
    try:
        settings = load_settings(config=args.config, landing=args.landing, warehouse=args.warehouse)
        report = build_report(settings, args.month or latest_month(settings), lang=args.lang)
        out = Path(args.out) if args.out else settings.reports / "preview"
        paths = write_report(report, out)
        html = next(p for p in paths if p.suffix == ".html")
        png = screenshot(html, html.with_suffix(".png"), args.chromium)
    except CostledgerError as exc:
        print(f"costledger: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
