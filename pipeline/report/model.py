"""What a report holds: the month's figures as plain data (pipeline.report.data builds it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pipeline.ledger import LEAF_TABLE, LEAVES, PEOPLE_MERGED, PEOPLE_MERGED_SYMBOL, STAGES
from pipeline.report.explain import UnallocatedGroup
from pipeline.report.fmt import month_label, ratio_pct
from pipeline.report.i18n import t

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
class TieOutRow:
    """One source system's cost read against where it went (the last row: all sources)."""

    source: str
    read: Decimal
    c_total: Decimal
    unallocated: Decimal
    out_of_scope: Decimal
    difference: Decimal


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
    latest_charge_date: date | None  # invoices: the end of the latest service period
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
    top_unallocated: tuple[UnallocatedGroup, ...]
    unallocated_other: Decimal | None  # what the groups not listed hold (None: no groups)
    tie_out: tuple[TieOutRow, ...]
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

    @property
    def total_with_unallocated(self) -> Decimal:
        """C_total + unallocated: what C_total would be if the rules placed everything in scope."""
        return self.total.amount + self.unallocated

    @property
    def variance_with_unallocated(self) -> Decimal | None:
        budget = self.total.budget
        return None if budget is None else self.total_with_unallocated - budget

    def share(self, amount: Decimal) -> Decimal | None:
        return ratio_pct(amount, self.total.amount)

    def t(self, key: str, **kw: object) -> str:
        return t(self.lang, key, **kw)
