"""Time trackers' own exports (Tempo, Harvest, Toggl, Clockify, ...) -> unified time entries,
set-based in DuckDB: the file is read once by read_csv (every column text, the profile's
column mapping applied in SQL), checked in SQL, and left as the temp view `_incoming` plus the
temp table `_rejects` -- the shape pipeline/ingest/common.py's read_table_file leaves.

Identity: the employee id, else the e-mail, else the full name (first + last when the tracker
splits it), in the profile's `identity` order; `identity_source` says which. Names and e-mails
stay in these columns (raw only); reject reasons never quote them, nor anyone's hours.
Hours are DECIMAL text: a decimal column as printed, or a duration HH:MM[:SS] converted exactly
(integer seconds -> hours rounded half-up to 10 places).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.db import in_file_order
from pipeline.errors import InputError
from pipeline.ingest.documents.profiles import Locator, NumberSpec, Profile, fit
from pipeline.ingest.documents.textfile import utf8_copy

# The unified time entry (raw.timesheet_entries' columns first, then the tracker's context).
ENTRY_COLUMNS = (
    "employee_id",
    "employee_name",
    "employee_email",
    "role",
    "work_date",
    "hours",
    "activity",
    "model_or_project",
    "exported_at",
    "identity_source",
    "project",
    "task",
    "tags",
    "issue_key",
    "account",
    "client",
    "billable",
    "cost_rate",
    "currency",
    "source_profile",
)
_SOURCE_FIELDS = (
    "employee_id",
    "employee_email",
    "employee_name",
    "first_name",
    "last_name",
    "role",
    "work_date",
    "hours",
    "duration",
    "project",
    "task",
    "tags",
    "description",
    "issue_key",
    "account",
    "client",
    "work_attribute",
    "billable",
    "cost_rate",
    "currency",
    "activity",
    "model_or_project",
)
_TEMP_TABLES = ("_tl_read", "_tl_typed", "_rejects", "_tl_parse_rejects", "_tl_rej_errors", "_tl_rej_scans")
_TEMP_VIEWS = ("_incoming", "_tl_placed")


@dataclass
class TimeRead:
    rows_in_file: int
    rows_rejected: int
    profile: str


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Params:
    """Named parameters for one statement: config values are bound, never formatted into SQL."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def __call__(self, value: object) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"


def _number_sql(col: str, numbers: NumberSpec, p: _Params) -> str:
    """Text as printed -> DECIMAL(38,10) or NULL, under the profile's separators and signs."""
    t = f"trim({col})"
    if "parentheses" in numbers.negative:
        t = f"(case when {t} like '(%)' then '-' || trim(substr({t}, 2, length({t}) - 2)) else {t} end)"
    if "trailing_minus" in numbers.negative:
        t = f"(case when {t} like '%-' and {t} not like '-%' then '-' || trim(substr({t}, 1, length({t}) - 1)) else {t} end)"
    dec = "\\." if numbers.decimal == "." else ","
    if numbers.thousands:
        sep = "\\" + numbers.thousands if numbers.thousands in ".'" else numbers.thousands
        grouped = p(f"^-?[0-9]{{1,3}}({sep}[0-9]{{3}})+({dec}[0-9]+)?$")
        plain = p(f"^-?[0-9]+({dec}[0-9]+)?$")
        ok = f"(regexp_full_match({t}, {plain}) or regexp_full_match({t}, {grouped}))"
        t = f"replace({t}, {p(numbers.thousands)}, '')"
    else:
        ok = f"regexp_full_match({t}, {p(f'^-?[0-9]+({dec}[0-9]+)?$')})"
    if numbers.decimal == ",":
        t = f"replace({t}, ',', '.')"
    return f"(case when {ok} then try_cast({t} as decimal(38,10)) end)"


def _duration_secs_sql(col: str) -> str:
    parts = f"regexp_extract(trim({col}), '^([0-9]+):([0-5][0-9])(:([0-5][0-9]))?$', ['h', 'm', 'x', 's'])"
    return (
        f"(case when regexp_full_match(trim({col}), '[0-9]+:[0-5][0-9](:[0-5][0-9])?') then "
        f"cast({parts}.h as bigint) * 3600 + cast({parts}.m as bigint) * 60 "
        f"+ coalesce(try_cast(nullif({parts}.s, '') as bigint), 0) end)"
    )


def _secs_to_hours_sql(secs: str) -> str:
    # integer arithmetic: DuckDB's DECIMAL division yields DOUBLE
    return (
        f"cast(cast({secs} // 3600 as varchar) || '.' || "
        f"lpad(cast((({secs} % 3600) * 10000000000 + 1800) // 3600 as varchar), 10, '0') as decimal(38,10))"
    )


def _locator_sql(loc: Locator, p: _Params) -> str:
    if loc.from_ == "column":
        return f"nullif(trim({q('s_' + loc.column)}), '')"
    if loc.from_ == "constant":
        return p(loc.value)
    if loc.from_ == "regex":
        return f"nullif(regexp_extract({q('s_' + loc.column)}, {p(loc.pattern)}, 1), '')"
    prefix = p(loc.prefix.casefold())
    return (
        f"(select nullif(trim(substr(trim(t), length({prefix}) + 1)), '') from "
        f"(select unnest(string_split(coalesce({q('s_tags')}, ''), ',')) as t) "
        f"where starts_with(lower(trim(t)), {prefix}) limit 1)"
    )


def drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    for v in _TEMP_VIEWS:
        con.execute(f"drop view if exists {v}")
    for t in _TEMP_TABLES:
        con.execute(f"drop table if exists {t}")


def _header(path: Path, rel: str, delimiter: str) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        try:
            first = next(csv.reader(fh, delimiter=delimiter), None)
        except csv.Error as exc:
            raise InputError(f"{rel}: not a readable CSV file: {exc}") from None
    if not first or not any(c.strip() for c in first):
        raise InputError(f"{rel}: the file is empty (expected a header line)")
    return first


def read_time_export(
    con: duckdb.DuckDBPyConnection, path: Path, rel: str, profile: Profile, workdir: Path | None = None
) -> TimeRead:
    """Read one tracker export under its profile into `_incoming` and `_rejects` (see module doc)."""
    if profile.kind != "timesheet" or profile.file.format != "csv":
        raise InputError(f"{rel}: profile '{profile.id}' does not read time-log CSV exports")
    drop_temp(con)
    src = utf8_copy(path, rel, profile.file.encoding, workdir)
    try:
        return _read(con, src, rel, profile)
    finally:
        if src != path:
            os.unlink(src)


def _read(con: duckdb.DuckDBPyConnection, src: Path, rel: str, profile: Profile) -> TimeRead:
    header = _header(src, rel, profile.file.delimiter)
    tfit = fit(profile, header, rel)
    shown = {f: header[i].strip().lstrip("\ufeff") for f, i in tfit.columns.items()}
    # internal names c0..cN: exports repeat header names (Tempo's "External issue ID")
    cols = {f"c{i}": "VARCHAR" for i in range(len(header))}
    sel = ", ".join(
        f"{q(f'c{tfit.columns[f]}')} as {q('s_' + f)}"
        if f in tfit.columns
        else f"cast(null as varchar) as {q('s_' + f)}"
        for f in _SOURCE_FIELDS
    )
    try:
        with in_file_order(con):
            con.execute(
                f"create temp table _tl_read as select {sel}, row_number() over () as __k from read_csv($files, header = true, auto_detect = false, "
                "columns = $cols, delim = $delim, quote = '\"', escape = '\"', store_rejects = true, "
                "rejects_table = '_tl_rej_errors', rejects_scan = '_tl_rej_scans')",
                {"files": [str(src)], "cols": cols, "delim": profile.file.delimiter},
            )
    except duckdb.Error as exc:
        raise InputError(f"{rel}: not a readable CSV file: {str(exc).splitlines()[0]}") from None
    con.execute(
        """
        create temp table _tl_parse_rejects as
        select line as source_row, 'line' as field,
               'malformed CSV row: ' || string_agg(distinct error_type, '; ') as reason
        from _tl_rej_errors group by line
        """
    )
    # good row k (file order) sits on line 1 + k + (number of refused lines before it)
    con.execute(
        """
        create temp view _tl_placed as
        with
        rej as (select source_row, row_number() over (order by source_row) as j from _tl_parse_rejects),
        rej_before as (select source_row - 1 - j as good_before, max(j) as j from rej group by all),
        good as (select * from _tl_read)
        select good.* exclude (__k), 1 + good.__k + coalesce(rb.j, 0) as __row
        from good asof left join rej_before rb on good.__k > rb.good_before
        """
    )
    _typed(con, profile, shown, tfit.columns)
    parse_rej = con.execute("select count(*) from _tl_parse_rejects").fetchone()[0]
    read = con.execute("select count(*) from _tl_read").fetchone()[0]
    con.execute(
        """
        create temp table _rejects as
        select source_row, field, reason from _tl_parse_rejects
        union all
        select __row, __bad_field, __bad_reason from _tl_typed where __bad_field is not null
        """
    )
    cols_out = ", ".join(q(c) for c in ENTRY_COLUMNS)
    con.execute(
        f"create temp view _incoming as select {cols_out}, cast(__row as bigint) as source_row "
        "from _tl_typed where __bad_field is null order by __row"
    )
    rejected = con.execute("select count(*) from _rejects").fetchone()[0]
    return TimeRead(rows_in_file=read + parse_rej, rows_rejected=rejected, profile=profile.id)


def _typed(con, profile: Profile, shown: dict[str, str], found: dict[str, int]) -> None:
    p = _Params()
    num = profile.numbers
    hours_field = profile.hours_field
    hcol = q("s_" + hours_field)
    if hours_field == "duration":
        secs = _duration_secs_sql(hcol)
        hours = f"(case when {secs} is not null then {_secs_to_hours_sql(secs)} end)"
        not_hours = "is not a duration HH:MM:SS"
    else:
        hours = _number_sql(hcol, num, p)
        not_hours = "is not a number"
    name = (
        "coalesce(nullif(trim(s_employee_name), ''), "
        "nullif(trim(concat_ws(' ', nullif(trim(s_first_name), ''), nullif(trim(s_last_name), ''))), ''))"
    )
    ident = {
        "employee_id": "nullif(trim(s_employee_id), '')",
        "employee_email": "lower(nullif(trim(s_employee_email), ''))",
        "employee_name": name,
    }
    order = [
        f
        for f in profile.identity
        if f in found or (f == "employee_name" and {"first_name", "last_name"} & set(found))
    ]
    identity = "coalesce(" + ", ".join(ident[f] for f in order) + ")" if order else "cast(null as varchar)"
    identity_src = (
        "case " + " ".join(f"when {ident[f]} is not null then {p(f)}" for f in order) + " end"
        if order
        else "cast(null as varchar)"
    )
    act_loc = profile.activity or [
        Locator.model_validate({"from": "column", "column": f}) for f in ("activity",) if f in found
    ]
    mod_loc = profile.model or [
        Locator.model_validate({"from": "column", "column": f}) for f in ("model_or_project",) if f in found
    ]
    activity = (
        "coalesce(" + ", ".join(_locator_sql(x, p) for x in act_loc) + ")"
        if act_loc
        else "cast(null as varchar)"
    )
    activity = (
        f"nullif(trim(regexp_replace(lower(trim({activity})), '[^\\p{{L}}\\p{{N}}]+', '_', 'g'), '_'), '')"
    )
    model = (
        "coalesce(" + ", ".join(_locator_sql(x, p) for x in mod_loc) + ")"
        if mod_loc
        else "cast(null as varchar)"
    )
    dates = p(list(profile.dates))
    max_h = p(str(profile.max_hours_per_entry))
    id_field = p(shown.get(order[0], order[0]) if order else "employee")
    date_field = p(shown["work_date"])
    hours_name = p(shown[hours_field])
    fmts = p(", ".join(profile.dates))
    cost_rate = _number_sql("s_cost_rate", num, p)
    ccy = "upper(nullif(regexp_extract(coalesce(s_currency, ''), '([A-Za-z]{3})\\s*$', 1), ''))"
    con.execute(
        f"""
        create temp table _tl_typed as
        with
        src as (select * from _tl_placed),
        parsed as (
            select
                *,
                {identity} as v_identity,
                {identity_src} as v_identity_source,
                try_strptime(trim(s_work_date), {dates}) as v_work_ts,
                {hours} as v_hours
            from src
        ),
        checked as (
            select
                *,
                case
                    when v_identity is null then {id_field}
                    when nullif(trim(s_work_date), '') is null or v_work_ts is null then {date_field}
                    when v_hours is null or v_hours <= 0 or v_hours > cast({max_h} as decimal(38,10)) then {hours_name}
                end as __bad_field,
                case
                    when v_identity is null then 'no employee id, e-mail or name on the row'
                    when nullif(trim(s_work_date), '') is null then {date_field} || ': missing'
                    when v_work_ts is null then {date_field} || ': ''' || trim(s_work_date) || ''' is not a date in the profile''s format(s) ' || {fmts}
                    when nullif(trim({hcol}), '') is null then {hours_name} || ': missing'
                    when v_hours is null then {hours_name} || ': {not_hours}'
                    when v_hours < 0 then {hours_name} || ': negative; a worklog cannot have negative hours'
                    when v_hours = 0 then {hours_name} || ': zero hours'
                    when v_hours > cast({max_h} as decimal(38,10))
                        then {hours_name} || ': more than ' || {max_h} || ' hours in one entry'
                end as __bad_reason
            from parsed
        )
        select
            __row, __bad_field, __bad_reason,
            v_identity as employee_id,
            {name} as employee_name,
            lower(nullif(trim(s_employee_email), '')) as employee_email,
            nullif(trim(s_role), '') as role,
            strftime(cast(v_work_ts as date), '%Y-%m-%d') as work_date,
            cast(v_hours as varchar) as hours,
            {activity} as activity,
            nullif(trim({model}), '') as model_or_project,
            cast(null as varchar) as exported_at,
            v_identity_source as identity_source,
            nullif(trim(s_project), '') as project,
            nullif(trim(s_task), '') as task,
            nullif(trim(s_tags), '') as tags,
            nullif(trim(s_issue_key), '') as issue_key,
            nullif(trim(s_account), '') as account,
            nullif(trim(s_client), '') as client,
            nullif(trim(s_billable), '') as billable,
            cast({cost_rate} as varchar) as cost_rate,
            {ccy} as currency,
            {p(profile.id)} as source_profile
        from checked
        """,
        p.values,
    )


def unmapped_values(con: duckdb.DuckDBPyConnection, activities, model_keys) -> list[dict]:
    """Activity and model values of `_incoming` with no mapping: (field, value, rows), most rows first.
    `activities` are activities.yaml's keys; `model_keys` the model ids and aliases of models.yaml."""
    rows = con.execute(
        """
        select 'activity' as field, coalesce(activity, '(none)') as value, count(*) as n from _incoming
        where activity is null or activity not in (select lower(unnest($acts)))
        group by all
        union all
        select 'model_or_project', coalesce(model_or_project, '(none)'), count(*) from _incoming
        where model_or_project is null or lower(model_or_project) not in (select lower(unnest($models)))
        group by all
        order by field, n desc, value
        """,
        {"acts": list(activities) or [""], "models": list(model_keys) or [""]},
    ).fetchall()
    return [{"field": f, "value": v, "rows": n} for f, v, n in rows]
