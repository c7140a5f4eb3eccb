"""The runner: the SQL tree is the catalogue, the build order comes from what each model reads."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.config.settings import SQL_DIR
from pipeline.db import SCHEMAS, run_sql_script
from pipeline.transform import run_transform, runner
from pipeline.transform.contracts import ContractError, load_contracts, parse_contract
from tests.sql.test_sql_models import settings

MODEL_FOLDERS = ("staging", "core", "marts", "audit")


def test_every_sql_file_of_a_layer_is_declared_once():
    """A model without a contract would silently never be built: every .sql of a layer folder is
    a model (its contract beside it), a pass of one, or the DDL a contract names as built_by."""
    contracts = load_contracts()
    used = {c.sql_path for c in contracts.values() if c.sql_path}
    used |= {c.yml_path.parent / c.passes.sql for c in contracts.values() if c.passes}
    used |= {SQL_DIR / c.built_by for c in contracts.values() if c.built_by}
    files = {p for folder in MODEL_FOLDERS for p in (SQL_DIR / folder).glob("*.sql")}
    assert files - used == set()
    # folder = schema, file = table
    for name, c in contracts.items():
        assert name == f"{c.yml_path.parent.name}.{c.yml_path.stem}"


def test_build_order_follows_what_the_sql_reads():
    models = {n: c for n, c in load_contracts().items() if c.sql_path}
    order = runner.build_order(models)
    assert sorted(order) == sorted(models)
    deps = runner.dependencies(models)
    for name in order:
        for dep in deps[name]:
            assert order.index(dep) < order.index(name), (name, dep)
    # the chain a line item travels, read from the SQL, not from a list
    assert deps["core.line_items_unioned"] == {
        "staging.stg_focus",
        "staging.stg_aws_cur",
        "staging.stg_gcp_billing",
        "staging.stg_azure_cost",
        "staging.stg_invoices",
        "staging.stg_timesheets",
        "staging.stg_assets",
    }
    assert "core.line_items_unioned" in deps["core.line_items"]
    assert {"core.line_items", "core.rule_matches"} <= deps["core.allocated_line_items"]
    assert "core.people_cost_cells" in deps["core.people_cost_rows"]
    assert {"core.allocated_line_items", "core.people_cost_rows"} <= deps["core.ledger_lines"]
    # the aggregates read the lean ledger; only the published line items join the wide columns back
    assert "core.ledger_lines" in deps["marts.monthly_leaf_cost"]
    assert {"core.line_items", "core.people_cost_rows"} <= deps["marts.cost_line_items"]
    assert not any("marts.cost_line_items" in d for n, d in deps.items())
    # the people-cost merge pass reads the lines too: a dependency of people_cost_cells
    assert "core.people_cost_lines" in deps["core.people_cost_cells"]


def test_references_ignore_comments_and_strings():
    sql = "-- reads core.old_thing\nselect 'marts.not_a_table' as x from core.line_items join config.rules r on true"
    assert runner.references(sql) == {"core.line_items", "config.rules"}


def _model(tmp_path, schema, table, sql, extra=""):
    (tmp_path / schema).mkdir(exist_ok=True)
    (tmp_path / schema / f"{table}.sql").write_text(sql)
    yml = tmp_path / schema / f"{table}.yml"
    yml.write_text(f"description: t\ngrain: one row\nmaterialized: table\n{extra}")
    return yml


def test_a_cycle_is_named(tmp_path):
    _model(tmp_path, "core", "a", "select * from core.b")
    _model(tmp_path, "core", "b", "select * from core.a")
    models = load_contracts(tmp_path)
    with pytest.raises(ValueError, match=r"cycle: core\.(a|b) -> core\.(a|b)"):
        runner.build_order(models)


def test_a_bad_contract_names_file_and_key(tmp_path):
    yml = _model(tmp_path, "marts", "x", "select 1", "published: maybe\n")
    with pytest.raises(ContractError, match=r"x\.yml: 'published' must be true or false"):
        parse_contract(yml)
    yml.write_text("description: t\ngrain: g\nmaterialized: incremental\n")
    with pytest.raises(ContractError, match=r"x\.yml: 'materialized' must be one of"):
        parse_contract(yml)
    (tmp_path / "marts" / "x.sql").unlink()
    yml.write_text("description: t\ngrain: g\nmaterialized: table\n")
    with pytest.raises(ContractError, match=r"needs its SQL file x\.sql"):
        parse_contract(yml)


def test_month_local_inputs_are_for_month_partitions_and_name_relations(tmp_path):
    yml = _model(tmp_path, "core", "x", "select 1 as month", "month_local_inputs: [core.y]\n")
    with pytest.raises(
        ContractError, match=r"x\.yml: 'month_local_inputs' is for month_partitions models only"
    ):
        parse_contract(yml)
    yml.write_text("description: t\ngrain: g\nmaterialized: month_partitions\nmonth_local_inputs: core.y\n")
    with pytest.raises(ContractError, match=r"'month_local_inputs' must be a list of schema\.table names"):
        parse_contract(yml)
    yml.write_text("description: t\ngrain: g\nmaterialized: month_partitions\nmonth_local_inputs: [Core.Y]\n")
    assert parse_contract(yml).month_local_inputs == ("core.y",)


def test_narrowing_replaces_whole_references_only():
    sql = (
        "select 'core.line_items' as t, * from core.line_items l join core.line_items_unioned u using (line_id)\n"
        "-- core.line_items is named in this comment"
    )
    out = runner.narrow(sql, ["core.line_items"], "month in (date '2026-02-01')")
    assert out == (
        "select 'core.line_items' as t, * from (select * from core.line_items where month in (date '2026-02-01')) l "
        "join core.line_items_unioned u using (line_id)\n"
        "-- core.line_items is named in this comment"
    )
    assert runner.narrow_to_months("select 1 from core.allocated_line_items", "month = 1", skip=None) == (
        "select 1 from (select * from core.allocated_line_items where month = 1)"
    )
    assert runner.narrow("select 1", [], "false") == "select 1"
    assert set(runner.partitioned_models()) == {"core.line_items", "core.allocated_line_items"}


def test_a_warehouse_built_under_old_names_and_kinds_is_brought_in_line():
    """Tables built before a rename (core.int_rule_matches) are dropped; a mart that became a view
    replaces the table of the same name."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    for s in SCHEMAS:
        con.execute(f"create schema {s}")
    run_sql_script(con, SQL_DIR / "audit" / "create_audit_tables.sql")
    from pipeline import ingest
    from pipeline.config.tables import sync_config

    ingest.ensure_raw_tables(con)
    sync_config(con, settings())
    con.execute("create table core.int_rule_matches (x int)")
    con.execute("create table marts.cost_line_items (x int)")
    run_transform(con, settings())
    kinds = dict(
        con.execute(
            "select table_schema || '.' || table_name, table_type from information_schema.tables"
        ).fetchall()
    )
    assert "core.int_rule_matches" not in kinds
    assert kinds["marts.cost_line_items"] == "VIEW"
    assert kinds["core.rule_matches"] == "BASE TABLE"
    built = {n for n, c in load_contracts().items() if c.sql_path}
    assert built <= kinds.keys()
