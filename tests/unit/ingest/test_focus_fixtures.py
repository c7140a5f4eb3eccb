"""The FOCUS fixtures say what they claim: real column sets, and totals that match their rows.

These read the fixture files with bare DuckDB (no costledger code), so a fixture edited
without re-running make_fixtures.py, or a README total that drifted, fails here first.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "focus"
EXPECTED = json.loads((FIXTURES / "expected_totals.json").read_text())

FOCUS_1_0_COLUMNS = 43


def header_of(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh))


def recompute(path: Path) -> dict[str, tuple[Decimal, Decimal, int]]:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    if path.suffix == ".parquet":
        src = "read_parquet(?)"
        month = "strftime(ChargePeriodStart, '%Y-%m')"
    else:
        src = "read_csv(?, header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"')"
        month = "substr(ChargePeriodStart, 1, 7)"
    rows = con.execute(
        f"select {month}, sum(cast(BilledCost as decimal(38,12))), sum(cast(EffectiveCost as decimal(38,12))), "
        f"count(*) from {src} group by 1",
        [str(path)],
    ).fetchall()
    return {m: (b, e, n) for m, b, e, n in rows}


@pytest.mark.parametrize("rel", sorted(EXPECTED["files"]))
def test_expected_totals_match_the_rows_of_the_file(rel):
    got = recompute(FIXTURES / rel)
    want = EXPECTED["files"][rel]
    assert set(got) == set(want)
    for month, t in want.items():
        billed, effective, n = got[month]
        assert billed == Decimal(t["billed_cost"]), (rel, month)
        assert effective == Decimal(t["effective_cost"]), (rel, month)
        assert n == int(t["rows"]), (rel, month)


def test_readme_lists_every_fixture_file():
    readme = (FIXTURES / "README.md").read_text()
    for rel in [*EXPECTED["files"], *EXPECTED["bad"]]:
        shown = rel if len(rel) < 60 else rel.rsplit("/", 1)[-1]
        assert shown in readme, f"{rel} has no line in tests/fixtures/focus/README.md"


def test_aws_export_has_the_focus_1_0_with_aws_columns_header():
    for path in (FIXTURES / "aws").rglob("*.csv.gz"):
        cols = header_of(path)
        assert len(cols) == FOCUS_1_0_COLUMNS + 5
        assert cols[-5:] == ["x_CostCategories", "x_Discounts", "x_Operation", "x_ServiceCode", "x_UsageType"]
        assert cols[:-5] == sorted(cols[:-5]), "AWS writes the FOCUS columns in alphabetical order"


def test_aws_manifests_list_exactly_the_data_files_of_their_period():
    manifests = [
        *(FIXTURES / "aws").rglob("*-Manifest.json"),
        *(FIXTURES / "aws_parquet").rglob("*-Manifest.json"),
    ]
    assert len(manifests) == 3
    for manifest in manifests:
        period = manifest.parent.name
        export_dir = manifest.parents[2]
        listed = sorted(k.rsplit("/", 1)[-1] for k in json.loads(manifest.read_text())["dataFiles"])
        present = sorted(p.name for p in (export_dir / "data" / period).iterdir())
        assert listed == present, period


def test_aws_parquet_export_keeps_the_data_exports_types():
    con = duckdb.connect()
    path = next((FIXTURES / "aws_parquet").rglob("*.snappy.parquet"))
    types = {
        name: typ
        for name, typ, *_ in con.execute(
            "describe select * from read_parquet(?, hive_partitioning = false)", [str(path)]
        ).fetchall()
    }
    assert len(types) == 57 + 3
    assert types["BilledCost"] == "DOUBLE" and types["ChargePeriodStart"] == "TIMESTAMP"
    assert types["Tags"] == "MAP(VARCHAR, VARCHAR)"


def test_focus_1_3_fixture_has_the_new_provider_columns_and_not_the_deprecated_ones():
    cols = set(header_of(next((FIXTURES / "v1_3").glob("*.csv"))))
    assert {
        "ServiceProviderName",
        "HostProviderName",
        "AllocatedMethodId",
        "AllocatedMethodDetails",
        "AllocatedResourceId",
        "AllocatedResourceName",
        "AllocatedTags",
        "ContractApplied",
    } <= cols
    assert not {"ProviderName", "PublisherName"} & cols


def test_gcp_fixture_keeps_the_bigquery_view_types():
    con = duckdb.connect()
    types = dict(
        (name, typ)
        for name, typ, *_ in con.execute(
            "describe select * from read_parquet(?)", [str(next((FIXTURES / "gcp").rglob("*.parquet")))]
        ).fetchall()
    )
    assert types["BilledCost"] == "DECIMAL(38,9)"
    assert types["ChargePeriodStart"] == "TIMESTAMP WITH TIME ZONE"
    assert types["Tags"].startswith("STRUCT(") and types["Tags"].endswith("[]")
    assert "ProviderName" in types and "BillingAccountName" not in types


def test_azure_fixture_prints_one_amount_in_e_notation_and_quotes_json_tags():
    path = next((FIXTURES / "azure").rglob("part_0_0001.csv"))
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert any("E-" in r["BilledCost"] for r in rows)
    assert all(r["Tags"] == "" or json.loads(r["Tags"]) is not None for r in rows)
    assert len(header_of(path)) == 105
