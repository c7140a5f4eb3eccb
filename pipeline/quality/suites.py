"""GX suites as code: one function per table, each next to what it guards.

A suite function takes the open work-database connection and the settings, pulls bounded
pandas frames from DuckDB (per-file aggregates, distinct-value sets, capped samples) and returns
`Probe`s: the frame plus the GX expectations it must meet. Full-volume invariants stay in SQL
(sql/checks/); here DuckDB does the counting and GX judges the counts, so the gate's cost does not
grow with the number of line items.

Raw tables hold text as read (pipeline/ingest/*); their suites are generated from each source's
input rules (pipeline/ingest/<source>.rules.yml, the same predicates ingest rejects rows with).
Staging, core and marts are the SQL models under sql/staging, sql/core and sql/marts. People
tables (timesheets, HR rates) are probed through aggregates only and validated with
result_format BOOLEAN_ONLY.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.clock import now_utc
from pipeline.ledger import LEAF_STAGE, LEAVES, OUT_OF_SCOPE, STAGES, UNALLOCATED
from pipeline.quality.model import CRITICAL, WARNING, Check, Probe


def _focus_allowed(column: str) -> tuple[str, ...]:
    """FOCUS allowed values of a column, as its input rule declares them (focus.rules.yml)."""
    from pipeline.ingest.rules import rules_for

    return next(r.values for r in rules_for("focus").rules if r.field == column and r.type == "one_of")


# FOCUS 1.0-1.3, columns ChargeCategory and ChargeClass ("Allowed values" tables of the spec).
FOCUS_CHARGE_CATEGORIES = _focus_allowed("ChargeCategory")
FOCUS_CHARGE_CLASSES = _focus_allowed("ChargeClass")  # or null: not a correction of an earlier billing period
MAX_FRAME_ROWS = 200_000  # a mart bigger than this is probed by aggregates only


# --- DuckDB helpers ---------------------------------------------------------------------------


def relation_exists(con, rel: str) -> bool:
    schema, name = rel.split(".", 1)
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def relation_columns(con, rel: str) -> list[str]:
    schema, name = rel.split(".", 1)
    return [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, name],
        ).fetchall()
    ]


def frame(con, sql: str, params=None):
    """Run a query and fetch it fully into pandas (DuckDB relations keep no result)."""
    cur = con.execute(sql, params) if params is not None else con.execute(sql)
    return cur.df()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _present(con, rel: str, cols) -> list[str]:
    have = set(relation_columns(con, rel))
    return [c for c in cols if c in have]


# --- explanations: the offending value class, one line ----------------------------------------


def _more(n: int, what: str) -> str:
    return f" (+{n} more {what})" if n > 0 else ""


def files_with(col: str, what: str, shown: bool = False) -> Callable:
    """Explain a per-file count that should be zero: '<what>: 3 rows in focus/a.csv (+1 more file)';
    `shown`: the frame's `<col>__value` holds an offending value, named too (", e.g. 'RMB'")."""

    def explain(df) -> str:
        bad = df[df[col].fillna(0) != 0].sort_values("source_file")
        if bad.empty:
            return f"{what}"
        first = bad.iloc[0]
        value = first.get(f"{col}__value") if shown else None
        example = f", e.g. '{value}'" if isinstance(value, str) else ""
        return f"{what}: {int(first[col])} rows in {first['source_file']}{example}" + _more(
            len(bad) - 1, "files"
        )

    return explain


def values_not_in(col: str, allowed, what: str, count_col: str = "n") -> Callable:
    """Explain a distinct-value frame: "ChargeCategory 'Refund' is not a FOCUS value (4 rows in a.csv)"."""
    allowed = set(allowed)

    def explain(df) -> str:
        bad = df[df[col].notna() & ~df[col].isin(allowed)]
        if bad.empty:
            return what
        values = sorted({str(v) for v in bad[col]})
        first = bad.sort_values("source_file").iloc[0] if "source_file" in bad else None
        rows = int(bad[count_col].sum()) if count_col in bad else len(bad)
        where = f" in {first['source_file']}" if first is not None else ""
        shown = ", ".join(f"'{v}'" for v in values[:5]) + _more(len(values) - 5, "values")
        return f"{what} {shown} ({rows} rows{where})"

    return explain


def _gxe():
    import great_expectations.expectations as gxe

    return gxe


def _zero(col: str) -> object:
    return _gxe().ExpectColumnValuesToBeBetween(column=col, min_value=0, max_value=0)


def _columns_probe(con, table: str, required: list[str], people: bool = False) -> Probe:
    """Required columns present (a zero-row frame carries the table's columns)."""
    import pandas as pd

    gxe = _gxe()
    cols = relation_columns(con, table)
    missing = [c for c in required if c not in cols]
    check = Check(
        gxe.ExpectTableColumnsToMatchSet(column_set=list(required), exact_match=False),
        CRITICAL,
        lambda _df: f"missing column(s) {', '.join(missing)}",
    )
    return Probe(table, "columns", pd.DataFrame(columns=cols), [check], people=people)


def _per_file_frame(con, table: str, measures: dict[str, str], params, shown, files: list | None):
    """The per-file counts (and first offending values) of `table`, over `files` only when given."""
    sel = ",\n".join(f"count(*) filter (where {cond}) as {_q(name)}" for name, cond in measures.items())
    only = "" if files is None else "where list_contains($__files, source_file)"
    args = dict(params or {})
    if files is not None:
        args["__files"] = files
    sql = f"""
        select source_file, count(*) as rows, count(distinct source_row) as distinct_source_rows,
               {sel}
        from {table}
        {only}
        group by source_file
        order by source_file
    """
    df = frame(con, sql, args or None)
    for name in shown or {}:
        df[name] = None
    wanted = {}
    for name, (col, cond) in (shown or {}).items():
        count = name.removesuffix("__value")
        bad = df.loc[df[count].fillna(0) != 0, "source_file"].tolist() if count in df else []
        if bad:
            wanted[name] = (col, cond, bad)
    if wanted:
        found = frame(
            con,
            "select source_file, "
            + ", ".join(
                f"min({_q(col)}) filter (where {cond}) as {_q(name)}"
                for name, (col, cond, _) in wanted.items()
            )
            + f" from {table} where list_contains($files, source_file) group by source_file",
            {**(params or {}), "files": sorted({f for *_, bad in wanted.values() for f in bad})},
        ).set_index("source_file")
        for name in wanted:
            df[name] = df["source_file"].map(found[name]).astype(object)
    return df


def _plain(value):
    """A frame cell as JSON keeps it: numbers as int, missing as None, text as text."""
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _per_file_probe(
    con, table: str, measures: dict[str, str], params=None, people: bool = False, shown=None
) -> Probe:
    """One row per source file: rows, distinct source rows and named counts of bad rows (SQL filters);
    `shown`: {name: (column, condition)}, the first offending value of a column under a condition.

    The offending values are looked up only where a count is above zero (a second, narrow query over
    those files): a healthy table has its conditions evaluated once, not twice.

    A file's row is kept (audit.checked_files) with the loads it was counted over and their rows:
    a file still loaded as it was is not counted again, so a night counts the files it loaded,
    not every line of the table. The frame is the same either way (every row goes through JSON)."""
    import hashlib
    import json

    import pandas as pd

    key = hashlib.sha256(
        repr((table, sorted(measures.items()), sorted((shown or {}).items()), params)).encode()
    )
    key = key.hexdigest()
    cols = ["source_file", "rows", "distinct_source_rows", *measures, *(shown or {})]
    # without the audit table (a suite run on a bare connection) or the load ids, nothing is kept
    keeping = relation_exists(con, "audit.checked_files") and "load_id" in relation_columns(con, table)
    loads: dict = {}
    if keeping:
        loads = dict(
            con.execute(
                f"select source_file, string_agg(coalesce(cast(load_id as varchar), '-') || ':' || n, ',' "
                f"order by load_id) from (select source_file, load_id, count(*) as n from {table} group by all) "
                "group by source_file"
            ).fetchall()
        )
        keeping = None not in loads  # a row without a file: count it all, keep nothing
        if not keeping:
            con.execute("delete from audit.checked_files where raw_table = ?", [table])
    kept = {}
    if keeping:
        kept = {
            f: json.loads(row)
            for f, was, row in con.execute(
                "select source_file, loads, frame_row from audit.checked_files where probe_key = ?", [key]
            ).fetchall()
            if loads.get(f) == was
        }
    new = []
    if not keeping or len(kept) < len(loads):
        todo = sorted(f for f in loads if f not in kept) if kept else None
        got = _per_file_frame(con, table, measures, params, shown, todo)
        new = [
            {c: _plain(v) for c, v in zip(cols, r, strict=True)} for r in got[cols].itertuples(index=False)
        ]
    if keeping:
        con.execute(
            "delete from audit.checked_files where raw_table = ? "
            "and not (probe_key = ? and list_contains(?, source_file))",
            [table, key, sorted(kept)],
        )
        if new:
            now = now_utc()
            con.executemany(
                "insert into audit.checked_files values (?, ?, ?, ?, ?, ?)",
                [
                    [table, key, r["source_file"], loads[r["source_file"]], json.dumps(r, default=str), now]
                    for r in new
                ],
            )
    rows = sorted([*kept.values(), *new], key=lambda r: (r["source_file"] is None, r["source_file"] or ""))
    df = pd.DataFrame(rows, columns=cols)
    for name in cols[1:]:
        df[name] = df[name].astype(object if name in (shown or {}) else "int64")
    return Probe(table, "per_file", df, [], people=people)


def _unique_lines_check() -> Check:
    """(source_file, source_row) unique: a line read twice would be counted twice."""

    def explain(df) -> str:
        bad = df[df["rows"] != df["distinct_source_rows"]].sort_values("source_file")
        first = bad.iloc[0]
        dup = int(first["rows"] - first["distinct_source_rows"])
        return f"{dup} duplicate (source_file, source_row) lines in {first['source_file']}" + _more(
            len(bad) - 1, "files"
        )

    return Check(
        _gxe().ExpectColumnPairValuesToBeEqual(column_A="rows", column_B="distinct_source_rows"),
        CRITICAL,
        explain,
        column="source_row",
    )


# --- raw: one suite per source, generated from its input rules ---------------------------------


def raw_input_rules(source: str) -> Callable:
    """The raw gate of one source (`raw.<table>` of pipeline/ingest/<source>.py): its required
    columns are there, no line is read twice, and per file, zero rows break any of the source's
    input rules (pipeline/ingest/<source>.rules.yml): the very predicates ingest rejects rows
    with, so a count above zero means a row reached raw that ingest should have refused.
    People tables (time logs, pay rates) are probed as per-file counts only, BOOLEAN_ONLY."""

    def suite(con, settings) -> list[Probe]:
        from pipeline.ingest import MODULES
        from pipeline.ingest.rules import rules_for

        mod, rules = MODULES[source], rules_for(source)
        table = mod.RAW_TABLE
        required = [c.name for c in mod.COLUMNS if c.required] + ["source_file", "source_row"]
        probes = [_columns_probe(con, table, required, people=rules.people)]
        have = set(relation_columns(con, table))
        if not set(required) <= have:
            return probes
        # a table built before an optional column existed is judged on the columns it has
        applied = [r for r in rules.rules if set(r.reads) <= have]
        measures = {r.name: r.invalid for r in applied}
        # one offending value per rule and file, shown in the message (never for people data)
        shown = {} if rules.people else {f"{r.name}__value": (r.field, r.invalid) for r in applied}
        checks = [_unique_lines_check()] + [
            Check(_zero(r.name), CRITICAL, files_with(r.name, r.says, shown=not rules.people), column=r.field)
            for r in applied
        ]
        for name, (cond, severity, what, column) in RAW_WARNINGS.get(source, lambda _h: {})(have).items():
            measures[name] = cond
            checks.append(Check(_zero(name), severity, files_with(name, what), column=column))
        per_file = _per_file_probe(con, table, measures, people=rules.people, shown=shown)
        per_file.checks = checks
        probes.append(per_file)
        return probes

    suite.__name__ = f"raw_{source}"
    return suite


def _focus_warnings(have: set[str]) -> dict[str, tuple[str, str, str, str]]:
    """What is odd in a FOCUS row without making it invalid: warned about, never rejected."""
    out = {}
    provider = [c for c in ("ServiceProviderName", "ProviderName") if c in have]
    if provider:
        out["no_provider"] = (
            "coalesce(" + ", ".join(f"nullif(trim({_q(c)}), '')" for c in provider) + ") is null",
            WARNING,
            "no provider name",
            provider[0],
        )
    if {"BillingPeriodStart", "BillingPeriodEnd"} <= have:
        out["charge_outside_billing_period"] = (
            "try_cast(trim(ChargePeriodStart) as timestamptz) < try_cast(trim(BillingPeriodStart) as timestamptz) "
            "or try_cast(trim(ChargePeriodEnd) as timestamptz) > try_cast(trim(BillingPeriodEnd) as timestamptz)",
            WARNING,
            "charge period outside its billing period",
            "ChargePeriodStart",
        )
    return out


# source -> (columns the table has) -> {name: (SQL, severity, what, column)}: gate-only warnings
RAW_WARNINGS: dict[str, Callable] = {"focus": _focus_warnings}


# --- staging -----------------------------------------------------------------------------------


def staging_focus_values(con, settings) -> list[Probe]:
    """staging.stg_focus (sql/staging/stg_focus.sql): charge category and class in the spec's
    spelling, which the rules match on."""
    gxe = _gxe()
    table = "staging.stg_focus"
    df = frame(
        con,
        f"select source_file, charge_category, charge_class, count(*) as n from {table} group by all order by all",
    )
    return [
        Probe(
            table,
            "distinct_values",
            df,
            [
                Check(
                    gxe.ExpectColumnValuesToBeInSet(
                        column="charge_category", value_set=list(FOCUS_CHARGE_CATEGORIES)
                    ),
                    CRITICAL,
                    values_not_in(
                        "charge_category", FOCUS_CHARGE_CATEGORIES, "charge_category not as FOCUS spells it:"
                    ),
                    column="charge_category",
                ),
                Check(
                    gxe.ExpectColumnValuesToNotBeNull(column="charge_category"),
                    CRITICAL,
                    lambda d: (
                        f"{int(d.loc[d['charge_category'].isna(), 'n'].sum())} lines without a charge category"
                    ),
                    column="charge_category",
                ),
                Check(
                    gxe.ExpectColumnValuesToBeInSet(
                        column="charge_class", value_set=list(FOCUS_CHARGE_CLASSES)
                    ),
                    CRITICAL,
                    values_not_in(
                        "charge_class", FOCUS_CHARGE_CLASSES, "charge_class not null or 'Correction':"
                    ),
                    column="charge_class",
                ),
            ],
        )
    ]


# Every charge has a rate to the reporting currency.

STAGING_CHARGES = ("staging.stg_focus", "staging.stg_invoices", "staging.stg_timesheets")


def _fx_first_rates_sql(con) -> str | None:
    """First date each currency has a rate to or from the reporting currency (a rate holds until the next)."""
    if relation_exists(con, "staging.stg_fx_rates"):
        src = "select rate_date, from_currency, to_currency from staging.stg_fx_rates"
    elif relation_exists(con, "raw.fx_rates"):
        src = (
            "select try_cast(trim(rate_date) as date) as rate_date, trim(from_currency) as from_currency, "
            "trim(to_currency) as to_currency from raw.fx_rates"
        )
    else:
        src = "select cast(null as date) as rate_date, '' as from_currency, '' as to_currency where false"
    return f"""
        select currency, min(rate_date) as rate_from from (
            select from_currency as currency, rate_date from ({src}) where to_currency = $ccy
            union all
            select to_currency as currency, rate_date from ({src}) where from_currency = $ccy
        ) group by currency
    """


# Before the first transform the staging views may not exist yet: read the raw text instead.
RAW_CHARGES = {
    "staging.stg_focus": (
        "raw.focus_line_items",
        "BillingCurrency",
        "select trim(BillingCurrency) as billing_currency, "
        "try_cast(trim(ChargePeriodStart) as timestamptz) as charge_period_start, source_file "
        "from raw.focus_line_items",
    ),
    "staging.stg_invoices": (
        "raw.invoice_lines",
        "currency",
        "select trim(currency) as billing_currency, "
        "try_cast(trim(service_period_start) as date) as charge_period_start, source_file "
        "from raw.invoice_lines",
    ),
}


def fx_coverage(con, settings, table: str) -> list[Probe]:
    """Every charge's currency has a rate to the reporting currency in force on its charge date.

    Frame: distinct (currency, charge day) with the first date a rate exists: its size is
    currencies x days, whatever the number of line items.
    """
    gxe = _gxe()
    column = "billing_currency"
    if relation_exists(con, table):
        charges = f"select billing_currency, charge_period_start, source_file from {table}"
    elif table in RAW_CHARGES and relation_exists(con, RAW_CHARGES[table][0]):
        table, column, charges = RAW_CHARGES[table]
    else:
        return []
    ccy = settings.reporting_currency
    df = frame(
        con,
        f"""
        with
        charges as (
            select billing_currency, cast(charge_period_start as date) as charge_date,
                   min(source_file) as source_file, count(*) as n
            from ({charges})
            group by all
        ),
        first_rates as ({_fx_first_rates_sql(con)})
        select c.billing_currency, c.charge_date, c.source_file, c.n,
               case when c.billing_currency = $ccy then date '0001-01-01' else r.rate_from end as rate_from
        from charges c left join first_rates r on r.currency = c.billing_currency
        order by c.billing_currency, c.charge_date
    """,
        {"ccy": ccy},
    )
    with_rate = sorted({ccy, *df.loc[df["rate_from"].notna(), "billing_currency"].dropna()})

    def no_rate(d) -> str:
        bad = d[d["rate_from"].isna()]
        first_ccy = sorted(bad["billing_currency"].astype(str))[0]
        rows = bad[bad["billing_currency"] == first_ccy]
        others = sorted(set(bad["billing_currency"].astype(str)) - {first_ccy})
        more = f"; also {', '.join(repr(o) for o in others)}" if others else ""
        return (
            f"no FX rate to {ccy} for currency '{first_ccy}' ({rows['charge_date'].min():%Y-%m-%d} .. "
            f"{rows['charge_date'].max():%Y-%m-%d}, first in {rows.sort_values('source_file').iloc[0]['source_file']})"
            f"{more}"
        )

    def too_early(d) -> str:
        bad = d[d["rate_from"].notna() & (d["charge_date"] < d["rate_from"])]
        c = sorted(bad["billing_currency"].astype(str))[0]
        rows = bad[bad["billing_currency"] == c]
        return (
            f"no FX rate to {ccy} for currency '{c}' before {rows['rate_from'].iloc[0]:%Y-%m-%d} "
            f"({rows['charge_date'].min():%Y-%m-%d} .. {rows['charge_date'].max():%Y-%m-%d}, "
            f"first in {rows.sort_values('source_file').iloc[0]['source_file']})"
        )

    return [
        Probe(
            table,
            "fx_coverage",
            df,
            [
                Check(
                    gxe.ExpectColumnValuesToBeInSet(column="billing_currency", value_set=with_rate),
                    CRITICAL,
                    no_rate,
                    column=column,
                ),
                Check(
                    gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                        column_A="charge_date",
                        column_B="rate_from",
                        or_equal=True,
                        ignore_row_if="either_value_is_missing",
                    ),
                    CRITICAL,
                    too_early,
                    column=column,
                ),
            ],
        )
    ]


# --- core -------------------------------------------------------------------------------------


def core_allocated_line_items(con, settings) -> list[Probe]:
    """core.allocated_line_items: each leaf under its own stage (the contract's tests check the
    leaf, the model and the money)."""
    gxe = _gxe()
    table = "core.allocated_line_items"
    df = frame(con, f"select leaf, stage, count(*) as n from {table} group by all order by all nulls first")
    # the two buckets are their own stage in the allocated lines
    pairs = [*LEAF_STAGE.items(), (UNALLOCATED, UNALLOCATED), (OUT_OF_SCOPE, OUT_OF_SCOPE)]

    def bad_pairs(d) -> str:
        ok = set(pairs)
        bad = d[
            d["leaf"].notna() & d["stage"].notna() & ~d.apply(lambda r: (r["leaf"], r["stage"]) in ok, axis=1)
        ]
        r = bad.iloc[0]
        return f"leaf '{r['leaf']}' booked under stage '{r['stage']}' ({int(bad['n'].sum())} lines)"

    check = gxe.ExpectColumnPairValuesToBeInSet(
        column_A="leaf", column_B="stage", value_pairs_set=pairs, ignore_row_if="either_value_is_missing"
    )
    return [Probe(table, "distinct_values", df, [Check(check, CRITICAL, bad_pairs, column="stage")])]


# --- marts ------------------------------------------------------------------------------------

_LEAF_COLS = [f"c_{leaf}" for leaf in LEAVES]
_STAGE_LEAVES = {stage: [f"c_{leaf}" for leaf, s in LEAF_STAGE.items() if s == stage] for stage in STAGES}


def marts_monthly_leaf_cost(con, settings) -> list[Probe]:
    """marts.monthly_leaf_cost: every published month shows all nine leaves (zero is fine, missing is not)."""
    table = "marts.monthly_leaf_cost"
    df = frame(
        con,
        f"""
        with
        months as (select distinct month from {table}),
        expected as (select month, unnest($leaves) as leaf from months),
        present as (select distinct month, leaf from {table})
        select e.month, count(*) filter (where p.leaf is null) as missing_leaves,
               string_agg(e.leaf, ', ' order by e.leaf) filter (where p.leaf is null) as which
        from expected e left join present p using (month, leaf)
        group by e.month order by e.month
    """,
        {"leaves": list(LEAVES)},
    )

    def explain(d) -> str:
        bad = d[d["missing_leaves"] > 0]
        r = bad.iloc[0]
        return f"month {r['month']:%Y-%m} has no row for leaf {r['which']}" + _more(len(bad) - 1, "months")

    return [Probe(table, "per_month", df, [Check(_zero("missing_leaves"), CRITICAL, explain, column="leaf")])]


def unallocated_share(con, settings) -> list[Probe]:
    """Unallocated cost above the configured share of in-scope cost: a warning, shown in reports."""
    table = "marts.monthly_cost_rollup"
    limit = settings.unallocated_warning_share
    df = frame(
        con,
        f"""
        select month,
               cast(sum(c_unallocated) / nullif(sum(c_total) + sum(c_unallocated), 0) as double)
                   as unallocated_share
        from {table} group by month order by month
    """,
    )

    def explain(d) -> str:
        bad = d[d["unallocated_share"] > limit]
        r = bad.iloc[0]
        return (
            f"unallocated is {r['unallocated_share']:.1%} of in-scope cost in {r['month']:%Y-%m} "
            f"(threshold {limit:.0%})" + _more(len(bad) - 1, "months")
        )

    return [
        Probe(
            table,
            "unallocated_share",
            df,
            [
                Check(
                    _gxe().ExpectColumnValuesToBeBetween(column="unallocated_share", max_value=limit),
                    WARNING,
                    explain,
                    column="c_unallocated",
                ),
            ],
        )
    ]


# --- generic tests declared in the contracts (sql/<schema>/<table>.yml) -------------------------

_EXAMPLE_COLS = ("source_file", "month", "model_id")


def _example(cols: list[str]) -> str:
    """A SQL expression naming an offending row by the columns a user finds it with."""
    parts = []
    for c in _EXAMPLE_COLS:
        if c in cols:
            expr = f"strftime({c}, '%Y-%m')" if c == "month" else c
            parts.append("'model ' || coalesce(model_id, '-')" if c == "model_id" else expr)
    return f"concat_ws(' ', {', '.join(parts)})" if parts else "''"


def _test_sql(table: str, test, cols: list[str], i: int, params: dict) -> tuple[list[str], Callable]:
    """SQL expressions (offending count first) of one generic test, and its explanation."""
    where = f"({test.where}) and " if test.where else ""
    example = _example(cols)
    col = test.columns[0]
    if test.kind == "not_null":
        bad = f"{where}{col} is null"
        exprs = [
            f"(select count(*) from {table} where {bad})",
            f"(select min({example}) from {table} where {bad})",
        ]

        def explain(d, n=f"t{i}", col=col):
            first = f" (first: {d[n + '_x'].iloc[0]})" if d[n + "_x"].iloc[0] else ""
            return f"{int(d[n].iloc[0])} rows with {col} NULL{first}"

    elif test.kind == "accepted_values":
        params[f"v{i}"] = list(test.values)
        bad = f"{where}{col} is not null and not list_contains($v{i}, {col})"
        exprs = [
            f"(select count(*) from {table} where {bad})",
            f"(select string_agg(distinct $$'$$ || {col} || $$'$$, ', ') from {table} where {bad})",
        ]

        def explain(d, n=f"t{i}", col=col):
            return f"{col} not one of the accepted values: {d[n + '_x'].iloc[0]} ({int(d[n].iloc[0])} rows)"

    elif test.kind == "relationships":
        other, other_col = test.to.rsplit(".", 1)
        bad = f"{where}{col} is not null and {col} not in (select {other_col} from {other})"
        exprs = [
            f"(select count(*) from {table} where {bad})",
            f"(select string_agg(distinct $$'$$ || {col} || $$'$$, ', ') from {table} where {bad})",
        ]

        def explain(d, n=f"t{i}", col=col, to=test.to):
            return f"{col} not found in {to}: {d[n + '_x'].iloc[0]} ({int(d[n].iloc[0])} rows)"

    elif test.kind == "unique":
        key = ", ".join(test.columns)
        dup = f"(select {key} from {table} group by all having count(*) > 1)"
        shown = " || '/' || ".join(f"coalesce(cast({c} as varchar), '-')" for c in test.columns)
        exprs = [f"(select count(*) from {dup})", f"(select min({shown}) from {dup})"]

        def explain(d, n=f"t{i}", key=key):
            return f"{int(d[n].iloc[0])} duplicate keys ({key}), first: {d[n + '_x'].iloc[0]}"

    else:  # sum_equals, to the cent
        total = " + ".join(test.of)
        diff = f"round({col} - ({total}), 2)"
        bad = f"{diff} <> 0"
        exprs = [
            f"(select count(*) from {table} where {bad})",
            f"(select arg_min({diff} || ' for ' || {example}, ({example})) from {table} where {bad})",
        ]

        def explain(d, n=f"t{i}", col=col, total=total):
            return f"{col} vs {total} differs by {d[n + '_x'].iloc[0]}" + _more(int(d[n].iloc[0]) - 1, "rows")

    return exprs, explain


def contract_tests(con, settings, table: str) -> list[Probe]:
    """The generic tests of a table's contract, counted in DuckDB: one row of offending counts."""
    from pipeline.transform.contracts import load_contracts

    contract = load_contracts()[table]
    cols = relation_columns(con, table)
    exprs, checks, params = [], [], {}
    expanded = [
        (t, c) for t in contract.tests for c in (t.columns if t.kind == "not_null" else t.columns[:1])
    ]
    for i, (test, col) in enumerate(expanded):
        one = (
            test
            if test.kind != "not_null"
            else type(test)(test.kind, (col,), test.severity, where=test.where)
        )
        (count, example), explain = _test_sql(table, one, cols, i, params)
        exprs += [f"{count} as t{i}", f"{example} as t{i}_x"]
        checks.append(Check(_zero(f"t{i}"), test.severity, explain, column=col, label=test.kind))
    if not checks:
        return []
    return [Probe(table, "contract", frame(con, "select " + ",\n".join(exprs), params or None), checks)]


def _contract_suites(gate: str) -> tuple:
    from functools import partial

    from pipeline.transform.contracts import load_contracts

    early = ("raw", "staging")
    return tuple(
        (name, partial(contract_tests, table=name))
        for name, c in load_contracts().items()
        if c.tests and (c.schema in early) == (gate == "raw")
    )


# --- what runs at each gate -------------------------------------------------------------------


# (table, suite function); a table that does not exist yet (no file of that source) is skipped.
def _raw_suites():
    from pipeline.ingest import MODULES

    return tuple((mod.RAW_TABLE, raw_input_rules(source)) for source, mod in MODULES.items())


RAW_SUITES = (*_raw_suites(), ("staging.stg_focus", staging_focus_values))
# Tables the marts gate requires: a missing one fails the gate. Generic tests (not null, unique,
# accepted values, relationships, sums) come from the contracts; these are the bespoke ones.
MARTS_SUITES = (
    ("core.allocated_line_items", core_allocated_line_items),
    ("marts.monthly_leaf_cost", marts_monthly_leaf_cost),
    ("marts.monthly_cost_rollup", unallocated_share),
)


def raw_suites() -> tuple:
    """The raw gate: the bespoke raw suites, then the contracts' tests of staging tables."""
    return RAW_SUITES + _contract_suites("raw")


def marts_suites() -> tuple:
    """The marts gate: the contracts' tests of core, marts and audit tables, then the bespoke suites."""
    return _contract_suites("marts") + MARTS_SUITES
