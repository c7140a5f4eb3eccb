"""What the report says, read from the published database (read-only) into a Report (model.py).

`build_report` opens the published file and calls one small builder per section; each builder
runs its query from sql/report/ (pipeline.report.queries). The month's cells (the rollup rows)
are rounded to cents once, so that every displayed table adds up exactly
(pipeline/report/rounding.py); the equation, models, scenarios and CSVs are sums of those cells.
Other figures stay Decimal at full precision and are rounded when rendering.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
from pipeline.report.explain import UnallocatedGroup, shown_costs, unallocated_groups
from pipeline.report.fmt import add_months, cents, month_label, parse_month, ratio_pct
from pipeline.report.i18n import LANGUAGES, leaf_name, stage_name, t
from pipeline.report.model import (
    HISTORY_MONTHS,
    LEAF_SYMBOL,
    MERGED_COLUMN,
    MONEY_COLUMNS,
    TOP_N,
    ZERO,
    BreakdownRow,
    EquationRow,
    ForgottenNote,
    Freshness,
    Mover,
    Quality,
    QualityFailure,
    RejectedNote,
    Report,
    RunNotes,
    TieOutRow,
)
from pipeline.report.planning import planning_sections
from pipeline.report.queries import columns, connect_published, dicts, tables
from pipeline.report.rounding import largest_remainder, month_figures, round_table


@dataclass(frozen=True)
class _Ctx:
    """What every section builder reads: the open published file and the month asked for."""

    con: Any
    tables: frozenset[str]
    month: date
    prev: date
    lang: str
    names: dict[str, str]
    model_cfg: dict[str, Any]

    def rows(self, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return dicts(self.con, query, params)

    def has(self, *tables: str) -> bool:
        return all(t in self.tables for t in tables)

    def model_label(self, model_id: str | None) -> str:
        return _model_label(self.lang, self.names, model_id)


def _dec(x: Any) -> Decimal:
    return ZERO if x is None else Decimal(x)


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
    con = connect_published(settings)
    try:
        ctx = _Ctx(
            con,
            frozenset(tables(con)),
            m,
            add_months(m, -1),
            lang,
            {mc.id: mc.name for mc in settings.models},
            {mc.id: mc for mc in settings.models},
        )
        now = _month_cells(ctx, settings)
        before = _cells(ctx, ctx.prev)
        equation = _equation(ctx, now, before, _budgets(ctx))
        unallocated = _column_sum(now, "c_unallocated")
        out_of_scope = _column_sum(now, "c_out_of_scope")
        run_id, run_started = _latest_run(ctx)
        top_groups, other_groups = _top_unallocated(ctx, unallocated)
        report = Report(
            month=m,
            lang=lang,
            currency=now[0]["currency"] or settings.reporting_currency,
            cost_basis=now[0]["cost_basis"] or settings.cost_basis,
            equation=equation,
            by_model=_by_model(ctx, now, before),
            by_scenario=_by_scenario(ctx, now, before),
            movers=_movers(ctx) if before else (),
            has_previous=bool(before),
            unallocated=unallocated,
            out_of_scope=out_of_scope,
            coverage_pct=_coverage(ctx, equation[-1].amount, unallocated),
            top_unallocated=top_groups,
            unallocated_other=other_groups,
            tie_out=_tie_out(ctx, equation[-1].amount, unallocated, out_of_scope),
            quality=_quality(ctx),
            freshness=_freshness(ctx),
            history=_history(ctx),
            rollup_rows=tuple(now),
            leaf_rows=_leaf_rows(ctx, now),
            run_id=run_id,
            run_started_at=run_started,
            notes=_run_notes(ctx),
            recipients=tuple(recipients) if recipients else tuple(settings.report.recipients),
            from_address=settings.smtp.from_address or settings.report.from_address,
            model_names=ctx.names,
            min_people_per_row=settings.min_people_per_row,
            planning=planning_sections(ctx.con, ctx.tables, lang, m),
        )
    finally:
        con.close()
    return report


# ---------------------------------------------------------------- the month's cells, rounded once


def _cells(ctx: _Ctx, month: date) -> list[dict[str, Any]]:
    """The month's rollup rows with every money column in cents, adding up (rounding.py).

    The month is rounded from the top: C_total to the cent, the stages and merged people time so
    they add up to it, the leaves so they add up to their stage. Then the cells (rows x leaves)
    are rounded so each leaf column adds up to that; a row's stages and C_total are the sums of its
    cells. Unallocated and out of scope: rounded so the rows add up to the month's."""
    if not ctx.has("marts.monthly_cost_rollup"):
        return []
    rows = ctx.rows("rollup_rows", {"month": month})
    if not rows:
        return rows
    total = {c: sum((_dec(r[c]) for r in rows), ZERO) for c in (*MONEY_COLUMNS,)}
    figures = month_figures(total["c_total"], total["c_unallocated"], total["c_out_of_scope"])
    for col, month_total in (
        ("c_unallocated", figures.unallocated),
        ("c_out_of_scope", figures.out_of_scope),
    ):
        for r, shown in zip(rows, largest_remainder([_dec(r[col]) for r in rows], month_total), strict=True):
            r[col] = shown
    stage_leaves = {s: [f"c_{leaf}" for st, leaf, _, _ in LEAF_TABLE if st == s] for s in STAGES}
    parts = [f"c_{s}" for s in STAGES] + [MERGED_COLUMN]
    target = dict(zip(parts, largest_remainder([total[c] for c in parts], total["c_total"]), strict=True))
    for s, leaves in stage_leaves.items():
        target.update(
            zip(leaves, largest_remainder([total[c] for c in leaves], target[f"c_{s}"]), strict=True)
        )
    columns_ = [c for s in STAGES for c in stage_leaves[s]] + [MERGED_COLUMN]
    shown = round_table([[_dec(r[c]) for c in columns_] for r in rows], [target[c] for c in columns_])
    for r, cells in zip(rows, shown, strict=True):
        r.update(zip(columns_, cells, strict=True))
        for s, leaves in stage_leaves.items():
            r[f"c_{s}"] = sum((r[c] for c in leaves), ZERO)
        r["c_total"] = sum((r[c] for c in parts), ZERO)
        r["model_name"] = ctx.model_label(r["model_id"]) if r["model_id"] is not None else ""
    return rows


def _month_cells(ctx: _Ctx, settings) -> list[dict[str, Any]]:
    if not ctx.has("marts.monthly_cost_rollup"):
        raise ReportError(
            f"{settings.published_db}: has no marts.monthly_cost_rollup; run `costledger run` first"
        )
    rows = _cells(ctx, ctx.month)
    if not rows:
        months = [
            r[0]
            for r in ctx.con.execute(
                "select distinct month from marts.monthly_cost_rollup order by month"
            ).fetchall()
        ]
        have = f"{month_label(months[0])} to {month_label(months[-1])}" if months else "none"
        raise ReportError(
            f"no published cost for {month_label(ctx.month)} in {settings.published_db} (months published: {have})"
        )
    return rows


def _column_sum(rows: list[dict[str, Any]], col: str) -> Decimal:
    return sum((r[col] for r in rows), ZERO)


# ---------------------------------------------------------------- one builder per section


def _budgets(ctx: _Ctx) -> dict[tuple[str, str | None], Decimal]:
    """(stage, leaf or None) -> the all-models budget, in cents."""
    if not ctx.has("marts.budget_vs_actual"):
        return {}
    return {
        (r["stage"], r["leaf"]): cents(Decimal(r["budget"]))
        for r in ctx.rows("budgets", {"month": ctx.month})
    }


def _equation(ctx: _Ctx, now, before, budgets) -> tuple[EquationRow, ...]:
    """The cost equation: each stage with its leaves, merged people time, C_total."""

    def row(level: str, key: str, symbol: str, name: str, col: str, budget: Decimal | None) -> EquationRow:
        previous = _column_sum(before, col) if before else None
        return EquationRow(level, key, symbol, name, _column_sum(now, col), budget, previous)

    out: list[EquationRow] = []
    for stage in STAGES:
        out.append(
            row(
                "stage",
                stage,
                STAGE_SYMBOLS[stage],
                stage_name(ctx.lang, stage),
                f"c_{stage}",
                budgets.get((stage, None)),
            )
        )
        out += [
            row("leaf", leaf, symbol, leaf_name(ctx.lang, leaf), f"c_{leaf}", budgets.get((stage, leaf)))
            for st, leaf, symbol, _ in LEAF_TABLE
            if st == stage
        ]
    # People time merged across leaves (docs/privacy.md) is part of C_total but of no stage;
    # the row shows only when there is such time this month or the month before.
    if _column_sum(now, MERGED_COLUMN) or (before and _column_sum(before, MERGED_COLUMN)):
        out.append(
            row(
                "merged",
                PEOPLE_MERGED,
                PEOPLE_MERGED_SYMBOL,
                t(ctx.lang, "people_merged_name"),
                MERGED_COLUMN,
                None,
            )
        )
    out.append(
        row("total", "total", "C_total", t(ctx.lang, "total_name"), "c_total", budgets.get(("total", None)))
    )
    return tuple(out)


def _breakdown(ctx: _Ctx, now, before, key: str, label, detail) -> tuple[BreakdownRow, ...]:
    """C_total per value of `key` (model_id or scenario), from the month's cells."""
    keys = list(dict.fromkeys(r[key] for r in now))
    out = []
    for k in keys:
        mine = [r for r in now if r[key] == k]
        previous = _column_sum([r for r in before if r[key] == k], "c_total") if before else None
        out.append(
            BreakdownRow(
                k,
                label(k),
                detail(k, mine[0]),
                _column_sum(mine, "c_total"),
                previous,
                {s: _column_sum(mine, f"c_{s}") for s in STAGES},
            )
        )
    # Rows that only carry unallocated/out-of-scope buckets have no C_total in either month.
    kept = [b for b in out if b.amount != 0 or b.previous]
    return tuple(sorted(kept, key=lambda b: (-b.amount, b.label)))


def _by_model(ctx: _Ctx, now, before) -> tuple[BreakdownRow, ...]:
    def detail(mid, first) -> str:
        if mid == SEVERAL:
            return ""
        cfg = ctx.model_cfg.get(mid)
        parts = (
            (cfg.scenario if cfg else first["scenario"]) or "",
            (cfg.team if cfg else first["team"]) or "",
        )
        return " / ".join(x for x in parts if x)

    return _breakdown(ctx, now, before, "model_id", ctx.model_label, detail)


def _by_scenario(ctx: _Ctx, now, before) -> tuple[BreakdownRow, ...]:
    def label(s) -> str:
        return t(ctx.lang, "several_scenarios") if s == SEVERAL else s or t(ctx.lang, "no_model")

    return _breakdown(ctx, now, before, "scenario", label, lambda s, first: "")


def _movers(ctx: _Ctx) -> tuple[Mover, ...]:
    if not ctx.has("marts.monthly_leaf_cost"):
        return ()
    params = {"m": ctx.month, "p": ctx.prev, "leaves": list(LEAVES), "n": TOP_N, "several": SEVERAL}
    return tuple(
        Mover(
            ctx.model_label(r["model_id"]),
            LEAF_SYMBOL[r["leaf"]],
            leaf_name(ctx.lang, r["leaf"]),
            cents(Decimal(r["amount"])),
            cents(Decimal(r["previous"])),
        )
        for r in ctx.rows("movers", params)
    )


def _coverage(ctx: _Ctx, c_total: Decimal, unallocated: Decimal) -> Decimal | None:
    """Allocated / in-scope cost, in percent."""
    if ctx.has("marts.rule_coverage"):
        cov = ctx.rows("coverage", {"month": ctx.month})[0]
        if cov["n"] == 1 and cov["pct"] is not None:
            return Decimal(cov["pct"])
        if cov["n"] > 1:
            return ratio_pct(_dec(cov["allocated"]), _dec(cov["in_scope"]))
    return ratio_pct(c_total, c_total + unallocated)


def _top_unallocated(ctx: _Ctx, unallocated: Decimal) -> tuple[tuple[UnallocatedGroup, ...], Decimal | None]:
    """The same groups as `costledger explain` (only columns that describe the charge), and what the
    other groups hold; in cents that add up to the month's unallocated."""
    if not ctx.has("marts.cost_line_items"):
        return (), None
    groups = [g for g in unallocated_groups(ctx.con, ctx.month, TOP_N) if g.cost > 0]
    if not groups:
        return (), None
    shown = shown_costs(groups, unallocated)
    return tuple(replace(g, cost=c) for g, c in zip(groups, shown, strict=False)), shown[-1]


def _tie_out(
    ctx: _Ctx, c_total: Decimal, unallocated: Decimal, out_of_scope: Decimal
) -> tuple[TieOutRow, ...]:
    """Per source: read = C_total + unallocated + out of scope. The TOTAL row is the month's figures
    (rounding.month_figures: its read is the exact total rounded half up, the same figure
    `costledger explain` shows); the cells are rounded as one table (rounding.round_table), so each
    column adds up to the TOTAL row and each row's read, its displayed parts plus the (rounded)
    difference if any, stays within a cent of the source's exact read where the columns allow."""
    if not ctx.has("audit.reconciliation", "marts.cost_line_items"):
        return ()
    rows = ctx.rows("tie_out", {"month": ctx.month})
    if not rows:
        return ()
    cols = {"c_total": c_total, "unallocated": unallocated, "out_of_scope": out_of_scope}
    cells = [[_dec(r[c]) for c in cols] for r in rows]
    try:
        table = round_table(cells, list(cols.values()))
    except ValueError:  # the line items do not sum to the rollup's month: still add up, a column at a time
        by_col = [
            largest_remainder([row[j] for row in cells], total) for j, total in enumerate(cols.values())
        ]
        table = [[by_col[j][i] for j in range(len(cols))] for i in range(len(rows))]
    out = []
    for i, r in enumerate(rows):
        parts = table[i]
        diff = cents(_dec(r["difference"]))
        out.append(TieOutRow(r["source_system"], sum(parts, ZERO) + diff, *parts, diff))
    out.append(
        TieOutRow(
            t(ctx.lang, "csv_total"),
            sum((o.read for o in out), ZERO),
            c_total,
            unallocated,
            out_of_scope,
            sum((o.difference for o in out), ZERO),
        )
    )
    return tuple(out)


def _freshness(ctx: _Ctx) -> tuple[Freshness, ...]:
    if not ctx.has("marts.data_freshness"):
        return ()
    return tuple(
        Freshness(
            r["source_system"] or "", r["provider"] or "", r["latest_charge_date"], r["latest_loaded_at"]
        )
        for r in ctx.rows("freshness")
    )


def _history(ctx: _Ctx) -> tuple[tuple[date, dict[str, Decimal]], ...]:
    """Cost per stage for the last HISTORY_MONTHS months (the chart); months without cost are zero."""
    first = add_months(ctx.month, -(HISTORY_MONTHS - 1))
    rows = {r["month"]: r for r in ctx.rows("history", {"first": first, "last": ctx.month})}
    months = [add_months(first, i) for i in range(HISTORY_MONTHS)]
    return tuple(
        (mo, {s: _dec(rows.get(mo, {}).get(f"c_{s}")) for s in (*STAGES, PEOPLE_MERGED)}) for mo in months
    )


def _leaf_rows(ctx: _Ctx, cells) -> tuple[dict[str, Any], ...]:
    """The leaves CSV: each row's cost is its (rounded) cell of the rollup, so the CSV adds up to the
    same figures; rows sharing a cell split it by largest remainder."""
    if not ctx.has("marts.monthly_leaf_cost"):
        return ()
    rows = ctx.rows("leaf_rows", {"month": ctx.month})
    cell = {(c["model_id"], c["scenario"], c["team"]): c for c in cells}
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        r["model_name"] = ctx.model_label(r["model_id"]) if r["model_id"] is not None else ""
        r["symbol"] = LEAF_SYMBOL.get(r["leaf"], r["leaf"])
        groups.setdefault((r["model_id"], r["scenario"], r["team"], r["leaf"]), []).append(r)
    for (model_id, scenario, team, leaf), members in groups.items():
        c = cell.get((model_id, scenario, team))
        col = f"c_{leaf}"
        total = c[col] if c is not None and col in c else None
        for r, shown in zip(
            members, largest_remainder([_dec(r["cost"]) for r in members], total), strict=True
        ):
            r["cost"] = shown
    return tuple(rows)


def _latest_run(ctx: _Ctx) -> tuple[str | None, datetime | None]:
    """The run that published this file is the latest in its own copy of audit.runs ('publishing')."""
    if not ctx.has("audit.runs"):
        return None, None
    runs = ctx.rows("latest_run")
    return (str(runs[0]["run_id"]), runs[0]["started_at"]) if runs else (None, None)


def _model_label(lang: str, names: dict[str, str], model_id: str | None) -> str:
    """A model's display name; people time grouped over several models says so."""
    if model_id is None:
        return t(lang, "no_model")
    if model_id == SEVERAL:
        return t(lang, "several_models")
    return names.get(model_id, model_id)


def _run_notes(ctx: _Ctx) -> RunNotes:
    """Rejected rows (with the cost they carried), duplicates, missing and forgotten files that
    bear on the month. Reasons are not shown: the audit tables hold them."""
    m = {"month": ctx.month}
    rejected: list[RejectedNote] = []
    if ctx.has("audit.rejected_rows", "marts.cost_line_items") and "cost" in columns(
        ctx.con, "audit.rejected_rows"
    ):
        per_file: dict[str, dict] = {}
        for r in ctx.rows("notes_rejected", m):
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
    if ctx.has("audit.files") and "duplicate_of" in columns(ctx.con, "audit.files"):
        duplicates = [(r["source_file"], r["duplicate_of"]) for r in ctx.rows("notes_duplicates")]
    if ctx.has("audit.files", "marts.cost_line_items"):
        missing = [r["source_file"] for r in ctx.rows("notes_missing", m)]
    forgotten: list[ForgottenNote] = []
    if ctx.has("audit.forgotten_files"):
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
            for r in ctx.rows("notes_forgotten", m)
        ]
    return RunNotes(tuple(rejected), tuple(duplicates), tuple(missing), tuple(forgotten))


def _quality(ctx: _Ctx) -> Quality:
    if not ctx.has("audit.quality_results"):
        return Quality("not_run", None, None, 0, 0, 0, ())
    rows = ctx.rows("quality_results")
    if not rows:
        return Quality("not_run", None, None, 0, 0, 0, ())
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
    return Quality(status, str(rows[0]["run_id"]), rows[0]["last_at"], len(rows), crit, warn, failures)
