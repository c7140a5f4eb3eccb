"""Each table's contract (sql/<schema>/<table>.yml) agrees with what its SQL builds, and what is
derived from the contracts (publish list, checks' registry, GX suites, fixtures) follows them."""

from __future__ import annotations

import duckdb
import pytest

from pipeline import ingest
from pipeline.config.tables import sync_config
from pipeline.db import SCHEMAS, SQL_DIR, run_sql_script
from pipeline.transform import run_transform
from pipeline.transform.contracts import ContractError, load_contracts, parse_contract, published_tables
from tests.sql.test_sql_models import settings


@pytest.fixture(scope="module")
def built():
    """Every model built on an empty warehouse: the columns and types come from the SQL alone."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    for s in SCHEMAS:
        con.execute(f"create schema {s}")
    run_sql_script(con, SQL_DIR / "audit" / "create_audit_tables.sql")
    ingest.ensure_raw_tables(con)
    sync_config(con, settings())
    run_transform(con, settings())
    yield con
    con.close()


@pytest.mark.parametrize("name", sorted(load_contracts()))
def test_contract_columns_and_types_match_the_sql(built, name):
    contract = load_contracts()[name]
    described = [(r[0], r[1]) for r in built.execute(f"describe {name}").fetchall()]
    declared = [(c.name, c.type) for c in contract.columns]
    assert declared == described, (
        f"{contract.yml_path.relative_to(SQL_DIR.parent)} disagrees with what the SQL builds: "
        f"declared but not built {sorted(set(declared) - set(described))}, "
        f"built but not declared {sorted(set(described) - set(declared))}"
    )


def test_a_contract_that_drifts_from_its_sql_fails(built, tmp_path):
    """The comparison above really catches a drift: a column renamed in the contract only."""
    src = load_contracts()["marts.rule_coverage"].yml_path
    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "rule_coverage.sql").write_text("select 1")
    drifted = tmp_path / "marts" / "rule_coverage.yml"
    drifted.write_text(src.read_text().replace("name: coverage_pct", "name: coverage_percent"))
    contract = parse_contract(drifted)
    described = [(r[0], r[1]) for r in built.execute("describe marts.rule_coverage").fetchall()]
    assert [(c.name, c.type) for c in contract.columns] != described


def test_every_column_and_table_is_described():
    for name, c in load_contracts().items():
        assert c.description and c.grain, name
        assert c.columns, f"{name}: no columns declared"
        for col in c.columns:
            assert len(col.description) > 10, f"{name}.{col.name}"


def test_tests_name_declared_columns(tmp_path):
    (tmp_path / "marts").mkdir()
    (tmp_path / "marts" / "x.sql").write_text("select 1 as a")
    yml = tmp_path / "marts" / "x.yml"
    yml.write_text(
        "description: t\ngrain: g\nmaterialized: table\n"
        "columns:\n  - {name: a, type: INTEGER, description: the a column}\n"
        "tests:\n  - not_null: b\n"
    )
    with pytest.raises(
        ContractError, match=r"x\.yml: tests\[0\]: not_null names columns the contract does not declare: b"
    ):
        parse_contract(yml)


def test_publish_list_is_the_contracts_published_flag():
    published = published_tables()
    # DESIGN §6: the query contract
    assert {
        "marts.cost_line_items",
        "marts.monthly_leaf_cost",
        "marts.monthly_cost_rollup",
        "marts.budget_vs_actual",
        "audit.load_log",
        "audit.rejected_rows",
        "audit.quality_results",
        "audit.reconciliation",
    } <= published.keys()
    # work-database only: the line level of people cost, staging, core
    assert not any(n.startswith(("staging.", "core.")) for n in published)
    assert published["audit.reconciliation"] == "audit.reconciliation_published"


def test_checks_registry_comes_from_the_contracts():
    from pipeline.quality import sql_checks

    registry = sql_checks()
    # every check file guards a table, named in that table's contract
    files = {p.stem for p in (SQL_DIR / "checks").glob("*.sql")}
    assert set(registry) == files
    stage, table, severity, reads = registry["assert_people_rows_above_threshold"]
    assert (stage, table, severity) == ("marts", "marts.cost_line_items", "warning")
    assert reads == ("core.people_cost_cells",)
    assert "audit.files" in registry["assert_no_overlapping_deliveries"][3]
