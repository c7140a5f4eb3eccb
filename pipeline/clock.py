"""The ledger's clock: every timestamp it writes (audit tables, run records, sent reports) is
UTC without a zone, so that DuckDB's TIMESTAMP columns compare across machines and seasons."""

from __future__ import annotations

from datetime import UTC, datetime


def now_utc() -> datetime:
    """Now, in UTC, as a naive datetime (DuckDB TIMESTAMP)."""
    return datetime.now(UTC).replace(tzinfo=None)
