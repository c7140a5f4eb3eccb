"""What the native readers share beyond pipeline/ingest/common.py."""

from __future__ import annotations

from pipeline.ingest.common import q


def finish_read(con, columns: tuple[str, ...], checks, where: str, cost=None, footer_rows=None):
    """The end of a read for files `read_table_file` does not parse (JSON Lines, nested Parquet):
    from the temp table `_read` (the canonical text columns, `__row`, and `__error`: why a record
    could not be parsed at all), leave `_rejects` and `_incoming` as `read_table_file` does."""
    from pipeline.ingest.common import Incoming, lit

    bad_field = (
        "case when __error is not null then null "
        + " ".join(f"when {c.invalid} then {lit(c.field)}" for c in checks)
        + " end"
    )
    bad_reason = (
        "case when __error is not null then __error "
        + " ".join(f"when {c.invalid} then {c.reason}" for c in checks)
        + " end"
    )
    if cost:
        amount, ccy = cost
        cost_cols = (
            f"try_cast({amount} as decimal(38,10)) as cost, "
            f"case when regexp_full_match(upper(trim({ccy})), '[A-Z]{{3}}') then upper(trim({ccy})) end as currency"
        )
    else:
        cost_cols = "cast(null as decimal(38,10)) as cost, cast(null as varchar) as currency"
    con.execute(
        f"create temp table _judged as select *, {bad_reason} as __bad_reason, {bad_field} as __bad_field from _read"
    )
    con.execute(
        f"""
        create temp table _rejects as
        select __row as source_row, __bad_field as field, '{where} ' || __row || ': ' || __bad_reason as reason,
               {cost_cols}
        from _judged where __bad_reason is not null
        """
    )
    cols = ", ".join(q(c) for c in columns)
    con.execute(
        f"create temp view _incoming as select {cols}, cast(__row as bigint) as source_row "
        "from _judged where __bad_reason is null"
    )
    total = con.execute("select count(*) from _judged").fetchone()[0]
    rejected, first = con.execute("select count(*), arg_min(reason, source_row) from _rejects").fetchone()
    return Incoming(rows_in_file=total, rows_rejected=rejected, footer_rows=footer_rows, first_reject=first)


def drop_own_temp(con) -> None:
    con.execute("drop view if exists _incoming")
    for t in ("_judged", "_lines", "_lines_raw"):
        con.execute(f"drop table if exists {t}")
