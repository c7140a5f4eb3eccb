"""Why is this cost unallocated? The month's largest unallocated groups, each with a rule to paste.

`costledger explain --month M` prints them; the monthly report shows the same groups
(sql/report/unallocated_groups.sql reads them from the published line items).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import yaml

from pipeline.report.fmt import money, pct, ratio_pct
from pipeline.report.rounding import MonthFigures, largest_remainder, month_figures

TOP_GROUPS = 10
NO_RULE = "no rule matched"
_REGEX_SPECIAL = re.compile(r"([.^$*+?()\[\]{}|\\])")


@dataclass(frozen=True)
class UnallocatedGroup:
    """Unallocated lines of one month that one rule could place."""

    source_system: str
    provider: str | None
    billing_account_id: str | None
    sub_account_id: str | None
    service: str | None
    vendor: str | None
    activity: str | None
    reason: str
    rule_id: str | None  # the rule that matched but could not place them; None: no rule matched
    cost: Decimal
    line_count: int
    resource_count: int
    resources: tuple[str, ...]
    descriptions: tuple[str, ...]
    common_tags: tuple[str, ...]
    unallocated_cost: Decimal
    total_cost: Decimal
    group_count: int  # how many unallocated groups the month has in all
    suggested_leaf: str | None
    suggested_model_id: str | None
    suggested_from: str | None
    out_of_scope_cost: Decimal = Decimal(0)

    @property
    def source(self) -> str:
        """Who charged it: provider, vendor or source system."""
        return self.provider or self.vendor or self.source_system

    @property
    def label(self) -> str:
        """What was charged: service, activity or charge description."""
        return self.service or self.activity or ""

    @property
    def share_of_unallocated(self) -> Decimal | None:
        return ratio_pct(self.cost, self.unallocated_cost)

    @property
    def share_of_total(self) -> Decimal | None:
        return ratio_pct(self.cost, self.total_cost)


def unallocated_groups(con, month: date, n: int = TOP_GROUPS) -> list[UnallocatedGroup]:
    """The `n` largest unallocated groups of `month` in an open published database."""
    from pipeline.report.queries import dicts

    rows = dicts(con, "unallocated_groups", {"month": month, "n": n})
    return [
        UnallocatedGroup(
            source_system=r["source_system"],
            provider=r["provider"],
            billing_account_id=r["billing_account_id"],
            sub_account_id=r["sub_account_id"],
            service=r["service"],
            vendor=r["vendor"],
            activity=r["activity"],
            reason=r["unallocated_reason"] or NO_RULE,
            rule_id=r["rule_id"],
            cost=Decimal(r["cost"]),
            line_count=int(r["line_count"]),
            resource_count=int(r["resource_count"]),
            resources=tuple(sorted(r["resources"] or ())),
            descriptions=tuple(sorted(r["descriptions"] or ())),
            common_tags=tuple(r["common_tags"] or ()),
            unallocated_cost=Decimal(r["unallocated_cost"]),
            total_cost=Decimal(r["total_cost"]),
            group_count=int(r["group_count"]),
            suggested_leaf=r["suggested_leaf"],
            suggested_model_id=r["suggested_model_id"],
            suggested_from=r["suggested_from"],
            out_of_scope_cost=Decimal(r["out_of_scope_cost"]),
        )
        for r in rows
    ]


def figures(groups: list[UnallocatedGroup]) -> MonthFigures:
    """The month's figures in cents (total read, C_total, unallocated, out of scope), as the report
    shows them (rounding.month_figures)."""
    g0 = groups[0]
    return month_figures(
        g0.total_cost - g0.unallocated_cost - g0.out_of_scope_cost, g0.unallocated_cost, g0.out_of_scope_cost
    )


def shown_costs(groups: list[UnallocatedGroup], unallocated: Decimal | None = None) -> list[Decimal]:
    """The groups' costs in cents and, last, what the other groups hold: adding up to the month's
    unallocated as displayed (default: `figures(groups).unallocated`)."""
    if not groups:
        return []
    total = figures(groups).unallocated if unallocated is None else unallocated
    other = groups[0].unallocated_cost - sum((g.cost for g in groups), Decimal(0))
    return largest_remainder([g.cost for g in groups] + [other], total)


def _pattern(value: str) -> str | dict[str, str]:
    """A value as a rule pattern that matches it exactly: a glob, or a regex when it holds * or ?."""
    if "*" in value or "?" in value:
        return {"regex": "^" + _REGEX_SPECIAL.sub(r"\\\1", value) + "$"}
    return value


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "lines"


def rule_for(group: UnallocatedGroup, taken_ids: set[str] | frozenset[str] = frozenset()) -> dict:
    """The cost_rules.yaml rule (as data) that places the group: it matches what the group's lines
    share and sets the suggested leaf and model."""
    match: dict[str, object] = {"source": group.source_system}
    for key, value in (
        ("provider", group.provider),
        ("billing_account", group.billing_account_id),
        ("sub_account", group.sub_account_id),
        ("service", group.service),
        ("vendor", group.vendor),
        ("activity", group.activity),
    ):
        if value is not None:
            match[key] = _pattern(value)
    base = "place-" + _slug(f"{group.source} {group.label}")
    rid, k = base, 2
    while rid in taken_ids:
        rid, k = f"{base}-{k}", k + 1
    rule: dict[str, object] = {
        "id": rid,
        "description": f"{group.source}: {group.label or group.source_system} (written by costledger explain)",
        "match": match,
        "set": {"leaf": group.suggested_leaf or "hardware"},
    }
    if group.suggested_model_id:
        rule["set"]["model_id"] = group.suggested_model_id  # type: ignore[index]
    return rule


def where_to_paste(group: UnallocatedGroup) -> str:
    if group.rule_id is None:
        return "append to the end of `rules:` in cost_rules.yaml (no rule matches these lines today)"
    return (
        f"paste above rule '{group.rule_id}' in cost_rules.yaml (it matches these lines first but "
        f"cannot place them; or fix that rule)"
    )


def snippet(group: UnallocatedGroup, taken_ids: set[str] | frozenset[str] = frozenset()) -> str:
    """The ready-to-paste YAML of `rule_for`, indented as an item of `rules:`."""
    text = yaml.safe_dump([rule_for(group, taken_ids)], sort_keys=False, allow_unicode=True, width=1000)
    lines = [
        f"# leaf and model suggested from where {group.suggested_from or 'the month'}'s allocated cost went: check them"
    ]
    return "\n".join("  " + line for line in [*lines, *text.rstrip().splitlines()])


def _shorten(items: tuple[str, ...], n: int = 3) -> str:
    shown = ", ".join(items[:n])
    return shown + (f", … ({len(items)} in all)" if len(items) > n else "")


def render_explain(
    groups: list[UnallocatedGroup], month_label: str, currency: str, rule_ids: set[str]
) -> str:
    """The text `costledger explain` prints."""
    if not groups:
        return f"{month_label}: nothing is unallocated; every in-scope line was placed by a rule."
    g0 = groups[0]
    month = figures(groups)
    out = [
        f"Unallocated {month_label}: {currency} {money(month.unallocated)} "
        f"({pct(ratio_pct(g0.unallocated_cost, g0.total_cost), signed=False)} of the {currency} "
        f"{money(month.total)} read for the month) in {g0.group_count} group{'s' if g0.group_count != 1 else ''}"
        + (f"; the {len(groups)} largest:" if len(groups) < g0.group_count else ":"),
    ]
    taken = set(rule_ids)
    # the same cents as the report's table of these groups (they add up to the unallocated shown)
    shown = shown_costs(groups)
    for i, g in enumerate(groups, 1):
        rule = rule_for(g, taken)
        taken.add(str(rule["id"]))
        head = " · ".join(x for x in (g.source_system, g.source, g.label) if x)
        out += [
            "",
            f"{i}. {head}",
            f"   {currency} {money(shown[i - 1])} · {pct(g.share_of_unallocated, signed=False)} of unallocated · "
            f"{pct(g.share_of_total, signed=False)} of total · {g.line_count} line{'s' if g.line_count != 1 else ''}",
            f"   why: {g.reason}",
        ]
        accounts = " / ".join(x for x in (g.billing_account_id, g.sub_account_id) if x)
        if accounts:
            out.append(f"   account: {accounts}")
        if g.resources:
            out.append(f"   resources: {_shorten(g.resources)}")
        if g.descriptions:
            out.append(f"   charges: {_shorten(g.descriptions)}")
        if g.common_tags:
            out.append(f"   tags on every line: {_shorten(g.common_tags, 6)} (tag.<key> can match them)")
        out.append(f"   rule: {where_to_paste(g)}:")
        out.append(snippet(g, taken - {str(rule["id"])}))
    return "\n".join(out)


def explain(settings, month: str, n: int = TOP_GROUPS) -> str:
    """`costledger explain`: read the published ledger and say why the month's cost is unallocated."""
    from pipeline.report.errors import ReportError
    from pipeline.report.fmt import month_label, parse_month
    from pipeline.report.queries import connect_published

    m = parse_month(month)
    con = connect_published(settings)
    try:
        months = [
            r[0]
            for r in con.execute("select distinct month from marts.cost_line_items order by 1").fetchall()
        ]
        if m not in months:
            have = f"{month_label(months[0])} to {month_label(months[-1])}" if months else "none"
            raise ReportError(
                f"no published cost for {month_label(m)} in {settings.published_db} (months published: {have})"
            )
        groups = unallocated_groups(con, m, n)
    finally:
        con.close()
    return render_explain(
        groups, month_label(m), settings.reporting_currency, {r.rule_id for r in settings.rules}
    )
