"""One definition of valid input: each source's typed column rules, declared once as data in
`pipeline/ingest/<source>.rules.yml` (beside the source's module), and the two things made
from every rule:

- at ingest, the row reject: a row that breaks a rule goes to `audit.rejected_rows` with its
  file, line and a plain reason naming the field (`pipeline/ingest/common.read_table_file`);
- at the raw quality gate, the per-file count of rows in `raw.<table>` that break it, which
  must be zero (`pipeline/quality/suites.py`): a row there that a rule refuses got past ingest.

Both sides run the same SQL predicate (`Rule.invalid`) over the raw text columns, so what
ingest lets through and what the gate accepts cannot drift apart.

Rule types (`type:`), each over a column as read (text; trimmed before it is judged):

    required              not empty
    money, number         a DECIMAL(38,10)
    integer               an integer
    date                  YYYY-MM-DD
    month                 YYYY-MM
    timestamp             ISO 8601 (with or without an offset)
    currency              an ISO-4217 code from the one list (pipeline/config/currencies.py,
                          table config.currencies)
    one_of                `values: [...]`, `ignore_case: true` to compare case-insensitively
    in_config             known in config: `table:` and `column:` of the config schema (compared
                          lower-cased), `file:` names the config file in the reason
    range                 `gt`/`ge` and/or `lt`/`le`; judged only when the value is a number
    not_before            not earlier than `other:` (compared `as:` date or timestamp)
    any_filled            at least one of `of: [...]` is filled
    json_object           a JSON object
    sql                   escape hatch for a rule across columns: `invalid:` (SQL over the
                          columns), `reads:` (the other columns it reads) and `says:` (the
                          reason's words)

Every type but range, not_before, any_filled and sql takes `required:` (default true): an
empty value then breaks the rule ("<field>: missing"); with `required: false` empty passes.
`says:` overrides a rule's words. Reasons quote the offending value, except for the columns a
file lists under `never_quote:` (people data: ids, pay rates; audit.rejected_rows is published).
A file with `people: true` is a people table: the gate probes it by per-file counts only, with
BOOLEAN_ONLY results and no example values.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import yaml

RULES_DIR = Path(__file__).resolve().parent

_VALUE_TYPES = {
    # type: (SQL that is true when the trimmed, non-empty value `{v}` is bad, what it is not)
    "required": ("false", ""),
    "money": ("try_cast({v} as decimal(38,10)) is null", "is not a number"),
    "number": ("try_cast({v} as decimal(38,10)) is null", "is not a number"),
    "integer": ("try_cast({v} as integer) is null", "is not an integer"),
    "date": ("try_cast({v} as date) is null", "is not a date (YYYY-MM-DD)"),
    "month": ("try_cast({v} || '-01' as date) is null", "is not a month (YYYY-MM)"),
    "timestamp": ("try_cast({v} as timestamptz) is null", "is not an ISO 8601 timestamp"),
    "currency": ("{v} not in (select code from config.currencies)", "is not an ISO-4217 currency code"),
    "json_object": (
        "{v} <> '{{}}' and (try_cast({v} as json) is null or json_type(try_cast({v} as json)) <> 'OBJECT')",
        "is not a JSON object",
    ),
}
_OTHER_TYPES = ("one_of", "in_config", "range", "not_before", "any_filled", "sql")
_KEYS = {
    "one_of": {"values", "ignore_case"},
    "in_config": {"table", "column", "file"},
    "range": {"gt", "ge", "lt", "le"},
    "not_before": {"other", "as"},
    "any_filled": {"of"},
    "sql": {"invalid", "reads"},
}
_OPS = {"gt": "<=", "ge": "<", "lt": ">=", "le": ">"}  # bound -> the comparison that breaks it


@dataclass(frozen=True)
class Rule:
    """One rule of one source: the same predicate rejects at ingest and is counted at the gate."""

    field: str
    type: str
    invalid: str  # SQL over the raw text columns: true when a row breaks the rule
    reason: str  # SQL giving the row's reason, without its line ("hours: '0' is outside (0, 24]")
    says: str  # the reason in words without a value, for the gate ("hours: missing or outside (0, 24]")
    name: str  # the rule's count column in the gate's per-file frame
    reads: tuple[str, ...] = ()  # the columns the predicate reads
    values: tuple[str, ...] = ()  # one_of: the allowed values, as declared


@dataclass(frozen=True)
class SourceRules:
    source: str
    path: Path
    people: bool
    rules: tuple[Rule, ...]


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _num(x) -> str:
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise ValueError(f"{x!r} is not a number")
    return repr(x)


def _words(values) -> str:
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


def _interval(spec: dict) -> str:
    lo = next(((k, spec[k]) for k in ("gt", "ge") if k in spec), None)
    hi = next(((k, spec[k]) for k in ("lt", "le") if k in spec), None)
    if lo and hi:
        return f"is outside {'(' if lo[0] == 'gt' else '['}{lo[1]}, {hi[1]}{')' if hi[0] == 'lt' else ']'}"
    if lo:
        return f"is not above {lo[1]}" if lo[0] == "gt" else f"is below {lo[1]}"
    if hi:
        return f"is not below {hi[1]}" if hi[0] == "lt" else f"is above {hi[1]}"
    raise ValueError("a range needs gt, ge, lt or le")


def make_rule(spec: dict, never_quote=(), name: str | None = None) -> Rule:
    """Build a rule from its declaration (one entry of a rules file); ValueError names the key."""
    rule = _make_rule(spec, spec.get("field") in set(never_quote), name)
    reads = [rule.field, *([spec["other"]] if "other" in spec else []), *spec.get("of", ())]
    if rule.type == "sql":
        reads += spec.get("reads", [])
    values = tuple(str(x) for x in spec.get("values", ())) if rule.type == "one_of" else ()
    return replace(rule, reads=tuple(dict.fromkeys(reads)), values=values)


def _make_rule(spec: dict, private: bool, name: str | None) -> Rule:
    field, kind = spec.get("field"), spec.get("type")
    if not isinstance(field, str) or not field:
        raise ValueError("field: missing")
    if kind not in _VALUE_TYPES and kind not in _OTHER_TYPES:
        raise ValueError(f"type: {kind!r} is not one of {', '.join([*_VALUE_TYPES, *_OTHER_TYPES])}")
    allowed = {"field", "type", "says"} | _KEYS.get(kind, set())
    if kind in _VALUE_TYPES or kind in ("one_of", "in_config"):
        allowed.add("required")
    extra = sorted(set(spec) - allowed)
    if extra:
        raise ValueError(f"{extra[0]}: not a key of a {kind} rule (keys: {', '.join(sorted(allowed))})")
    col = q(field)
    v = f"trim({col})"
    empty = f"nullif({v}, '') is null"
    quote = not private and kind != "json_object"
    shown = f"'''' || {col} || ''''"

    if kind == "range":
        conds = [f"try_cast({v} as decimal(38,10)) {_OPS[k]} {_num(spec[k])}" for k in _OPS if k in spec]
        words = spec.get("says") or _interval(spec)
        invalid = f"coalesce({' or '.join(conds)}, false)" if conds else "false"
        shown = f"{v}"  # a number, shown as written
        return _rule(field, kind, invalid, words, quote, shown, None, name)
    if kind == "not_before":
        other, as_type = spec["other"], spec.get("as", "date")
        if as_type not in ("date", "timestamp"):
            raise ValueError(f"as: {as_type!r} is not date or timestamp")
        t = "timestamptz" if as_type == "timestamp" else "date"
        invalid = f"coalesce(try_cast({v} as {t}) < try_cast(trim({q(other)}) as {t}), false)"
        return _rule(field, kind, invalid, spec.get("says") or f"ends before {other}", False, "", None, name)
    if kind == "any_filled":
        of = list(spec["of"])
        invalid = "(" + " and ".join(f"nullif(trim({q(c)}), '') is null" for c in of) + ")"
        words = spec.get("says") or f"one of {'/'.join(of)} must be filled"
        return _rule(field, kind, invalid, words, False, "", None, name)
    if kind == "sql":
        if not spec.get("says"):
            raise ValueError("says: an sql rule needs the words of its reason")
        return _rule(field, kind, f"coalesce({spec['invalid']}, false)", spec["says"], False, "", None, name)

    if kind == "one_of":
        values = [str(x) for x in spec["values"]]
        ci = bool(spec.get("ignore_case", False))
        listed = ", ".join(_lit(x.lower() if ci else x) for x in values)
        bad = f"{'lower(' + v + ')' if ci else v} not in ({listed})"
        words = f"is not {_words(values)}"
    elif kind == "in_config":
        table, column = spec["table"], spec["column"]
        if not table.startswith("config."):
            raise ValueError(f"table: {table!r} is not a table of the config schema")
        bad = f"lower({v}) not in (select {q(column)} from {table})"
        words = f"is not in {spec.get('file', table)}"
    else:
        template, words = _VALUE_TYPES[kind]
        bad = template.format(v=v)
    words = spec.get("says") or words
    if spec.get("required", True):
        invalid = f"({empty} or coalesce({bad}, false))"
    else:
        invalid = f"(not ({empty}) and coalesce({bad}, false))"
    return _rule(
        field, kind, invalid, words, quote, shown, empty if spec.get("required", True) else None, name
    )


def _rule(field, kind, invalid, words, quote, shown, empty, name) -> Rule:
    plain = words.removeprefix("is ")
    bad_reason = (
        f"'{field}: ' || {shown} || ' ' || {_lit(words)}" if quote and shown else _lit(f"{field}: {plain}")
    )
    if kind == "required":
        bad_reason, plain = _lit(f"{field}: missing"), "missing"
    reason = (
        f"case when {empty} then {_lit(field + ': missing')} else {bad_reason} end" if empty else bad_reason
    )
    says = f"{field}: missing or {plain}" if empty and kind != "required" else f"{field}: {plain}"
    return Rule(field, kind, invalid, reason, says, name or f"{field}__{kind}")


def parse_rules(source: str, text: str, path: Path | None = None) -> SourceRules:
    """A rules file's text -> its rules; a bad file raises ValueError naming file, rule and key."""
    where = str(path or f"{source}.rules.yml")
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise ValueError(f"{where}: expected a mapping with a `rules:` list")
    unknown = sorted(set(data) - {"rules", "people", "never_quote"})
    if unknown:
        raise ValueError(f"{where}: {unknown[0]}: not a key of a rules file (rules, people, never_quote)")
    people = bool(data.get("people", False))
    never_quote = data.get("never_quote", [])
    if not isinstance(never_quote, list):
        raise ValueError(f"{where}: never_quote: expected a list of columns")
    rules, names = [], set()
    for i, spec in enumerate(data["rules"]):
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: rules[{i}]: expected a mapping")
        base = f"{spec.get('field')}__{spec.get('type')}"
        name = base if base not in names else f"{base}_{i}"
        names.add(name)
        try:
            rules.append(make_rule(spec, never_quote=never_quote, name=name))
        except (KeyError, ValueError, TypeError) as exc:
            msg = f"{exc.args[0]}: missing" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f"{where}: rules[{i}] ({spec.get('field')}): {msg}") from None
    return SourceRules(source, path or Path(where), people, tuple(rules))


@cache
def rules_for(source: str) -> SourceRules:
    """The rules of a source (`focus`, `invoices`, ...), from pipeline/ingest/<source>.rules.yml."""
    path = RULES_DIR / f"{source}.rules.yml"
    return parse_rules(source, path.read_text(encoding="utf-8"), path)
