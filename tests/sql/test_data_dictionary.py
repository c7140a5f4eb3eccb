"""docs/data-dictionary.md is generated from the contracts, and says what a reader needs."""

from __future__ import annotations

from pipeline.ledger import LEAVES, STAGES
from pipeline.transform import dictionary
from pipeline.transform.contracts import load_contracts, published_tables


def test_the_checked_in_dictionary_is_not_stale():
    assert dictionary.DICTIONARY.read_text(encoding="utf-8") == dictionary.render(), (
        "docs/data-dictionary.md is stale: run python -m pipeline.transform.dictionary"
    )
    assert dictionary.main(["--check"]) == 0


def test_every_published_table_and_column_is_in_it():
    text = dictionary.render()
    contracts = load_contracts()
    for name in published_tables():
        assert f"### `{name}`" in text
        for col in contracts[name].columns:
            assert f"| `{col.name}` | {col.type} |" in text, f"{name}.{col.name}"


def test_it_explains_what_users_ask():
    text = dictionary.render()
    # rows with an empty model: the two buckets
    assert "Rows with an empty model" in text
    assert "`leaf = 'unallocated'`" in text and "`leaf = 'out_of_scope'`" in text
    # the two costs
    assert "`billed_cost` vs `effective_cost`" in text
    # every c_* column of the rollup, C_people_merged included, and how C_total adds up
    rollup = load_contracts()["marts.monthly_cost_rollup"]
    c_cols = [c.name for c in rollup.columns if c.name.startswith("c_")]
    assert set(c_cols) == {
        f"c_{x}" for x in (*LEAVES, *STAGES, "people_merged", "total", "unallocated", "out_of_scope")
    }
    for col in c_cols:
        assert f"`{col}`" in text.split("## Published tables")[0], f"{col} not explained in the head"
    assert "C_pretrain + C_tuning + C_deploy + C_maintenance + C_people_merged" in text
    # the unit of every percentage column
    pct = [(n, c) for n, t in load_contracts().items() for c in t.columns if c.name.endswith("_pct")]
    assert pct
    for name, col in pct:
        assert "in percent" in col.description, f"{name}.{col.name}"
        assert f"`{name}.{col.name}`" in text
