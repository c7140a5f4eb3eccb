"""`costledger export focus`: the published ledger as a FOCUS 1.3 cost-and-usage dataset.

Reads the published file only (read-only, like `costledger query`: a run swapping in a new file
is never blocked), runs sql/export/focus_cost_and_usage.sql with the months bound as parameters
and COPYs the result to CSV or Parquet in one set-based statement. The file is written beside
its target and renamed over it, so a reader never sees half an export. What the columns hold
and the choices made for non-cloud cost: docs/focus.md, "Exporting the ledger as FOCUS".
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from pipeline.config.settings import SQL_DIR, Settings
from pipeline.errors import CostledgerError

EXPORT_SQL = SQL_DIR / "export" / "focus_cost_and_usage.sql"
FORMATS = ("csv", "parquet")
FOCUS_VERSION = "1.3"
# FOCUS DateTime: ISO 8601 in UTC, 'YYYY-MM-DDTHH:mm:ssZ'
CSV_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class FocusExport:
    path: Path
    rows: int
    months: list[date]
    effective_cost: Decimal
    billed_cost: Decimal


def _literal(text: str) -> str:
    # COPY ... TO takes a literal file name, not a bound parameter
    return "'" + text.replace("'", "''") + "'"


def default_path(settings: Settings, month_from: date, month_to: date, fmt: str) -> Path:
    span = f"{month_from:%Y-%m}" if month_from == month_to else f"{month_from:%Y-%m}_{month_to:%Y-%m}"
    return settings.warehouse / "exports" / f"focus-1.3-{span}.{fmt}"


def published_months(con: duckdb.DuckDBPyConnection) -> list[date]:
    return [
        r[0] for r in con.execute("select distinct month from marts.cost_line_items order by 1").fetchall()
    ]


def export_focus(
    settings: Settings,
    month_from: date | None,
    month_to: date | None,
    out: Path | None = None,
    fmt: str = "csv",
) -> FocusExport:
    """Write months month_from .. month_to (None: from the first / to the last published month)
    of the published ledger as FOCUS 1.3 to `out` (default warehouse/exports/)."""
    if fmt not in FORMATS:
        raise CostledgerError(f"--format: '{fmt}' is not one of {', '.join(FORMATS)}")
    if not settings.published_db.exists():
        raise CostledgerError(f"{settings.published_db}: nothing published yet; run `costledger run` first")
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        months = published_months(con)
        if not months:
            raise CostledgerError(f"{settings.published_db}: the published ledger holds no month yet")
        lo = month_from or months[0]
        hi = month_to or months[-1]
        if lo > hi:
            raise CostledgerError(f"export focus: --from {lo:%Y-%m} is after --to {hi:%Y-%m}")
        chosen = [m for m in months if lo <= m <= hi]
        if not chosen:
            raise CostledgerError(
                f"export focus: no published month in {lo:%Y-%m} .. {hi:%Y-%m} "
                f"(the ledger holds {months[0]:%Y-%m} .. {months[-1]:%Y-%m})"
            )
        target = Path(out) if out else default_path(settings, lo, hi, fmt)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
        options = (
            f"format csv, header true, timestampformat '{CSV_TIMESTAMP}'"
            if fmt == "csv"
            else "format parquet, compression zstd"
        )
        query = EXPORT_SQL.read_text()
        params = {"month_from": lo.isoformat(), "month_to": hi.isoformat()}
        try:
            con.execute(f"copy ({query}) to {_literal(str(tmp))} ({options})", params)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise
        rows, effective, billed = con.execute(
            f"select count(*), coalesce(sum(EffectiveCost), 0), coalesce(sum(BilledCost), 0) from ({query})",
            params,
        ).fetchone()
    finally:
        con.close()
    return FocusExport(target, rows, chosen, effective, billed)
