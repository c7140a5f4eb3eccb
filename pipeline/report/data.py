"""What the report says, read from the published database (read-only) into plain data.

Everything here is Decimal at full precision; rounding happens when rendering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pipeline.ledger import (
    LEAF_TABLE,
    LEAVES,
    PEOPLE_MERGED,
    PEOPLE_MERGED_SYMBOL,
    SEVERAL,
    STAGE_SYMBOLS,
    STAGES,
)
from pipeline.report.errors import ReportError
from pipeline.report.fmt import add_months, month_label, parse_month, ratio_pct
from pipeline.report.i18n import LANGUAGES, leaf_name, stage_name, t
from pipeline.report.planning import PlanningSection, planning_sections

ZERO = Decimal(0)
LEAF_SYMBOL = {leaf: symbol for _, leaf, symbol, _ in LEAF_TABLE} | {PEOPLE_MERGED: PEOPLE_MERGED_SYMBOL}
MERGED_COLUMN = f"c_{PEOPLE_MERGED}"
MONEY_COLUMNS = (
    *(f"c_{leaf}" for leaf in LEAVES),
    *(f"c_{stage}" for stage in STAGES),
    MERGED_COLUMN,
    "c_total",
    "c_unallocated",
    "c_out_of_scope",
)
HISTORY_MONTHS = 6
TOP_N = 5


@dataclass(frozen=True)
class EquationRow:
    level: str  # 'stage' | 'leaf' | 'merged' (people time merged across leaves) | 'total'
    key: str  # leaf, stage or 'total'
    symbol: str
    name: str
    amount: Decimal
    budget: Decimal | None
    previous: Decimal | None

    @property
    def variance(self) -> Decimal | None:
        return None if self.budget is None else self.amount - self.budget

    @property
    def variance_pct(self) -> Decimal | None:
        return ratio_pct(self.variance, self.budget)

    @property
    def mom(self) -> Decimal | None:
        return None if self.previous is None else self.amount - self.previous

    @property
    def mom_pct(self) -> Decimal | None:
        return ratio_pct(self.mom, self.previous)


@dataclass(frozen=True)
class BreakdownRow:
    key: str | None
    label: str
    detail: str  # scenario / team for models, '' for scenarios
    amount: Decimal
    previous: Decimal | None
    stages: dict[str, Decimal]

    @property
    def mom(self) -> Decimal | None:
        return None if self.previous is None else self.amount - self.previous


@dataclass(frozen=True)
class Mover:
    model: str
    symbol: str
    leaf: str
    amount: Decimal
    previous: Decimal

    @property
    def change(self) -> Decimal:
        return self.amount - self.previous


@dataclass(frozen=True)
class UnallocatedService:
    source: str
    service: str
    amount: Decimal
    lines: int


@dataclass(frozen=True)
class QualityFailure:
    severity: str
    table: str
    check: str
    observed: str


@dataclass(frozen=True)
class Quality:
    status: str  # passed | warnings | failed | not_run
    run_id: str | None
    checked_at: datetime | None
    checks: int
    critical_failed: int
    warnings_failed: int
    failures: tuple[QualityFailure, ...]


@dataclass(frozen=True)
class RejectedNote:
    file: str
    rows: int
    cost: tuple[tuple[str, Decimal], ...]  # (currency, amount the rows carried), where it parsed
    rows_without_cost: int


@dataclass(frozen=True)
class ForgottenNote:
    file: str
    rows: int
    cost: Decimal | None
    currency: str | None
    forgotten_at: datetime | None
    forgotten_by: str | None
    reason: str


@dataclass(frozen=True)
class RunNotes:
    """What the reader of the figures should know about the books behind them."""

    rejected: tuple[RejectedNote, ...] = ()
    duplicates: tuple[tuple[str, str], ...] = ()  # (file, the file its content is booked under)
    missing: tuple[str, ...] = ()
    forgotten: tuple[ForgottenNote, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rejected or self.duplicates or self.missing or self.forgotten)


@dataclass(frozen=True)
class Freshness:
    source: str
    provider: str
    latest_charge_date: date | None
    latest_loaded_at: datetime | None


@dataclass(frozen=True)
class Report:
    """One month's report, in one language, for one set of recipients."""

    month: date
    lang: str
    currency: str
    cost_basis: str
    equation: tuple[EquationRow, ...]
    by_model: tuple[BreakdownRow, ...]
    by_scenario: tuple[BreakdownRow, ...]
    movers: tuple[Mover, ...]
    has_previous: bool
    unallocated: Decimal
    out_of_scope: Decimal
    coverage_pct: Decimal | None
    top_unallocated: tuple[UnallocatedService, ...]
    quality: Quality
    freshness: tuple[Freshness, ...]
    history: tuple[tuple[date, dict[str, Decimal]], ...]
    rollup_rows: tuple[dict[str, Any], ...]
    leaf_rows: tuple[dict[str, Any], ...]
    run_id: str | None = None
    run_started_at: datetime | None = None
    notes: RunNotes = RunNotes()
    recipients: tuple[str, ...] = ()
    from_address: str = "costledger@localhost"
    model_names: dict[str, str] = field(default_factory=dict)
    min_people_per_row: int = 3
    planning: tuple[PlanningSection, ...] = ()

    @property
    def month_label(self) -> str:
        return month_label(self.month)

    @property
    def has_people_merged(self) -> bool:
        """People time of some leaf-month was merged across leaves (docs/privacy.md)."""
        return any(r.level == "merged" for r in self.equation)

    @property
    def total(self) -> EquationRow:
        return self.equation[-1]

    def row(self, symbol: str) -> EquationRow:
        return next(r for r in self.equation if r.symbol == symbol)

    def share(self, amount: Decimal) -> Decimal | None:
        return ratio_pct(amount, self.total.amount)

    def t(self, key: str, **kw: object) -> str:
        return t(self.lang, key, **kw)


def _connect_published(settings):
    import duckdb

    path = settings.published_db
    if not path.is_file():
        raise ReportError(
            f"{path}: no published ledger yet; run `costledger run` (or `costledger demo`) first"
        )
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise ReportError(
            f"{path}: cannot open the published ledger read-only: {str(exc).splitlines()[0]}"
        ) from None


def _tables(con) -> set[str]:
    rows = con.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
    return {r[0] for r in rows}


def _dicts(con, sql: str, params: list | dict | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params if params is not None else [])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def _dec(x: Any) -> Decimal:
    return ZERO if x is None else Decimal(x)


def _sum_rollup(con, month: date) -> dict[str, Decimal] | None:
    cols = ", ".join(f"sum({c}) as {c}" for c in MONEY_COLUMNS)
    row = _dicts(
        con, f"select count(*) as n, {cols} from marts.monthly_cost_rollup where month = ?", [month]
    )[0]
    if row["n"] == 0:
        return None
    return {c: _dec(row[c]) for c in MONEY_COLUMNS}


def build_report(
    settings,
    month: str,
    lang: str | None = None,
    recipients: list[str] | tuple[str, ...] | None = None,
) -> Report:
    """Read one month of the published ledger (read-only) into a Report.

    `month` is 'YYYY-MM'. Raises ReportError (one line) when there is no published ledger or
    no cost for that month.
    """
    lang = lang or settings.report.language
    if lang not in LANGUAGES:
        raise ReportError(f"--lang: '{lang}' is not a supported language ({', '.join(LANGUAGES)})")
    m = parse_month(month)
    prev = add_months(m, -1)
    names = {mc.id: mc.name for mc in settings.models}
    model_cfg = {mc.id: mc for mc in settings.models}

    con = _connect_published(settings)
    try:
        tables = _tables(con)
        if "marts.monthly_cost_rollup" not in tables:
            raise ReportError(
                f"{settings.published_db}: has no marts.monthly_cost_rollup; run `costledger run` first"
            )
        cur = _sum_rollup(con, m)
        if cur is None:
            months = [
                r[0]
                for r in con.execute(
                    "select distinct month from marts.monthly_cost_rollup order by month"
                ).fetchall()
            ]
            have = f"{month_label(months[0])} to {month_label(months[-1])}" if months else "none"
            raise ReportError(
                f"no published cost for {month_label(m)} in {settings.published_db} (months published: {have})"
            )
        before = _sum_rollup(con, prev)

        meta = _dicts(
            con,
            "select min(currency) as ccy, min(cost_basis) as basis "
            "from marts.monthly_cost_rollup where month = ?",
            [m],
        )[0]
        currency = meta["ccy"] or settings.reporting_currency
        basis = meta["basis"] or settings.cost_basis

        budgets: dict[tuple[str, str | None], Decimal] = {}
        if "marts.budget_vs_actual" in tables:
            for r in _dicts(
                con,
                "select stage, leaf, sum(budget) as budget, count(budget) as n "
                "from marts.budget_vs_actual where month = ? and model_id is null "
                "group by stage, leaf",
                [m],
            ):
                if r["n"]:
                    budgets[(r["stage"], r["leaf"])] = Decimal(r["budget"])

        def prev_of(col: str) -> Decimal | None:
            return None if before is None else before[col]

        equation: list[EquationRow] = []
        for stage in STAGES:
            equation.append(
                EquationRow(
                    "stage",
                    stage,
                    STAGE_SYMBOLS[stage],
                    stage_name(lang, stage),
                    cur[f"c_{stage}"],
                    budgets.get((stage, None)),
                    prev_of(f"c_{stage}"),
                )
            )
            for st, leaf, symbol, _ in LEAF_TABLE:
                if st == stage:
                    equation.append(
                        EquationRow(
                            "leaf",
                            leaf,
                            symbol,
                            leaf_name(lang, leaf),
                            cur[f"c_{leaf}"],
                            budgets.get((stage, leaf)),
                            prev_of(f"c_{leaf}"),
                        )
                    )
        # People time merged across leaves (docs/privacy.md) is part of C_total but of no stage;
        # the row shows only when there is such time this month or the month before.
        if cur[MERGED_COLUMN] or prev_of(MERGED_COLUMN):
            equation.append(
                EquationRow(
                    "merged",
                    PEOPLE_MERGED,
                    PEOPLE_MERGED_SYMBOL,
                    t(lang, "people_merged_name"),
                    cur[MERGED_COLUMN],
                    None,
                    prev_of(MERGED_COLUMN),
                )
            )
        equation.append(
            EquationRow(
                "total",
                "total",
                "C_total",
                t(lang, "total_name"),
                cur["c_total"],
                budgets.get(("total", None)),
                prev_of("c_total"),
            )
        )

        stage_cols = ", ".join(f"sum(c_{s}) as c_{s}" for s in STAGES)
        by_model_now = _dicts(
            con,
            f"select model_id, min(scenario) as scenario, min(team) as team, "
            f"sum(c_total) as c_total, {stage_cols} from marts.monthly_cost_rollup "
            f"where month = ? group by model_id",
            [m],
        )
        by_model_prev = {
            r["model_id"]: _dec(r["c_total"])
            for r in _dicts(
                con,
                "select model_id, sum(c_total) as c_total from marts.monthly_cost_rollup "
                "where month = ? group by model_id",
                [prev],
            )
        }
        by_model = []
        for r in by_model_now:
            mid = r["model_id"]
            cfg = model_cfg.get(mid)
            label = _model_label(lang, names, mid)
            detail = (
                ""
                if mid == SEVERAL
                else " / ".join(
                    x
                    for x in (
                        (cfg.scenario if cfg else r["scenario"]) or "",
                        (cfg.team if cfg else r["team"]) or "",
                    )
                    if x
                )
            )
            by_model.append(
                BreakdownRow(
                    mid,
                    label,
                    detail,
                    _dec(r["c_total"]),
                    by_model_prev.get(mid, ZERO) if before is not None else None,
                    {s: _dec(r[f"c_{s}"]) for s in STAGES},
                )
            )
        # Rows that only carry unallocated/out-of-scope buckets have no C_total in either month.
        by_model = [b for b in by_model if b.amount != 0 or b.previous]
        by_model.sort(key=lambda b: (-b.amount, b.label))

        by_scen_now = _dicts(
            con,
            f"select scenario, sum(c_total) as c_total, {stage_cols} "
            f"from marts.monthly_cost_rollup where month = ? group by scenario",
            [m],
        )
        by_scen_prev = {
            r["scenario"]: _dec(r["c_total"])
            for r in _dicts(
                con,
                "select scenario, sum(c_total) as c_total from marts.monthly_cost_rollup "
                "where month = ? group by scenario",
                [prev],
            )
        }
        by_scenario = sorted(
            (
                BreakdownRow(
                    r["scenario"],
                    t(lang, "several_scenarios")
                    if r["scenario"] == SEVERAL
                    else r["scenario"] or t(lang, "no_model"),
                    "",
                    _dec(r["c_total"]),
                    by_scen_prev.get(r["scenario"], ZERO) if before is not None else None,
                    {s: _dec(r[f"c_{s}"]) for s in STAGES},
                )
                for r in by_scen_now
            ),
            key=lambda b: (-b.amount, b.label),
        )
        by_scenario = [b for b in by_scenario if b.amount != 0 or b.previous]

        movers: list[Mover] = []
        if before is not None and "marts.monthly_leaf_cost" in tables:
            rows = _dicts(
                con,
                """
                with
                now as (select model_id, leaf, sum(cost) as cost from marts.monthly_leaf_cost
                        where month = $m group by all),
                prev as (select model_id, leaf, sum(cost) as cost from marts.monthly_leaf_cost
                         where month = $p group by all),
                joined as (
                    select coalesce(now.model_id, prev.model_id) as model_id,
                           coalesce(now.leaf, prev.leaf) as leaf,
                           coalesce(now.cost, 0) as amount,
                           coalesce(prev.cost, 0) as previous
                    from now full outer join prev
                      on now.model_id is not distinct from prev.model_id and now.leaf = prev.leaf
                )
                select * from joined
                -- people time grouped over several models is a different group each month: no mover
                where leaf in (select unnest($leaves)) and amount - previous > 0
                  and model_id is distinct from $several
                order by amount - previous desc, model_id nulls last, leaf
                limit $n
            """,
                {"m": m, "p": prev, "leaves": list(LEAVES), "n": TOP_N, "several": SEVERAL},
            )
            movers = [
                Mover(
                    _model_label(lang, names, r["model_id"]),
                    LEAF_SYMBOL[r["leaf"]],
                    leaf_name(lang, r["leaf"]),
                    Decimal(r["amount"]),
                    Decimal(r["previous"]),
                )
                for r in rows
            ]

        unallocated, out_of_scope = cur["c_unallocated"], cur["c_out_of_scope"]
        coverage: Decimal | None = None
        if "marts.rule_coverage" in tables:
            cov = _dicts(
                con,
                "select sum(unallocated_cost) as u, sum(out_of_scope_cost) as o, "
                "sum(in_scope_cost) as i, sum(allocated_cost) as a, count(*) as n, "
                "max(coverage_pct) as pct from marts.rule_coverage where month = ?",
                [m],
            )[0]
            if cov["n"] == 1:
                coverage = None if cov["pct"] is None else Decimal(cov["pct"])
            elif cov["n"] > 1:
                coverage = ratio_pct(_dec(cov["a"]), _dec(cov["i"]))
        if coverage is None:
            coverage = ratio_pct(cur["c_total"], cur["c_total"] + unallocated)

        top_unallocated: list[UnallocatedService] = []
        if "marts.cost_line_items" in tables:
            # Only grouping columns that describe the charge; never employee_key or anything from HR.
            top_unallocated = [
                UnallocatedService(r["src"], r["svc"], Decimal(r["amount"]), int(r["lines"]))
                for r in _dicts(
                    con,
                    """
                select coalesce(provider, vendor, source_system, '') as src,
                       coalesce(service, activity, charge_category, '') as svc,
                       sum(cost) as amount, count(*) as lines
                from marts.cost_line_items
                where month = ? and leaf = 'unallocated'
                group by all
                having sum(cost) > 0
                order by amount desc, src, svc
                limit ?
            """,
                    [m, TOP_N],
                )
            ]

        quality = _quality(con, tables)
        notes = _run_notes(con, tables, m)
        freshness: list[Freshness] = []
        if "marts.data_freshness" in tables:
            freshness = [
                Freshness(
                    r["source_system"] or "",
                    r["provider"] or "",
                    r["latest_charge_date"],
                    r["latest_loaded_at"],
                )
                for r in _dicts(con, "select * from marts.data_freshness order by source_system, provider")
            ]

        first = add_months(m, -(HISTORY_MONTHS - 1))
        hist_rows = {
            r["month"]: r
            for r in _dicts(
                con,
                f"select month, {stage_cols}, sum({MERGED_COLUMN}) as {MERGED_COLUMN} "
                f"from marts.monthly_cost_rollup where month between ? and ? group by month",
                [first, m],
            )
        }
        history = tuple(
            (
                add_months(first, i),
                {
                    s: _dec(hist_rows.get(add_months(first, i), {}).get(f"c_{s}"))
                    for s in (*STAGES, PEOPLE_MERGED)
                },
            )
            for i in range(HISTORY_MONTHS)
        )

        rollup_rows = _dicts(
            con,
            f"""
            select month, model_id, scenario, team, {", ".join(MONEY_COLUMNS)}, currency, cost_basis
            from marts.monthly_cost_rollup where month = ?
            order by c_total desc, model_id nulls last, scenario, team""",
            [m],
        )
        for r in rollup_rows:
            r["model_name"] = _model_label(lang, names, r["model_id"]) if r["model_id"] is not None else ""
        leaf_rows: list[dict[str, Any]] = []
        if "marts.monthly_leaf_cost" in tables:
            leaf_rows = _dicts(
                con,
                """
                select month, leaf, stage, model_id, scenario, team, cost, billed_cost, effective_cost,
                       line_count, currency
                from marts.monthly_leaf_cost where month = ?
                order by stage, leaf, cost desc, model_id nulls last, scenario, team""",
                [m],
            )
            for r in leaf_rows:
                r["model_name"] = (
                    _model_label(lang, names, r["model_id"]) if r["model_id"] is not None else ""
                )
                r["symbol"] = LEAF_SYMBOL.get(r["leaf"], r["leaf"])

        # The run that published this file is the latest in its own copy of audit.runs ('publishing').
        run_id, run_started = None, None
        if "audit.runs" in tables:
            runs = _dicts(con, "select run_id, started_at from audit.runs order by started_at desc limit 1")
            if runs:
                run_id, run_started = str(runs[0]["run_id"]), runs[0]["started_at"]
        planning = planning_sections(con, tables, lang, m)
    finally:
        con.close()

    return Report(
        month=m,
        lang=lang,
        currency=currency,
        cost_basis=basis,
        equation=tuple(equation),
        by_model=tuple(by_model),
        by_scenario=tuple(by_scenario),
        movers=tuple(movers),
        has_previous=before is not None,
        unallocated=unallocated,
        out_of_scope=out_of_scope,
        coverage_pct=coverage,
        top_unallocated=tuple(top_unallocated),
        quality=quality,
        freshness=tuple(freshness),
        history=history,
        rollup_rows=tuple(rollup_rows),
        leaf_rows=tuple(leaf_rows),
        run_id=run_id,
        run_started_at=run_started,
        notes=notes,
        recipients=tuple(recipients) if recipients else tuple(settings.report.recipients),
        from_address=settings.smtp.from_address or settings.report.from_address,
        model_names=names,
        min_people_per_row=settings.min_people_per_row,
        planning=planning,
    )


def _model_label(lang: str, names: dict[str, str], model_id: str | None) -> str:
    """A model's display name; people time grouped over several models says so."""
    if model_id is None:
        return t(lang, "no_model")
    if model_id == SEVERAL:
        return t(lang, "several_models")
    return names.get(model_id, model_id)


def _columns(con, table: str) -> set[str]:
    schema, name = table.split(".")
    return {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()
    }


def _run_notes(con, tables: set[str], month: date) -> RunNotes:
    """Rejected rows (with the cost they carried), duplicates, missing and forgotten files that
    bear on the month. Reasons are not shown: the audit tables hold them."""
    # files that put cost into this month, or none at all (rates, budgets): their notes apply
    relevant = (
        "(source_file in (select source_file from marts.cost_line_items where month = $m) "
        "or source_file not in (select source_file from marts.cost_line_items))"
    )
    rejected: list[RejectedNote] = []
    if "audit.rejected_rows" in tables and "cost" in _columns(con, "audit.rejected_rows"):
        per_file: dict[str, dict] = {}
        for r in _dicts(
            con,
            f"""
            select source_file, currency, count(*) as n, sum(cost) as cost
            from audit.rejected_rows where {relevant}
            group by all order by source_file, currency nulls last
            """,
            {"m": month},
        ):
            note = per_file.setdefault(r["source_file"], {"rows": 0, "cost": [], "none": 0})
            note["rows"] += r["n"]
            if r["currency"] is None or r["cost"] is None:
                note["none"] += r["n"]
            else:
                note["cost"].append((r["currency"], Decimal(r["cost"])))
        rejected = [
            RejectedNote(f, v["rows"], tuple(v["cost"]), v["none"]) for f, v in sorted(per_file.items())
        ]
    duplicates: list[tuple[str, str]] = []
    missing: list[str] = []
    if "audit.files" in tables and "duplicate_of" in _columns(con, "audit.files"):
        duplicates = [
            (r["source_file"], r["duplicate_of"])
            for r in _dicts(
                con,
                "select source_file, duplicate_of from audit.files where status = 'duplicate' order by 1",
            )
        ]
    if "audit.files" in tables:
        missing = [
            r["source_file"]
            for r in _dicts(
                con,
                f"select source_file from audit.files where status = 'missing' and {relevant} order by 1",
                {"m": month},
            )
        ]
    forgotten: list[ForgottenNote] = []
    if "audit.forgotten_files" in tables:
        forgotten = [
            ForgottenNote(
                r["source_file"],
                int(r["rows_removed"] or 0),
                None if r["cost"] is None else Decimal(r["cost"]),
                r["currency"],
                r["forgotten_at"],
                r["forgotten_by"],
                r["reason"] or "",
            )
            for r in _dicts(
                con,
                """
                select * from audit.forgotten_files
                where first_month is null or $m between first_month and last_month
                order by forgotten_at, source_file
                """,
                {"m": month},
            )
        ]
    return RunNotes(tuple(rejected), tuple(duplicates), tuple(missing), tuple(forgotten))


def _quality(con, tables: set[str]) -> Quality:
    if "audit.quality_results" not in tables:
        return Quality("not_run", None, None, 0, 0, 0, ())
    last = _dicts(
        con,
        "select run_id, max(checked_at) as last_at from audit.quality_results "
        "group by run_id order by last_at desc limit 1",
    )
    if not last:
        return Quality("not_run", None, None, 0, 0, 0, ())
    run_id = last[0]["run_id"]
    rows = _dicts(
        con,
        "select severity, table_name, check_name, success, observed "
        "from audit.quality_results where run_id = ? "
        "order by severity, table_name, check_name",
        [run_id],
    )
    failed = [r for r in rows if not r["success"]]
    crit = sum(1 for r in failed if r["severity"] == "critical")
    warn = len(failed) - crit
    status = "failed" if crit else ("warnings" if warn else "passed")
    failures = tuple(
        QualityFailure(
            r["severity"] or "", r["table_name"] or "", r["check_name"] or "", (r["observed"] or "")[:200]
        )
        for r in failed
    )
    return Quality(status, str(run_id), last[0]["last_at"], len(rows), crit, warn, failures)
