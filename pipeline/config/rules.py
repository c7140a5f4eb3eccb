"""Rules as code: config/cost_rules.yaml compiled into two tables that SQL applies.

A rule is validated in full before any data is touched; an error names the file, the rule id
(or its position) and the field.

Compiled form:
  config.rules            one row per rule: priority, what it sets, out_of_scope, split
  config.rule_conditions  one row per (rule, field, pattern); rows of one field are OR-ed,
                          fields of one rule are AND-ed
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.ledger import LEAVES

# match key -> column of the match-key table (core.line_items.match_key, sql/core/line_items.sql)
MATCH_FIELDS = {
    "source": "source_system",
    "provider": "provider",
    "account": "account",  # billing account or sub-account: either may match
    "billing_account": "billing_account_id",
    "sub_account": "sub_account_id",
    "service": "service_name",
    "service_category": "service_category",
    "sku": "sku_id",
    "resource": "resource_id",
    "region": "region_id",
    "charge_category": "charge_category",
    "charge_class": "charge_class",
    "vendor": "vendor",
    "vendor_kind": "vendor_kind",
    "activity": "activity",
    "currency": "billing_currency",
    "model_hint": "model_hint",
}
SET_FIELDS = ("leaf", "model_id", "scenario", "team")
HINTS = ("model", "leaf")
SPLIT_BY = ("even", "cost", "metric")


@dataclass(frozen=True)
class Condition:
    field: str  # a MATCH_FIELDS key's column name, or 'tag.<key>'
    op: str  # 'glob' (compiled to an ILIKE pattern) or 'regex'
    pattern: str


@dataclass(frozen=True)
class Rule:
    rule_id: str
    priority: int
    description: str
    conditions: tuple[Condition, ...]
    out_of_scope: bool
    # each set field: (kind, value) with kind in literal|tag|hint, or None when not set
    leaf: tuple[str, str] | None
    model_id: tuple[str, str] | None
    scenario: tuple[str, str] | None
    team: tuple[str, str] | None
    split_by: str | None
    split_models: tuple[str, ...]
    split_metric: str | None

    def as_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "rule_id": self.rule_id,
            "priority": self.priority,
            "description": self.description,
            "out_of_scope": self.out_of_scope,
            "n_fields": len({c.field for c in self.conditions}),
            "split_by": self.split_by,
            "split_models": list(self.split_models) or None,
            "split_metric": self.split_metric,
        }
        for name in SET_FIELDS:
            spec = getattr(self, name)
            row[f"{name}_kind"] = spec[0] if spec else None
            row[f"{name}_value"] = spec[1] if spec else None
        return row


def glob_to_ilike(pattern: str) -> str:
    """A case-insensitive glob (* ?) as an ILIKE pattern with backslash escapes."""
    out = []
    for ch in pattern:
        if ch in "%_\\":
            out.append("\\" + ch)
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        else:
            out.append(ch)
    return "".join(out)


_regex_engine = None
_regex_lock = threading.Lock()


def regex_problem(pattern: str) -> str | None:
    """What the engine that runs the rules says about a pattern, or None when it takes it.

    Rules are matched in SQL (sql/core/rule_matches.sql: regexp_matches, RE2), and
    RE2 refuses some patterns Python's `re` accepts (lookarounds, backreferences): ask DuckDB,
    with the same function, before any data is touched.
    """
    global _regex_engine
    import duckdb

    with _regex_lock:
        if _regex_engine is None:
            _regex_engine = duckdb.connect()
        try:
            _regex_engine.execute("select regexp_matches('', ?)", [pattern]).fetchall()
        except duckdb.Error as exc:
            return str(exc).splitlines()[0].removeprefix("Invalid Input Error: ")
    return None


def _fail(path: Path, where: str, msg: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {msg}")


def _compile_value(
    path: Path, where: str, name: str, raw: Any, known_models: set[str], scenarios
) -> tuple[str, str]:
    if isinstance(raw, dict):
        if len(raw) != 1 or next(iter(raw)) not in ("tag", "hint"):
            raise _fail(
                path, where, f"set.{name}: {raw!r} must be a literal, {{tag: <key>}} or {{hint: model|leaf}}"
            )
        kind, value = next(iter(raw.items()))
        value = str(value).strip()
        if kind == "hint" and value not in HINTS:
            raise _fail(path, where, f"set.{name}: hint '{value}' is not one of: {', '.join(HINTS)}")
        if not value:
            raise _fail(path, where, f"set.{name}: empty {kind} name")
        return (kind, value)
    if not isinstance(raw, str) or not raw.strip():
        raise _fail(path, where, f"set.{name}: {raw!r} is not a string")
    value = raw.strip()
    if name == "leaf" and value not in LEAVES:
        raise _fail(path, where, f"set.leaf: '{value}' is not a leaf (one of: {', '.join(LEAVES)})")
    if name == "model_id" and value not in known_models:
        raise _fail(path, where, f"set.model_id: '{value}' is not a model in models.yaml")
    if name == "scenario" and value not in scenarios:
        raise _fail(path, where, f"set.scenario: '{value}' is not a known scenario")
    return ("literal", value)


def _compile_conditions(path: Path, where: str, match: Any) -> tuple[Condition, ...]:
    if match is None:
        return ()
    if not isinstance(match, dict):
        raise _fail(path, where, f"match: must be a mapping of field: pattern, got {match!r}")
    conds: list[Condition] = []
    for key, raw in match.items():
        key = str(key)
        if key.startswith("tag."):
            column = key
            if len(key) == 4:
                raise _fail(path, where, "match: 'tag.' needs a tag key, e.g. tag.cl-model")
        elif key in MATCH_FIELDS:
            column = MATCH_FIELDS[key]
        else:
            raise _fail(
                path, where, f"match.{key}: unknown field (one of: {', '.join(MATCH_FIELDS)}, tag.<key>)"
            )
        values = raw if isinstance(raw, list) else [raw]
        if not values:
            raise _fail(path, where, f"match.{key}: empty list")
        for v in values:
            if isinstance(v, dict) and set(v) == {"regex"}:
                problem = regex_problem(str(v["regex"]))
                if problem:
                    raise _fail(
                        path, where, f"match.{key}: bad regex {v['regex']!r}: DuckDB (RE2) says: {problem}"
                    )
                conds.append(Condition(column, "regex", str(v["regex"])))
            elif isinstance(v, (str, int, float)) and not isinstance(v, bool):
                conds.append(Condition(column, "glob", glob_to_ilike(str(v))))
            else:
                raise _fail(path, where, f"match.{key}: {v!r} must be a string pattern or {{regex: ...}}")
    return tuple(conds)


def compile_rules(data: Any, path: Path, models: list, scenarios) -> list[Rule]:
    """Validate and compile the parsed YAML of cost_rules.yaml."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise _fail(path, "rules", "the file must hold a top-level `rules:` list")
    unknown_top = set(data) - {"version", "rules"}
    if unknown_top:
        raise _fail(path, sorted(unknown_top)[0], "unknown top-level key (expected: version, rules)")
    known_models = {m.id for m in models}
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, item in enumerate(data["rules"]):
        where = f"rules[{i}]"
        if not isinstance(item, dict):
            raise _fail(path, where, "each rule must be a mapping")
        rid = str(item.get("id", "")).strip()
        if not rid:
            raise _fail(path, where, "id: every rule needs an id")
        where = f"rule '{rid}'"
        if rid in seen:
            raise _fail(path, where, "id: used by an earlier rule")
        seen.add(rid)
        extra = set(item) - {"id", "description", "match", "set", "out_of_scope", "split"}
        if extra:
            raise _fail(
                path,
                where,
                f"{sorted(extra)[0]}: unknown key (expected: id, description, match, set, out_of_scope, split)",
            )
        conds = _compile_conditions(path, where, item.get("match"))
        oos = item.get("out_of_scope", False)
        if not isinstance(oos, bool):
            raise _fail(path, where, f"out_of_scope: {oos!r} must be true or false")
        sets = item.get("set") or {}
        if not isinstance(sets, dict):
            raise _fail(path, where, f"set: must be a mapping, got {sets!r}")
        for k in sets:
            if k not in SET_FIELDS:
                raise _fail(path, where, f"set.{k}: unknown field (one of: {', '.join(SET_FIELDS)})")
        compiled = {k: _compile_value(path, where, k, v, known_models, scenarios) for k, v in sets.items()}
        split = item.get("split")
        split_by = None
        split_models: tuple[str, ...] = ()
        split_metric = None
        if oos and (sets or split):
            raise _fail(path, where, "out_of_scope: an out-of-scope rule cannot also set or split")
        if not oos and "leaf" not in compiled:
            raise _fail(path, where, "set.leaf: required unless out_of_scope: true")
        if split is not None:
            if not isinstance(split, dict):
                raise _fail(path, where, f"split: must be a mapping, got {split!r}")
            bad = set(split) - {"by", "models", "metric"}
            if bad:
                raise _fail(
                    path, where, f"split.{sorted(bad)[0]}: unknown key (expected: by, models, metric)"
                )
            split_by = split.get("by")
            if split_by not in SPLIT_BY:
                raise _fail(path, where, f"split.by: {split_by!r} is not one of: {', '.join(SPLIT_BY)}")
            sm = split.get("models") or []
            if not isinstance(sm, list):
                raise _fail(path, where, f"split.models: {sm!r} must be a list of model ids")
            for m in sm:
                if m not in known_models:
                    raise _fail(path, where, f"split.models: '{m}' is not a model in models.yaml")
            split_models = tuple(sm)
            if split_by == "metric":
                split_metric = str(split.get("metric") or "").strip()
                if not split_metric:
                    raise _fail(path, where, "split.metric: required when split.by is metric")
            elif split.get("metric"):
                raise _fail(path, where, "split.metric: only used when split.by is metric")
            if "model_id" in compiled:
                raise _fail(
                    path, where, "split: a split rule shares the line across models; drop set.model_id"
                )
        rules.append(
            Rule(
                rule_id=rid,
                priority=i + 1,
                description=str(item.get("description") or ""),
                conditions=conds,
                out_of_scope=oos,
                leaf=compiled.get("leaf"),
                model_id=compiled.get("model_id"),
                scenario=compiled.get("scenario"),
                team=compiled.get("team"),
                split_by=split_by,
                split_models=split_models,
                split_metric=split_metric,
            )
        )
    return rules


def rule_rows(rules) -> tuple[list[dict], list[dict]]:
    """The two config tables as lists of rows."""
    rows = [r.as_row() for r in rules]
    conds = [
        {"rule_id": r.rule_id, "field": c.field, "op": c.op, "pattern": c.pattern}
        for r in rules
        for c in r.conditions
    ]
    return rows, conds
