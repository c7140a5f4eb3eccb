"""Every published table and column carries its contract's description in the published file."""

from __future__ import annotations

import duckdb

from pipeline.app import steps
from pipeline.transform.contracts import load_contracts, published_tables


def test_duckdb_columns_show_a_description_for_every_published_column(small_landing, settings_for):
    settings = settings_for(small_landing)
    assert steps.run_all(settings).status == "succeeded"
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        tables = {
            f"{s}.{t}": c
            for s, t, c in con.execute(
                "select schema_name, table_name, comment from duckdb_tables() where database_name = current_database()"
            ).fetchall()
        }
        columns = {
            (f"{s}.{t}", col): c
            for s, t, col, c in con.execute(
                "select schema_name, table_name, column_name, comment from duckdb_columns() "
                "where database_name = current_database()"
            ).fetchall()
        }
    finally:
        con.close()
    contracts = load_contracts()
    assert set(tables) == set(published_tables())
    for name, comment in tables.items():
        assert comment and comment.startswith(contracts[name].description), name
        assert contracts[name].grain in comment
    for (name, col), comment in columns.items():
        declared = {c.name: c.description for c in contracts[name].columns}
        assert comment == declared[col], f"{name}.{col}"
    # spot check what an analyst reads in any SQL client
    assert "C_people_merged" in columns[("marts.monthly_cost_rollup", "c_total")]
    assert "in percent" in columns[("marts.rule_coverage", "coverage_pct")]
