"""The native-export fixtures and their truth stay honest.

- The generator rebuilds every committed file byte for byte (generator and files never drift).
- The truth of each dataset is exactly the sum of its current files (a restatement or a newer
  export replaces, never adds).
- Read back with bare DuckDB (no costledger code), each file has the rows and the plain column
  sums the generator recorded, so a hand-edited fixture fails here first.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO

NATIVE = REPO / "tests" / "fixtures" / "native"
EXPECTED = json.loads((NATIVE / "expected_totals.json").read_text(encoding="utf-8"))
NOT_GENERATED = {"make_fixtures.py", "README.md", "MAPPING.md"}
UNIFIED = [
    "source_system", "provider", "publisher", "invoice_issuer", "billing_account_id", "sub_account_id",
    "invoice_number", "service_name", "service_category", "sku_id", "resource_id", "resource_name", "region_id",
    "charge_category", "charge_class", "charge_description", "pricing_quantity", "pricing_unit",
    "charge_period_start", "charge_period_end", "billing_period_start", "billing_period_end", "billing_currency",
    "billed_cost_original", "effective_cost_original", "tags", "month",
]  # fmt: skip


def generated_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in NOT_GENERATED and "__pycache__" not in p.parts
    }


def test_generator_rebuilds_the_committed_files_byte_for_byte(tmp_path):
    spec = importlib.util.spec_from_file_location("native_fixtures", NATIVE / "make_fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(mod)
        mod.main(tmp_path)
    finally:
        sys.modules.pop(spec.name, None)
    fresh, committed = generated_files(tmp_path), generated_files(NATIVE)
    assert sorted(fresh) == sorted(committed)
    changed = [rel for rel in committed if fresh[rel] != committed[rel]]
    assert changed == [], f"re-run make_fixtures.py and commit: {changed}"


def dec(s) -> Decimal:
    return Decimal(str(s))


@pytest.mark.parametrize("dataset", sorted(EXPECTED["truth"]))
def test_truth_is_the_sum_of_the_current_files_only(dataset):
    truth = EXPECTED["truth"][dataset]
    assert not set(truth["files"]) & set(truth["superseded"])
    summed: dict[tuple[str, str], list[Decimal]] = {}
    for rel in truth["files"]:
        assert (NATIVE / rel).is_file(), rel
        for account, months in EXPECTED["files"][rel]["accounts"].items():
            for month, t in months.items():
                acc = summed.setdefault((account, month), [Decimal(0), Decimal(0), Decimal(0)])
                acc[0] += dec(t["rows"])
                acc[1] += dec(t["billed_cost"])
                acc[2] += dec(t["effective_cost"])
    stated = {
        (account, month): [dec(t["rows"]), dec(t["billed_cost"]), dec(t["effective_cost"])]
        for account, months in truth["by_account_month"].items()
        for month, t in months.items()
    }
    assert summed == stated


@pytest.mark.parametrize("rel", sorted(EXPECTED["files"]))
def test_a_files_months_are_the_sum_of_its_accounts(rel):
    f = EXPECTED["files"][rel]
    for month, t in f["months"].items():
        parts = [m[month] for m in f["accounts"].values() if month in m]
        assert sum(dec(p["rows"]) for p in parts) == dec(t["rows"])
        assert sum(dec(p["billed_cost"]) for p in parts) == dec(t["billed_cost"])
        assert sum(dec(p["effective_cost"]) for p in parts) == dec(t["effective_cost"])


def test_replacements_change_what_counts():
    truth = EXPECTED["truth"]
    aws, restated = (
        truth["aws_cur2_parquet"]["by_account_month"],
        truth["aws_cur2_parquet_restated"]["by_account_month"],
    )
    # the restated October replaces the first delivery's October; its refund for September lowers September
    assert restated["111122223333"]["2026-10"] != aws["111122223333"]["2026-10"]
    assert dec(restated["111122223333"]["2026-09"]["billed_cost"]) == dec(
        aws["111122223333"]["2026-09"]["billed_cost"]
    ) - dec("13.7255")
    assert truth["aws_cur2_parquet_restated"]["superseded"] == [
        "aws_cur/acme-cur2/data/BILLING_PERIOD=2026-10/acme-cur2-00001.snappy.parquet"
    ]
    for fmt in ("jsonl", "parquet", "csv"):  # the older extraction of the open month never counts
        assert [p for p in truth[f"gcp_detailed_{fmt}"]["superseded"] if "extracted=20261103" in p]
    assert len(truth["azure_ea"]["superseded"]) == 4  # the first run: two parts each of actual and amortized


# --- read back with bare DuckDB -------------------------------------------------------------------


def one(con, sql: str, *params):
    return con.execute(sql, list(params)).fetchone()


def reread(rel: str) -> dict[str, Decimal]:
    """Row count and plain sums of a file's cost columns, as DuckDB reads them (no costledger code)."""
    path = str(NATIVE / rel)
    con = duckdb.connect()
    if rel.startswith("aws_cur") and rel.endswith(".parquet"):
        n, s = one(
            con,
            "select count(*), sum(cast(line_item_unblended_cost as decimal(38,10))) from read_parquet(?)",
            path,
        )
        return {"rows": n, "unblended": s}
    if "/acme-legacy-cur/" in rel:
        n, s = one(
            con,
            'select count(*), sum(cast("lineItem/UnblendedCost" as decimal(38,10))) from read_csv(?, all_varchar = true)',
            [path],
        )
        return {"rows": n, "unblended": s}
    if rel.startswith("aws_cur"):
        n, s = one(
            con,
            "select count(*), sum(cast(line_item_unblended_cost as decimal(38,10))) from read_csv(?, all_varchar = true)",
            [path],
        )
        return {"rows": n, "unblended": s}
    if rel.startswith("gcp_billing") and rel.endswith(".csv"):
        n, c, k = one(
            con,
            "select count(*), sum(cast(cost as decimal(38,10))), sum(cast(credits_amount as decimal(38,10))) "
            "from read_csv(?, all_varchar = true)",
            [path],
        )
        return {"rows": n, "cost": c, "credits": k}
    if rel.startswith("gcp_billing"):
        reader = (
            "read_parquet(?)" if rel.endswith(".parquet") else "read_json(?, format = 'newline_delimited')"
        )
        n, c, k = one(
            con,
            f"select count(*), sum(cast(cost as decimal(38,10))), "
            f"sum(coalesce((select sum(cast(x.amount as decimal(38,10))) from unnest(credits) as u(x)), 0)) from {reader}",
            path,
        )
        return {"rows": n, "cost": c, "credits": k}
    if rel.startswith("azure_cost"):
        col = "CostInBillingCurrency" if "/ea-" in rel else "costInBillingCurrency"
        n, s = one(
            con,
            f"select count(*), sum(cast({col} as decimal(38,10))) from read_csv(?, all_varchar = true)",
            [path],
        )
        return {"rows": n, "cost": s}
    n, b, e = one(
        con,
        "select count(*), sum(cast(BilledCost as decimal(38,10))), sum(cast(EffectiveCost as decimal(38,10))) "
        "from read_csv(?, all_varchar = true)",
        [path],
    )
    return {"rows": n, "billed": b, "effective": e}


@pytest.mark.parametrize("rel", sorted(EXPECTED["files"]))
def test_each_file_reads_back_with_the_recorded_rows_and_sums(rel):
    f = EXPECTED["files"][rel]
    got = reread(rel)
    assert got["rows"] == sum(int(m["rows"]) for m in f["months"].values())
    for key, value in f["raw"].items():
        # doubles (AWS, GCP) come back as the nearest binary64; 1e-9 is far below a cent
        assert abs(got[key] - dec(value)) < Decimal("1e-9"), (rel, key, got[key], value)
    if "billed" in got:
        assert got["billed"] == sum(dec(m["billed_cost"]) for m in f["months"].values())
        assert got["effective"] == sum(dec(m["effective_cost"]) for m in f["months"].values())


def test_azure_files_start_with_a_bom_and_ea_tags_have_no_braces():
    ea = sorted((NATIVE / "azure_cost").glob("ea-*/*/*/part_*.csv"))
    mca = sorted((NATIVE / "azure_cost").glob("mca-*/*/*/part_*.csv"))
    assert len(ea) == 8 and len(mca) == 2
    for p in ea + mca:
        assert p.read_bytes().startswith(b"\xef\xbb\xbf")
    assert '"""team"": ""recs"",""model"": ""recs-two-tower"""' in ea[0].read_text(encoding="utf-8-sig")
    assert '"{""team"":""personalization""' in mca[0].read_text(encoding="utf-8-sig")


def test_contract_commitment_file_is_not_cost_rows():
    cc = EXPECTED["contract_commitments"]
    (path,) = cc
    header = (NATIVE / path).read_text(encoding="utf-8").splitlines()[0].split(",")
    assert "BilledCost" not in header and "ContractCommitmentId" in header and len(header) == 13
    assert path not in EXPECTED["files"]


def test_readme_names_every_fixture_and_mapping_covers_every_unified_column():
    readme = (NATIVE / "README.md").read_text(encoding="utf-8")
    folders = {"/".join(rel.split("/")[:2]) for rel in generated_files(NATIVE)} - {"expected_totals.json"}
    for folder in sorted(folders):
        assert folder in readme, f"{folder} has no line in tests/fixtures/native/README.md"
    mapping = (NATIVE / "MAPPING.md").read_text(encoding="utf-8")
    sections = mapping.split("\n## ")[1:]
    assert len(sections) >= 6
    for section in sections:
        title = section.splitlines()[0]
        for column in UNIFIED:
            assert f"| `{column}` |" in section, f"MAPPING.md section '{title}' does not map {column}"
