"""Write the validated configuration into the work database's `config` schema, so SQL can
join to it: rules, rule conditions, models and their aliases, vendors, activities, leaves, and
the ISO-4217 currencies (pipeline/config/currencies.py) the input rules check against."""

from __future__ import annotations

import hashlib
import json
from statistics import NormalDist

import duckdb

from pipeline.config.currencies import iso_currencies
from pipeline.config.rules import rule_rows
from pipeline.config.settings import VENDOR_KIND_LEAF, Settings
from pipeline.config.strategies import change_rows, load_strategies
from pipeline.ledger import LEAF_TABLE, LEAVES, PEOPLE_MERGED, SEVERAL

_DDL = """
create or replace table config.settings (key varchar primary key, value varchar);
create or replace table config.leaves (
    leaf varchar primary key, stage varchar, symbol varchar, name varchar, sort_order integer);
create or replace table config.models (
    model_id varchar primary key, name varchar, scenario varchar, team varchar);
create or replace table config.model_aliases (alias varchar primary key, model_id varchar);
create or replace table config.vendors (vendor_id varchar primary key, name varchar, kind varchar, leaf varchar);
create or replace table config.vendor_aliases (alias varchar primary key, vendor_id varchar);
create or replace table config.activities (activity varchar primary key, leaf varchar);
create or replace table config.currencies (code varchar primary key);
create or replace table config.rules (
    rule_id varchar primary key, priority integer, description varchar, out_of_scope boolean,
    n_fields integer, split_by varchar, split_models varchar[], split_metric varchar,
    leaf_kind varchar, leaf_value varchar, model_id_kind varchar, model_id_value varchar,
    scenario_kind varchar, scenario_value varchar, team_kind varchar, team_value varchar);
create or replace table config.rule_conditions (rule_id varchar, field varchar, op varchar, pattern varchar)
"""

# Line columns a rule can look at. Only those the rules do look at make up a line's match key,
# so millions of lines that differ only in, say, their resource id share one key.
KEY_FIELDS = (
    "provider",
    "billing_account_id",
    "sub_account_id",
    "service_name",
    "service_category",
    "sku_id",
    "resource_id",
    "region_id",
    "charge_category",
    "charge_class",
    "vendor",
    "vendor_kind",
    "activity",
    "billing_currency",
    "model_hint",
    "leaf_hint",
    "tags",
)


# The config files a run reads, besides settings from the environment: their text is part of the
# settings fingerprint (and of the incremental scope's, pipeline/transform/scope.py).
CONFIG_FILES = (
    "costledger.yaml",
    "models.yaml",
    "vendors.yaml",
    "activities.yaml",
    "cost_rules.yaml",
    "scenarios.yaml",
)


def rule_fields(rules) -> dict[str, bool]:
    """Which line columns the rules read, in conditions or in values they take from the line."""
    used = dict.fromkeys(KEY_FIELDS, False)
    for r in rules:
        for c in r.conditions:
            if c.field.startswith("tag."):
                used["tags"] = True
            elif c.field == "account":
                used["billing_account_id"] = used["sub_account_id"] = True
            elif c.field in used:
                used[c.field] = True
        for spec in (r.leaf, r.model_id, r.scenario, r.team):
            if spec and spec[0] == "tag":
                used["tags"] = True
            elif spec and spec[0] == "hint":
                used[f"{spec[1]}_hint"] = True
    return used


def config_fingerprint(settings: Settings, *parts: str) -> str:
    """A hash of the config a source's row checks depend on (vendors, activities)."""
    data = {
        "vendors": [v.model_dump() for v in settings.vendors] if "vendors" in parts else None,
        "activities": settings.activities if "activities" in parts else None,
        "profiles": {k: p.model_dump(mode="json") for k, p in sorted(settings.profiles.items())}
        if "profiles" in parts
        else None,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def settings_fingerprint(settings: Settings) -> str:
    """A hash of every config file and setting the config tables (and so the marts) depend on."""
    # the layout of the config tables is part of it: a new costledger version re-syncs them
    parts = [
        _DDL,
        ",".join(KEY_FIELDS),
        "rule_fields",
        ",".join(sorted(iso_currencies())),
        settings.reporting_currency,
        settings.cost_basis,
        str(settings.min_people_per_row),
        json.dumps(list(settings.redact_tag_keys)),
        "fx_pivots=" + ",".join(getattr(settings, "fx_pivots", ())),
        SEVERAL,
        PEOPLE_MERGED,
        repr(planning_settings(settings)),
    ]
    for name in CONFIG_FILES:
        path = settings.config_dir / name
        parts.append(path.read_text(encoding="utf-8") if path.exists() else "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def planning_settings(settings: Settings) -> list[list[str]]:
    """The planning thresholds (costledger.yaml `planning:`) as config.settings rows, for the SQL."""
    a, f, g = settings.planning.anomalies, settings.planning.forecast, settings.planning.findings
    return [
        ["finding_gpu_utilisation_below", str(g.gpu_utilisation_below)],
        ["finding_commitment_discount", str(g.commitment_discount)],
        ["finding_commitment_min_monthly", str(g.commitment_min_monthly)],
        ["finding_labeling_rise", str(g.labeling_rise)],
        ["unallocated_warning_share", str(settings.unallocated_warning_share)],
        ["anomaly_z_threshold", str(a.z_threshold)],
        ["anomaly_min_amount", str(a.min_amount)],
        ["anomaly_min_share", str(a.min_share)],
        ["anomaly_monthly_history", str(a.monthly_history)],
        ["anomaly_min_months", str(a.min_months)],
        ["anomaly_daily_history", str(a.daily_history)],
        ["anomaly_min_days", str(a.min_days)],
        ["forecast_horizon_months", str(f.horizon_months)],
        ["forecast_history_months", str(f.history_months)],
        ["forecast_interval", str(f.interval)],
        # the normal quantile of the interval's coverage (0.8 -> 1.2816), for the SQL
        ["forecast_z", repr(NormalDist().inv_cdf(0.5 + f.interval / 2))],
        ["forecast_backtest_months", str(f.backtest_months)],
        ["forecast_trend_damping", str(f.trend_damping)],
    ]


def sync_config(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Replace the config schema's tables with the current settings (skipped when unchanged)."""
    fingerprint = settings_fingerprint(settings)
    try:
        current = con.execute("select value from config.settings where key = 'fingerprint'").fetchone()
    except (duckdb.CatalogException, duckdb.InvalidInputException):
        current = None
    if current and current[0] == fingerprint:
        return
    for stmt in _DDL.split(";"):
        if stmt.strip():
            con.execute(stmt)
    con.executemany(
        "insert into config.settings values (?, ?)",
        [
            ["reporting_currency", settings.reporting_currency],
            ["cost_basis", settings.cost_basis],
            ["fx_pivots", ",".join(getattr(settings, "fx_pivots", ()))],
            ["min_people_per_row", str(settings.min_people_per_row)],
            ["redact_tag_keys", json.dumps(list(settings.redact_tag_keys))],
            ["several", SEVERAL],
            ["people_merged", PEOPLE_MERGED],
            ["fingerprint", fingerprint],
            *planning_settings(settings),
            *([f"trust:{account}", source] for account, source in sorted(settings.trust.items())),
        ],
    )
    con.execute("insert into config.currencies select unnest(?)", [sorted(iso_currencies())])
    con.executemany(
        "insert into config.leaves values (?, ?, ?, ?, ?)",
        [[leaf, stage, sym, name, i] for i, (stage, leaf, sym, name) in enumerate(LEAF_TABLE)],
    )
    if settings.models:  # a new company's config may declare none yet
        con.executemany(
            "insert into config.models values (?, ?, ?, ?)",
            [[m.id, m.name, m.scenario, m.team] for m in settings.models],
        )
    aliases = [[m.id.lower(), m.id] for m in settings.models]
    aliases += [[a.lower(), m.id] for m in settings.models for a in m.aliases]
    if aliases:
        con.executemany("insert into config.model_aliases values (?, ?)", aliases)
    if settings.vendors:
        con.executemany(
            "insert into config.vendors values (?, ?, ?, ?)",
            [[v.id, v.name or v.id, v.kind, VENDOR_KIND_LEAF[v.kind]] for v in settings.vendors],
        )
        con.executemany(
            "insert into config.vendor_aliases values (?, ?)",
            [[a.lower(), v.id] for v in settings.vendors for a in (v.id, *v.aliases)],
        )
    if settings.activities:
        con.executemany(
            "insert into config.activities values (?, ?)",
            [[a.lower(), leaf] for a, leaf in settings.activities.items()],
        )
    con.execute(
        """
        create or replace table config.strategy_changes (
            strategy_id varchar, strategy_name varchar, change_no integer, kind varchar, leaf varchar,
            model_id varchar, service_like varchar, change double, discount double, coverage double,
            capex decimal(38,10), life_months integer, salvage decimal(38,10), start_month date,
            replaces double, maintenance_per_month decimal(38,10))
        """
    )
    strategies = change_rows(load_strategies(settings.config_dir, settings.model_ids))
    if strategies:
        con.executemany(
            "insert into config.strategy_changes values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            strategies,
        )
    used = rule_fields(settings.rules)
    con.execute(
        f"create or replace table config.rule_fields as select {', '.join(f'{bool(v)} as {k}' for k, v in used.items())}"
    )
    rows, conds = rule_rows(settings.rules)
    cols = [
        "rule_id",
        "priority",
        "description",
        "out_of_scope",
        "n_fields",
        "split_by",
        "split_models",
        "split_metric",
        "leaf_kind",
        "leaf_value",
        "model_id_kind",
        "model_id_value",
        "scenario_kind",
        "scenario_value",
        "team_kind",
        "team_value",
    ]
    if rows:
        con.executemany(
            f"insert into config.rules ({', '.join(cols)}) values ({', '.join('?' for _ in cols)})",
            [[r[c] for c in cols] for r in rows],
        )
    if conds:
        con.executemany(
            "insert into config.rule_conditions values (?, ?, ?, ?)",
            [[c["rule_id"], c["field"], c["op"], c["pattern"]] for c in conds],
        )
    assert set(LEAVES) == {r[0] for r in con.execute("select leaf from config.leaves").fetchall()}
