"""What every source shares: reading a file into a temp table with line numbers, rejecting
rows with a reason, and replacing what the file contributed before, in one transaction.

A source module provides `RAW_TABLE`, `RAW_COLUMNS` and `read(con, settings, f, load_id) ->
Incoming`: it leaves the temp tables `_incoming` (raw columns + lineage) and `_rejects`
(source_row, field, reason, cost, currency) behind.

`f` is held open by `pipeline.landing.walk.opened`: DuckDB reads `f.reader_path` (the open file,
never a glob) and Python reads the open descriptor, so nothing but that file is ever read.
"""

from __future__ import annotations

import csv
import io
import os
import zlib
from dataclasses import dataclass

import duckdb

from pipeline.db import in_file_order
from pipeline.errors import InputError
from pipeline.ingest.rules import Rule
from pipeline.landing.prescan import human_bytes
from pipeline.landing.walk import LandingFile

LINEAGE = ("load_id", "source_file", "source_row", "file_sha256")


@dataclass
class Incoming:
    rows_in_file: int  # rows the reader returned + rows it refused
    rows_rejected: int = 0
    footer_rows: int | None = None  # Parquet: the row count its footer declares
    first_reject: str | None = None  # the reason of the first rejected row
    booked: bool = False  # the good rows are already in the raw table (read_table_file's `into`)
    document: bool = False  # a document (an invoice PDF, XLSX, ...): rows counted by its reader


@dataclass(frozen=True)
class Column:
    name: str  # canonical name in raw
    required: bool = False
    aliases: tuple[str, ...] = ()


def q(name: str) -> str:
    """Quote an identifier (names come from our own column lists or from a file header)."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """A SQL string literal for text from our own code (never user data)."""
    return "'" + value.replace("'", "''") + "'"


def _parquet_text(col: str, dtype: str) -> str:
    """A Parquet column as text: maps and key/value lists (tags, labels) as a JSON object."""
    t = dtype.upper()
    if t.startswith("MAP("):
        return f"cast(to_json({col}) as varchar)"
    if t.startswith("STRUCT(") and t.endswith("[]") and "KEY" in t and "VALUE" in t:
        # GCP labels: [{key, value}, ...]; the first occurrence of a key wins
        return (
            f"cast(to_json(map_from_entries(list_transform(list_filter({col}, "
            f"lambda t, i: list_position(list_transform({col}, lambda x: x.key), t.key) = i), "
            f"lambda t: struct_pack(k := t.key, v := t.value)))) as varchar)"
        )
    return f"cast({col} as varchar)"


def _first_line(f: LandingFile, limit: int) -> bytes:
    """The first line's bytes (decompressed), read from the open file, at most `limit` bytes."""
    out = bytearray()
    with io.FileIO(os.dup(f.fd), "rb") as raw:
        raw.seek(0)
        gz = zlib.decompressobj(wbits=31) if f.path.name.lower().endswith(".gz") else None
        while len(out) <= limit:
            data = raw.read(64 * 1024)
            if not data:
                break
            out += gz.decompress(data, limit + 1 - len(out)) if gz else data
            if b"\n" in out or (gz and gz.eof):
                break
    return bytes(out.split(b"\n", 1)[0])


def _csv_header(f: LandingFile) -> list[str]:
    """The header line, parsed as CSV (only the first line is read here)."""
    try:
        line = _first_line(f, f.caps.max_line_bytes)
        first = next(csv.reader([line.decode("utf-8-sig").rstrip("\r")]), None)
    except (OSError, UnicodeDecodeError, csv.Error, zlib.error) as exc:
        raise InputError(f"{f.rel}: not a readable CSV file: {exc}") from None
    if not first or not any(c.strip() for c in first):
        raise InputError(f"{f.rel}: the file is empty (expected a header line)")
    if len(set(first)) != len(first):
        dup = next(c for c in first if first.count(c) > 1)
        raise InputError(f"{f.rel}: header names column '{dup}' twice")
    return first


def _resolve_columns(header, columns, f: LandingFile, fmt: str, header_check=None) -> dict[str, str]:
    by_lower = {h.strip().lstrip("\ufeff").lower(): h for h in header}
    if header_check is not None:
        problem = header_check(set(by_lower))
        if problem:
            raise InputError(f"{f.rel}: header fits no known {fmt} format: {problem}")
    found: dict[str, str] = {}
    missing = []
    for col in columns:
        for cand in (col.name, *col.aliases):
            if cand.lower() in by_lower:
                found[col.name] = by_lower[cand.lower()]
                break
        else:
            if col.required:
                missing.append(col.name)
    if missing:
        expected = ", ".join(c.name for c in columns if c.required)
        raise InputError(
            f"{f.rel}: header fits no known {fmt} format: missing column(s) {', '.join(missing)} "
            f"(expected at least: {expected})"
        )
    return found


def read_table_file(
    con: duckdb.DuckDBPyConnection,
    f: LandingFile,
    columns: tuple[Column, ...],
    fmt: str,
    load_id: int,
    checks: tuple[Rule, ...] = (),
    extra_select: str = "",
    header_check=None,
    null_strings: tuple[str, ...] = ("",),
    cost: tuple[str, str] | None = None,
    into: str | None = None,
) -> Incoming:
    """Read a CSV (plain or .gz) or Parquet file; leave the view `_incoming` (good rows and
    their source_row) and the table `_rejects` (source_row, field, reason, cost, currency) behind.

    Every column is kept as text, as read; parsing happens in the source's input rules
    (`checks`, pipeline/ingest/<source>.rules.yml: to reject) and in staging (to type). `source_row` is the physical line (CSV, header = 1) or record number.
    The file is copied once, into `_read`; good rows go from there straight into raw.
    With `into` (a raw table; big sources), the file goes in one pass straight into that table,
    with its lineage, and no copy: the row checks then run over the rows just written (only the
    columns they read), and the rejected ones are moved to `_rejects`. The caller holds the
    transaction, so a refused file leaves the table as it was; `_incoming` is not made.
    `cost` is (amount, currency) as SQL over the canonical columns: what a rejected row
    carried, kept with it where it parses. Reasons start with the line (or record) they are on.
    """
    name = f.path.name.lower()
    drop_temp(con)
    # The checks run while the file is read (one pass); a row is rejected for the first check
    # it fails (CASE order = check order).
    if checks:
        bad_field = "case " + " ".join(f"when {c.invalid} then {lit(c.field)}" for c in checks) + " end"
        bad_reason = "case " + " ".join(f"when {c.invalid} then {c.reason}" for c in checks) + " end"
    else:
        bad_field = bad_reason = "cast(null as varchar)"
    if cost:
        amount, ccy = cost
        cost_cols = (
            f"try_cast({amount} as decimal(38,10)) as __cost, "
            f"case when regexp_full_match(upper(trim({ccy})), '[A-Z]{{3}}') then upper(trim({ccy})) end as __ccy"
        )
    else:
        cost_cols = "cast(null as decimal(38,10)) as __cost, cast(null as varchar) as __ccy"
    bad_cols = f"{bad_field} as __bad_field, {bad_reason} as __bad_reason"
    footer_rows = None
    if name.endswith(".parquet"):
        where = "record"
        try:
            footer_rows, uncompressed = con.execute(
                "select (select sum(num_rows) from parquet_file_metadata($p)), "
                "(select coalesce(sum(total_uncompressed_size), 0) from parquet_metadata($p))",
                {"p": [f.reader_path]},
            ).fetchone()
            cur = con.execute("select * from read_parquet(?) limit 0", [[f.reader_path]])
        except duckdb.Error as exc:
            raise InputError(f"{f.rel}: not a readable Parquet file: {_first_line_of(exc, f)}") from None
        if f.caps and uncompressed > f.caps.max_decompressed_bytes:
            raise InputError(
                f"{f.rel}: more than {human_bytes(f.caps.max_decompressed_bytes)} once decompressed "
                "(cap ingest.max_decompressed_bytes); refused unread as a possible decompression bomb"
            )
        header = [d[0] for d in cur.description]
        mapping = _resolve_columns(header, columns, f, fmt, header_check)
        types = {
            r[0]: r[1]
            for r in con.execute("describe select * from read_parquet(?)", [[f.reader_path]]).fetchall()
        }
        sel = _select_list(columns, mapping, lambda src: _parquet_text(q(src), types.get(src, "")))
        reader = f"select {sel}, file_row_number + 1 as __row from read_parquet(?, file_row_number = true)"
        if into:
            parsed = _insert_into(con, into, reader, [[f.reader_path]], extra_select, f, load_id)
        else:
            con.execute(f"create temp table _read as select *, {bad_cols} from ({reader})", [[f.reader_path]])
        con.execute("create temp table _parse_rejects (source_row bigint, field varchar, reason varchar)")
        placed = "_read"
    elif name.endswith((".csv", ".csv.gz")):
        where = "line"
        header = _csv_header(f)
        mapping = _resolve_columns(header, columns, f, fmt, header_check)
        sel = _select_list(columns, mapping, q)
        try:
            # The header is known: no sniffing, every column text, bad lines to the rejects table.
            # Insertion order is kept for this statement, so the good rows come in file order:
            # numbered by row_number() over () into `_read`, by their row ids when written
            # straight into raw (`into`; the ids start far up inside a transaction, so relative).
            # Lines up to the pre-scan's cap are read (DuckDB's own limit would drop longer ones).
            options = (
                "header = true, auto_detect = false, columns = ?, delim = ',', quote = '\"', escape = '\"', "
                "nullstr = ?, compression = ?, max_line_size = ?, "
                "store_rejects = true, rejects_table = '_rej_errors', rejects_scan = '_rej_scans'"
            )
            params = [
                [f.reader_path],
                {h: "VARCHAR" for h in header},
                list(null_strings),
                "gzip" if name.endswith(".gz") else "none",
                reader_max_line_size(f),
            ]
            with in_file_order(con):
                if into:
                    # Written in parallel, in file order, unnumbered: the rows' positions in the
                    # table number them afterwards (_number_lines). row_number() over () here would
                    # be a streaming window, which runs the whole read on one thread.
                    reader = f"select {sel}, cast(null as bigint) as __row from read_csv(?, {options})"
                    parsed = _insert_into(con, into, reader, params, extra_select, f, load_id)
                else:
                    con.execute(
                        f"create temp table _read as select *, {bad_cols} from (select {sel}, row_number() over () as __k "
                        f"from read_csv(?, {options}))",
                        params,
                    )
        except duckdb.Error as exc:
            raise InputError(f"{f.rel}: not a readable CSV file: {_first_line_of(exc, f)}") from None
        _parse_rejects(con, len(header))
        if into:
            _number_lines(con, into, load_id, parsed)
        elif con.execute("select count(*) from _parse_rejects").fetchone()[0] == 0:
            con.execute("create temp view _placed as select * exclude (__k), __k + 1 as __row from _read")
        else:
            # Good row k (in file order) sits on line 1 + k + (number of refused lines before it).
            con.execute(
                """
                create temp view _placed as
                with
                rej as (select source_row, row_number() over (order by source_row) as j from _parse_rejects),
                rej_before as (
                    -- a refused line j has (line - 1 - j) good rows before it
                    select source_row - 1 - j as good_before, max(j) as j from rej group by all
                ),
                good as (select * from _read)
                select good.* exclude (__k), 1 + good.__k + coalesce(rb.j, 0) as __row
                from good asof left join rej_before rb on good.__k > rb.good_before
                """
            )
        placed = "_placed"
    else:
        raise InputError(f"{f.rel}: unsupported file type (expected .csv, .csv.gz or .parquet)")

    if into:
        return _reject_booked_rows(con, into, load_id, checks, where, cost_cols, parsed, footer_rows)
    parsed = con.execute("select count(*) from _read").fetchone()[0]
    parse_rejected = con.execute("select count(*) from _parse_rejects").fetchone()[0]

    con.execute(
        f"""
        create temp table _rejects as
        select source_row, field, reason, cast(null as decimal(38,10)) as cost, cast(null as varchar) as currency
        from _parse_rejects
        union all
        select __row, __bad_field, '{where} ' || __row || ': ' || __bad_reason, __cost, __ccy
        from (select *, {cost_cols} from {placed} where __bad_field is not null)
        """
    )
    cols = ", ".join(q(c.name) for c in columns)
    con.execute(
        f"""
        create temp view _incoming as
        select {cols}{extra_select}, cast(__row as bigint) as source_row
        from {placed} where __bad_field is null
        """
    )
    rejected, first = con.execute("select count(*), arg_min(reason, source_row) from _rejects").fetchone()
    return Incoming(
        rows_in_file=parsed + parse_rejected,
        rows_rejected=rejected,
        footer_rows=int(footer_rows) if footer_rows is not None else None,
        first_reject=first,
    )


def _parse_rejects(con, header_fields: int, load_ids: list[int] | None = None) -> None:
    """`_parse_rejects`: the lines the CSV parser refused, one reason per line, said once: a line
    with the wrong number of fields is "line 6: 34 fields, header has 45" (DuckDB reports one
    error per missing or extra field). With `load_ids` (one read over several files, in that
    order), each line also carries the load_id of its file."""
    per_file = load_ids is not None
    con.execute(
        f"""
        create temp table _parse_rejects as
        with
        errors as (
            select file_id, line, column_name, error_type,
                   try_cast(regexp_extract(error_message, 'Found: (\\d+)', 1) as integer) as found
            from _rej_errors
        ),
        per_line as (
            select
                file_id,
                line,
                bool_or(error_type in ('TOO MANY COLUMNS', 'MISSING COLUMNS')) as wrong_count,
                -- one error per missing field (Found: 4, 5, 6 for 4 fields) or per extra field
                coalesce(max(found) filter (error_type = 'TOO MANY COLUMNS'),
                         min(found) filter (error_type = 'MISSING COLUMNS')) as fields,
                min(error_type) as error_type,
                any_value(column_name) as column_name
            from errors
            group by file_id, line
        )
        select
            line as source_row,
            case when wrong_count then null else column_name end as field,
            'line ' || line || ': ' || case
                when wrong_count then coalesce(cast(fields as varchar), 'a different number of')
                    || ' fields, header has {int(header_fields)}'
                when error_type = 'INVALID ENCODING' then 'not valid UTF-8'
                when error_type = 'UNQUOTED VALUE' then 'a quoted field is never closed'
                when error_type = 'LINE SIZE OVER MAXIMUM' then 'the line is longer than the line cap'
                else 'malformed CSV row (' || lower(error_type) || ')'
            end as reason
            {", cast($load_ids[cast(file_id as bigint) + 1] as bigint) as load_id" if per_file else ""}
        from per_line
        """,
        {"load_ids": load_ids} if per_file else None,
    )


def _with_lineage(con: duckdb.DuckDBPyConnection, into: str, lineage: dict[str, str]) -> tuple[str, str]:
    """(column list, select list) for inserting read rows into the raw table `into`: its data
    columns as read, then its lineage columns from the SQL given for each (load_id, source_file,
    source_row, file_sha256)."""
    cols = [r[0] for r in con.execute(f"select * from {into} limit 0").description]
    data = [c for c in cols if c not in lineage]
    columns_sql = ", ".join(q(c) for c in [*data, *lineage])
    select = ", ".join([*(q(c) for c in data), *(f"{lineage[c]} as {q(c)}" for c in lineage)])
    return columns_sql, select


# the lineage of a row read with the other parts of its export, from its file's position in the
# read (`__file`, the reader's file_index) in the $load_ids, $rels and $shas lists
def _parts_lineage(source_row: str) -> dict[str, str]:
    return {
        "load_id": "cast($load_ids[__file + 1] as bigint)",
        "source_file": "$rels[__file + 1]",
        "source_row": source_row,
        "file_sha256": "$shas[__file + 1]",
    }


def _insert_into(
    con, into: str, reader: str, params: list, extra_select: str, f: LandingFile, load_id: int
) -> int:
    """One pass from the file into the raw table, lineage included; returns the rows written."""
    columns_sql, select = _with_lineage(
        con,
        into,
        {"load_id": "$load_id", "source_file": "$rel", "source_row": "__row", "file_sha256": "$sha"},
    )
    named = {f"p{i}": v for i, v in enumerate(params)}
    sql = reader
    for i in range(len(params)):
        sql = sql.replace("?", f"$p{i}", 1)
    written = con.execute(
        f"insert into {into} ({columns_sql}) select {select} from (select *{extra_select} from ({sql}))",
        {**named, "load_id": load_id, "rel": f.rel, "sha": f.sha256},
    ).fetchone()[0]
    return int(written)


def _number_lines(con, into: str, load_id: int, written: int, per_file: bool = False) -> None:
    """Give the rows just written their physical line: good row k (1-based, in file order) is on
    line k + 1, moved down one by each line the CSV parser refused before it.

    The insert kept insertion order, so the rows of this load sit in file order at consecutive
    row ids inside the load's transaction (which start far up, hence relative to the first).
    That is checked, never assumed: a gap or a count that differs stops the load. One UPDATE of
    one column, set-based: every row is numbered in parallel, exact past refused lines.
    `per_file`: `_parse_rejects` holds several files' lines (read_csv_parts), by load_id."""
    if not written:
        return
    first, last, n = con.execute(
        f"select min(rowid), max(rowid), count(*) from {into} where load_id = $load_id",
        {"load_id": load_id},
    ).fetchone()
    if n != written or last - first + 1 != n:
        raise RuntimeError(
            f"{into}: the {written} rows of load {load_id} are not at consecutive row ids "
            f"({n} rows from {first} to {last}); lines cannot be numbered by their position"
        )
    mine = "load_id = $load_id" if per_file else "true"
    refused = con.execute(
        f"select count(*) from _parse_rejects where {mine}", {"load_id": load_id} if per_file else None
    )
    if refused.fetchone()[0] == 0:
        con.execute(
            f"update {into} set source_row = rowid - $first + 2 where load_id = $load_id",
            {"load_id": load_id, "first": first},
        )
        return
    con.execute(
        f"""
        update {into} t set source_row = s.k + 1 + coalesce(s.j, 0)
        from (
            with
            rej as (
                select source_row, row_number() over (order by source_row) as j
                from _parse_rejects where {mine}
            ),
            -- a refused line j has (line - 1 - j) good rows before it
            rej_before as (select source_row - 1 - j as good_before, max(j) as j from rej group by all),
            good as (select rowid as id, rowid - $first + 1 as k from {into} where load_id = $load_id)
            select good.id, good.k, rb.j from good asof left join rej_before rb on good.k > rb.good_before
        ) s
        where t.load_id = $load_id and t.rowid = s.id
        """,
        {"load_id": load_id, "first": first},
    )


def _reject_booked_rows(
    con,
    into: str,
    load_id: int,
    checks: tuple[Rule, ...],
    where: str,
    cost_cols: str,
    parsed: int,
    footer_rows,
) -> Incoming:
    """The row checks over the rows just written (only the columns they read): failing rows move to
    `_rejects`, beside the lines the parser refused, with the reason of the first check they fail."""
    if checks:
        bad_field = "case " + " ".join(f"when {c.invalid} then {lit(c.field)}" for c in checks) + " end"
        bad_reason = "case " + " ".join(f"when {c.invalid} then {c.reason}" for c in checks) + " end"
        any_bad = " or ".join(f"coalesce({c.invalid}, false)" for c in checks)
    else:
        bad_field = bad_reason = "cast(null as varchar)"
        any_bad = "false"
    con.execute(
        f"""
        create temp table _rejects as
        select source_row, field, reason, cast(null as decimal(38,10)) as cost, cast(null as varchar) as currency
        from _parse_rejects
        union all
        select source_row, {bad_field}, '{where} ' || source_row || ': ' || {bad_reason}, {cost_cols}
        from {into} where load_id = $load_id and ({any_bad})
        """,
        {"load_id": load_id},
    )
    rejected, first = con.execute("select count(*), arg_min(reason, source_row) from _rejects").fetchone()
    parse_rejected = con.execute("select count(*) from _parse_rejects").fetchone()[0]
    if rejected > parse_rejected:  # lines the parser refused were never written; no good row has their number
        con.execute(
            f"delete from {into} where load_id = $load_id and source_row in (select source_row from _rejects)",
            {"load_id": load_id},
        )
    return Incoming(
        rows_in_file=parsed + parse_rejected,
        rows_rejected=rejected,
        footer_rows=int(footer_rows) if footer_rows is not None else None,
        first_reject=first,
        booked=True,
    )


def reader_max_line_size(f: LandingFile) -> int:
    """DuckDB's line limit: the pre-scan's cap (never below DuckDB's own default), so every line
    the pre-scan let through is read, not skipped."""
    return max(int(f.caps.max_line_bytes) if f.caps else 0, 2_000_000)


def _first_line_of(exc: Exception, f: LandingFile) -> str:
    """DuckDB's message, first line, naming the file by its landing path (not /proc/self/fd/N)."""
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return msg.replace(f.reader_path or "\0", f.rel) if f.reader_path else msg


def _select_list(columns: tuple[Column, ...], mapping: dict[str, str], expr) -> str:
    """Canonical columns from the file's own names; optional columns it lacks are NULL."""
    return ", ".join(
        f"{expr(mapping[c.name])} as {q(c.name)}"
        if c.name in mapping
        else f"cast(null as varchar) as {q(c.name)}"
        for c in columns
    )


def drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    """Drop what a previous read left behind."""
    for view in ("_incoming", "_placed"):
        con.execute(f"drop view if exists {view}")
    for table in ("_read", "_rejects", "_parse_rejects", "_rej_errors", "_rej_scans"):
        con.execute(f"drop table if exists {table}")


class NotOneRead(Exception):
    """Files that cannot be read together in one statement (headers differ, a file DuckDB cannot
    read): the caller reads them one by one instead, which refuses the bad one exactly as always."""


def read_table_parts(
    con, files: list[LandingFile], load_ids: list[int], columns, fmt, checks=(), **kw
) -> list[Incoming]:
    """The parts of one export in one statement: CSV (plain or .gz) or Parquet, by their names."""
    if all(f.path.name.lower().endswith(".parquet") for f in files):
        kw.pop("null_strings", None)
        return read_parquet_parts(con, files, load_ids, columns, fmt, checks, **kw)
    return read_csv_parts(con, files, load_ids, columns, fmt, checks, **kw)


def read_parquet_parts(
    con: duckdb.DuckDBPyConnection,
    files: list[LandingFile],
    load_ids: list[int],
    columns: tuple[Column, ...],
    fmt: str,
    checks: tuple[Rule, ...] = (),
    extra_select: str = "",
    header_check=None,
    cost: tuple[str, str] | None = None,
    into: str = "",
) -> list[Incoming]:
    """The Parquet parts of one export (one schema) read by one statement straight into `into`,
    each row with its file's lineage and record number (the reader's file_row_number, exact per
    file); `_rejects` holds every file's rejected rows with their load_id. NotOneRead when the
    parts differ in schema, one is unreadable or over a cap: the caller reads them one by one."""
    drop_temp(con)
    footer_rows, schema = [], None
    for f in files:
        try:
            rows, uncompressed = con.execute(
                "select (select sum(num_rows) from parquet_file_metadata($p)), "
                "(select coalesce(sum(total_uncompressed_size), 0) from parquet_metadata($p))",
                {"p": [f.reader_path]},
            ).fetchone()
            described = con.execute("describe select * from read_parquet(?)", [[f.reader_path]]).fetchall()
        except duckdb.Error as exc:
            raise NotOneRead(_first_line_of(exc, f)) from None
        if f.caps and uncompressed > f.caps.max_decompressed_bytes:
            raise NotOneRead(f"{f.rel}: over ingest.max_decompressed_bytes")
        types = [(r[0], r[1]) for r in described]
        if schema is not None and types != schema:
            raise NotOneRead("the parts differ in schema")
        schema = types
        footer_rows.append(rows or 0)
    types = dict(schema)
    mapping = _resolve_columns(list(types), columns, files[0], fmt, header_check)
    sel = _select_list(columns, mapping, lambda src: _parquet_text(q(src), types.get(src, "")))
    columns_sql, select = _with_lineage(con, into, _parts_lineage("__row"))
    try:
        con.execute(
            f"insert into {into} ({columns_sql}) "
            f"select {select} from (select *{extra_select} from "
            f"(select {sel}, file_row_number + 1 as __row, cast(file_index as bigint) as __file "
            "from read_parquet($paths, file_row_number = true)))",
            {
                "paths": [f.reader_path for f in files],
                "load_ids": load_ids,
                "rels": [f.rel for f in files],
                "shas": [f.sha256 for f in files],
            },
        )
    except duckdb.Error as exc:
        raise NotOneRead(_first_line_of(exc, files[0])) from None
    con.execute(
        "create temp table _parse_rejects (source_row bigint, field varchar, reason varchar, load_id bigint)"
    )
    written = _written(con, into, load_ids)
    return _reject_part_rows(con, into, load_ids, written, checks, cost, "record", footer_rows)


def read_csv_parts(
    con: duckdb.DuckDBPyConnection,
    files: list[LandingFile],
    load_ids: list[int],
    columns: tuple[Column, ...],
    fmt: str,
    checks: tuple[Rule, ...] = (),
    extra_select: str = "",
    header_check=None,
    null_strings: tuple[str, ...] = ("",),
    cost: tuple[str, str] | None = None,
    into: str = "",
) -> list[Incoming]:
    """The parts of one export (CSV files with one header, all plain or all .gz), read by one
    statement straight into `into`: DuckDB reads the files in parallel, within the memory limit.

    Lineage stays per file: each row gets its file's load_id, path and sha256 (by the reader's
    `file_index`), and its physical line in that file (_number_lines, per file); `_rejects` holds
    every file's rejected rows with their load_id. Returns one Incoming per file, in order.
    Raises NotOneRead when the files do not share a header or the read fails: the caller then
    rolls back and reads them one by one. The caller holds the transaction."""
    drop_temp(con)
    kinds = {f.path.name.lower().endswith(".gz") for f in files}
    header = _csv_header(files[0])
    if len(kinds) != 1 or any(_csv_header(f) != header for f in files[1:]):
        raise NotOneRead("the parts differ in header or compression")
    mapping = _resolve_columns(header, columns, files[0], fmt, header_check)
    sel = _select_list(columns, mapping, q)
    options = (
        "header = true, auto_detect = false, columns = $columns, delim = ',', quote = '\"', escape = '\"', "
        "nullstr = $nulls, compression = $compression, max_line_size = $max_line, "
        "store_rejects = true, rejects_table = '_rej_errors', rejects_scan = '_rej_scans'"
    )
    columns_sql, select = _with_lineage(con, into, _parts_lineage("cast(null as bigint)"))
    try:
        with in_file_order(con):
            con.execute(
                f"insert into {into} ({columns_sql}) "
                f"select {select} from (select *{extra_select} from "
                f"(select {sel}, cast(file_index as bigint) as __file from read_csv($paths, {options})))",
                {
                    "paths": [f.reader_path for f in files],
                    "columns": {h: "VARCHAR" for h in header},
                    "nulls": list(null_strings),
                    "compression": "gzip" if kinds == {True} else "none",
                    "max_line": max(reader_max_line_size(f) for f in files),
                    "load_ids": load_ids,
                    "rels": [f.rel for f in files],
                    "shas": [f.sha256 for f in files],
                },
            )
    except duckdb.Error as exc:
        raise NotOneRead(_first_line_of(exc, files[0])) from None
    _parse_rejects(con, len(header), load_ids)
    written = _written(con, into, load_ids)
    for load_id in load_ids:
        _number_lines(con, into, load_id, written.get(load_id, 0), per_file=True)
    return _reject_part_rows(con, into, load_ids, written, checks, cost, "line")


def _written(con, into: str, load_ids: list[int]) -> dict[int, int]:
    return dict(
        con.execute(
            f"select load_id, count(*) from {into} where list_contains($ids, load_id) group by load_id",
            {"ids": load_ids},
        ).fetchall()
    )


def _reject_part_rows(
    con, into: str, load_ids: list[int], written: dict, checks, cost, where: str, footer_rows=None
) -> list[Incoming]:
    """The row checks over the parts just written: failing rows move to `_rejects` (with their
    load_id), beside the lines the parser refused; one Incoming per file, in order."""
    if checks:
        bad_field = "case " + " ".join(f"when {c.invalid} then {lit(c.field)}" for c in checks) + " end"
        bad_reason = "case " + " ".join(f"when {c.invalid} then {c.reason}" for c in checks) + " end"
        any_bad = " or ".join(f"coalesce({c.invalid}, false)" for c in checks)
    else:
        bad_field = bad_reason = "cast(null as varchar)"
        any_bad = "false"
    if cost:
        amount, ccy = cost
        cost_cols = (
            f"try_cast({amount} as decimal(38,10)), "
            f"case when regexp_full_match(upper(trim({ccy})), '[A-Z]{{3}}') then upper(trim({ccy})) end"
        )
    else:
        cost_cols = "cast(null as decimal(38,10)), cast(null as varchar)"
    con.execute(
        f"""
        create temp table _rejects as
        select load_id, source_row, field, reason, cast(null as decimal(38,10)) as cost,
               cast(null as varchar) as currency
        from _parse_rejects
        union all
        select load_id, source_row, {bad_field}, '{where} ' || source_row || ': ' || {bad_reason}, {cost_cols}
        from {into} where list_contains($ids, load_id) and ({any_bad})
        """,
        {"ids": load_ids},
    )
    counts = {
        r[0]: r[1:]
        for r in con.execute(
            "select load_id, count(*), arg_min(reason, source_row) from _rejects group by load_id"
        ).fetchall()
    }
    parse_counts = dict(
        con.execute("select load_id, count(*) from _parse_rejects group by load_id").fetchall()
    )
    out = []
    for i, load_id in enumerate(load_ids):
        rejected, first = counts.get(load_id, (0, None))
        parse_rejected = parse_counts.get(load_id, 0)
        out.append(
            Incoming(
                rows_in_file=written.get(load_id, 0) + parse_rejected,
                rows_rejected=rejected,
                footer_rows=int(footer_rows[i]) if footer_rows else None,
                first_reject=first,
                booked=True,
            )
        )
    if any(i.rows_rejected > parse_counts.get(lid, 0) for i, lid in zip(out, load_ids, strict=True)):
        con.execute(
            f"delete from {into} t where list_contains($ids, t.load_id) and exists "
            "(select 1 from _rejects r where r.load_id = t.load_id and r.source_row = t.source_row)",
            {"ids": load_ids},
        )
    return out
