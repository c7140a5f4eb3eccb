"""What-if strategies (config/scenarios.yaml): changes to the cost drivers, projected against
the forecast baseline by sql/marts/scenario_projection.sql (docs/planning.md, "What-if").

Not to be confused with the business scenarios of models.yaml (search_ranking, ...): a
strategy is a way of running the same models, e.g. "move serving to reserved capacity".
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from pipeline.config.settings import _read_yaml, _Strict, _validate
from pipeline.errors import ConfigError
from pipeline.ledger import LEAVES

FILE = "scenarios.yaml"


class Change(_Strict):
    """One change to the drivers. `kind`:
    - percent: `change` (e.g. -0.2) on the cost of the matching leaf / model / service;
    - commitment: a commitment `discount` on the `coverage` share of the matching cost;
    - labeling_volume: the labeled leaf scales with the labeling volume (`change`, e.g. +0.5);
    - owned_hardware: from `start_month`, `replaces` of the model's cloud cost on `leaf` gives
      way to an owned server: `capex` paid up front, depreciated straight-line over
      `life_months` to `salvage`, plus `maintenance_per_month`.
    """

    kind: Literal["percent", "commitment", "labeling_volume", "owned_hardware"]
    leaf: str | None = None
    model: str | None = None
    service: str | None = None  # a glob on the service name (* and ?)
    change: float | None = None
    discount: float | None = Field(None, gt=0, lt=1)
    coverage: float | None = Field(None, gt=0, le=1)
    capex: Decimal | None = Field(None, gt=0)
    life_months: int | None = Field(None, gt=0)
    salvage: Decimal = Decimal(0)
    start_month: str | None = None
    replaces: float = Field(1.0, ge=0, le=1)
    maintenance_per_month: Decimal = Decimal(0)

    @field_validator("leaf")
    @classmethod
    def _leaf(cls, v: str | None) -> str | None:
        if v is not None and v not in LEAVES:
            raise ValueError(f"'{v}' is not one of the nine leaves ({', '.join(LEAVES)})")
        return v

    @field_validator("start_month")
    @classmethod
    def _month(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                date.fromisoformat(f"{v}-01")
            except ValueError:
                raise ValueError(f"'{v}' is not YYYY-MM") from None
        return v

    @model_validator(mode="after")
    def _needs(self) -> Change:
        need = {
            "percent": ("change",),
            "commitment": ("discount", "coverage"),
            "labeling_volume": ("change",),
            "owned_hardware": ("model", "capex", "life_months", "start_month"),
        }[self.kind]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a {self.kind} change needs {', '.join(missing)}")
        if self.kind == "owned_hardware" and self.salvage > self.capex:
            raise ValueError("salvage is more than the capex")
        return self


class Strategy(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    changes: list[Change] = Field(min_length=1)


class StrategiesFile(_Strict):
    version: int = 1
    scenarios: list[Strategy] = []


def load_strategies(config_dir: Path, model_ids: tuple[str, ...]) -> list[Strategy]:
    """config/scenarios.yaml, validated; none when the file is absent (it is optional)."""
    path = config_dir / FILE
    if not path.is_file():
        return []
    parsed: StrategiesFile = _validate(StrategiesFile, _read_yaml(path), path)
    seen: set[str] = set()
    for i, s in enumerate(parsed.scenarios):
        if s.id in seen or s.id == "baseline":
            raise ConfigError(f"{path}: scenarios[{i}].id: '{s.id}' is used twice or reserved")
        seen.add(s.id)
        for j, c in enumerate(s.changes):
            if c.model is not None and c.model not in model_ids:
                raise ConfigError(
                    f"{path}: scenarios[{i}].changes[{j}].model: '{c.model}' is not in models.yaml"
                )
    return parsed.scenarios


def change_rows(strategies: list[Strategy]) -> list[list]:
    """One row of config.strategy_changes per change."""
    rows = []
    for s in strategies:
        for j, c in enumerate(s.changes, start=1):
            rows.append(
                [
                    s.id,
                    s.name,
                    j,
                    c.kind,
                    c.leaf or ("hardware" if c.kind == "owned_hardware" else None),
                    c.model,
                    c.service.replace("*", "%").replace("?", "_") if c.service else None,
                    c.change,
                    c.discount,
                    c.coverage,
                    c.capex,
                    c.life_months,
                    c.salvage,
                    date.fromisoformat(f"{c.start_month}-01") if c.start_month else None,
                    c.replaces,
                    c.maintenance_per_month,
                ]
            )
    return rows
