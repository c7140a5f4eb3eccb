"""Row checks and small helpers the native readers share."""

from __future__ import annotations

from pipeline.ingest.common import RowCheck, q

# A timestamp as the clouds write it: ISO 8601 with Z or an offset, `YYYY-MM-DD HH:MM:SS[.f] UTC`
# (BigQuery), or without a zone (Parquet TIMESTAMP; the exports are UTC). Staging parses the same way.
TS_SQL = "try_cast(regexp_replace(trim({c}), ' UTC$', '+00') as timestamptz)"


def not_timestamp(col: str) -> RowCheck:
    return RowCheck(
        col,
        f"(nullif(trim({q(col)}), '') is null or {TS_SQL.format(c=q(col))} is null)",
        f"case when nullif(trim({q(col)}), '') is null then '{col}: missing' "
        f"else '{col}: ''' || {q(col)} || ''' is not a timestamp' end",
    )


def not_json_object(col: str) -> RowCheck:
    """Empty is fine (no tags); anything else must be a JSON object."""
    return RowCheck(
        col,
        f"(nullif(trim({q(col)}), '') is not null and (try_cast({q(col)} as json) is null "
        f"or json_type(try_cast({q(col)} as json)) not in ('OBJECT', 'NULL')))",
        f"'{col}: not a JSON object'",
    )
