"""What a quality gate is made of: checks, probes, outcomes (plain data, no GX import here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CRITICAL = "critical"
WARNING = "warning"


@dataclass
class Check:
    """One GX expectation on a probe's frame.

    `explain(frame)` turns the frame into the one-line offending value class shown to users
    ("no FX rate to CNY for currency 'JPY' (2026-05-03 .. 2026-05-31)"). It is only called when
    the expectation failed, and never sees more than the probe pulled: for people tables the
    probe pulls aggregates only, so no name, e-mail or pay rate can reach a message.
    """

    expectation: Any  # a great_expectations Expectation (built where GX is imported)
    severity: str
    explain: Callable[[Any], str]
    column: str | None = None  # shown as table.column in messages
    label: str | None = None  # the check's name when it is not the expectation's (contract tests)

    @property
    def name(self) -> str:
        return self.label or self.expectation.expectation_type


@dataclass
class Probe:
    """A bounded pandas frame pulled from DuckDB (aggregate, distinct set or sample) and its checks."""

    table: str
    name: str  # what the frame is: per_file, distinct_values, fx_coverage, sample, ...
    frame: Any  # pandas.DataFrame
    checks: list[Check] = field(default_factory=list)
    people: bool = False  # people data: GX runs with result_format BOOLEAN_ONLY


@dataclass
class Outcome:
    """One row of audit.quality_results."""

    stage: str
    table_name: str
    check_name: str
    severity: str
    success: bool
    observed: str
    column: str | None = None

    @property
    def where(self) -> str:
        return f"{self.table_name}.{self.column}" if self.column else self.table_name
