"""The rule `costledger explain` prints is valid cost_rules.yaml that matches exactly its group's
values (the end-to-end paste-and-rerun test is tests/integration/report/test_explain.py)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import yaml

from pipeline.config.rules import compile_rules
from pipeline.config.settings import load_settings
from pipeline.report.explain import UnallocatedGroup, rule_for, snippet, where_to_paste


def _group(**kw) -> UnallocatedGroup:
    base = dict(
        source_system="focus",
        provider="AWS",
        billing_account_id="111122223333",
        sub_account_id=None,
        service="Support (Business) *plan*",
        vendor=None,
        activity=None,
        reason="no rule matched",
        rule_id=None,
        cost=Decimal("12.34"),
        line_count=2,
        resource_count=0,
        resources=(),
        descriptions=(),
        common_tags=(),
        unallocated_cost=Decimal("100"),
        total_cost=Decimal("1000"),
        group_count=3,
        suggested_leaf="software",
        suggested_model_id="reco-llm",
        suggested_from="the same provider",
    )
    base.update(kw)
    return UnallocatedGroup(**base)


def _matches(cond, value: str) -> bool:
    con = duckdb.connect()
    if cond.op == "glob":
        return con.execute("select ? ilike ? escape '\\'", [value, cond.pattern]).fetchone()[0]
    return con.execute("select regexp_matches(?, ?)", [value, cond.pattern]).fetchone()[0]


def test_snippet_compiles_and_matches_exactly_the_groups_values():
    settings = load_settings()
    group = _group()
    text = snippet(group, {r.rule_id for r in settings.rules})
    pasted = yaml.safe_load(text)
    assert text.startswith("  # ") and len(pasted) == 1
    rules = compile_rules({"rules": pasted}, Path("cost_rules.yaml"), settings.models, settings.scenarios)
    conds = {c.field: c for c in rules[0].conditions}
    assert set(conds) == {"source_system", "provider", "billing_account_id", "service_name"}
    # a value holding * or ? is matched literally (a regex), not as a glob
    assert conds["service_name"].op == "regex"
    assert _matches(conds["service_name"], "Support (Business) *plan*")
    assert not _matches(conds["service_name"], "Support (Business) the plan")
    assert _matches(conds["provider"], "AWS") and not _matches(conds["provider"], "AWS China")
    assert (rules[0].leaf, rules[0].model_id) == (("literal", "software"), ("literal", "reco-llm"))


def test_rule_ids_stay_unique_and_a_failing_rule_is_named():
    group = _group(rule_id="vendor-invoices", reason="rule vendor-invoices: model 'x' is not in models.yaml")
    first = rule_for(group)["id"]
    assert rule_for(group, {first})["id"] == f"{first}-2"
    assert "above rule 'vendor-invoices'" in where_to_paste(group)
    assert "end of `rules:`" in where_to_paste(_group())
