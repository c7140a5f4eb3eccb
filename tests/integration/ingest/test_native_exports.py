"""The clouds' own billing exports (issue 11), end to end through `costledger run`.

Each landing holds native fixtures (tests/fixtures/native/, README.md there says where every
shape comes from) beside FX rates; the CLI runs the whole pipeline with the demo config, and the
work and published databases must hold exactly what tests/fixtures/native/expected_totals.json
derives from the records the fixtures were generated from (never from the files): per file and
month, per billing account and month after every replacement rule, on both cost bases, with
cost conserved from the line items to the published marts.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conftest import FIXTURES
from tests.fixtures.cli import cli
from tests.fixtures.config import config_with

NATIVE = FIXTURES / "native"
EXPECTED = json.loads((NATIVE / "expected_totals.json").read_text())
TRUTH = EXPECTED["truth"]

pytestmark = pytest.mark.slow


def make_landing(root: Path, *folders: str) -> Path:
    landing = root / "landing"
    for folder in folders:
        shutil.copytree(NATIVE / folder, landing / folder, dirs_exist_ok=True)
    (landing / "fx_rates").mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "focus" / "fx_rates" / "rates.csv", landing / "fx_rates" / "rates.csv")
    return landing


def run(landing: Path, warehouse: Path) -> None:
    res = cli("run", landing=landing, warehouse=warehouse)
    assert res.returncode == 0, res.stdout + res.stderr


def rows(db: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def booked_by_account_month(warehouse: Path, source_system: str) -> dict:
    """What counts (not superseded), per billing account and month, from the work database."""
    got = rows(
        warehouse / "work.duckdb",
        """
        select billing_account_id, strftime(month, '%Y-%m'), sum(billed_cost_original),
               sum(effective_cost_original), count(*)
        from core.line_items where source_system = ? and not is_superseded group by all
        """,
        [source_system],
    )
    out: dict = {}
    for account, month, billed, effective, n in got:
        out.setdefault(account, {})[month] = (billed, effective, n)
    return out


def truth_by_account_month(dataset: str) -> dict:
    return {
        account: {
            m: (Decimal(t["billed_cost"]), Decimal(t["effective_cost"]), t["rows"]) for m, t in months.items()
        }
        for account, months in TRUTH[dataset]["by_account_month"].items()
    }


def per_file_month(warehouse: Path, prefix: str) -> dict:
    """Every row read, superseded or not, per file and month."""
    got = rows(
        warehouse / "work.duckdb",
        """
        select source_file, strftime(month, '%Y-%m'), sum(billed_cost_original), sum(effective_cost_original),
               count(*), bool_and(is_superseded)
        from core.line_items where starts_with(source_file, ?) group by all
        """,
        [prefix],
    )
    return {(f, m): (b, e, n, sup) for f, m, b, e, n, sup in got}


def assert_files_match(warehouse: Path, dataset: str, rename=lambda rel: rel) -> None:
    got = per_file_month(warehouse, "")
    for rel in TRUTH[dataset]["files"]:
        for month, t in EXPECTED["files"][rel]["months"].items():
            b, e, n, superseded = got[(rename(rel), month)]
            assert (b, e, n) == (Decimal(t["billed_cost"]), Decimal(t["effective_cost"]), t["rows"]), (
                rel,
                month,
            )
            assert not superseded, rel


def assert_conserved(warehouse: Path) -> None:
    """Both bases: the line items that count = the published allocated lines, per file and month,
    to the cent; the published reconciliation and the quality gates agree."""
    work = rows(
        warehouse / "work.duckdb",
        "select source_file, month, sum(billed_cost), sum(effective_cost) from core.line_items "
        "where not is_superseded group by all",
    )
    published = {
        (f, m): (b, e)
        for f, m, b, e in rows(
            warehouse / "costledger.duckdb",
            "select source_file, month, sum(billed_cost), sum(effective_cost) from marts.cost_line_items group by all",
        )
    }
    assert work
    for f, m, b, e in work:
        pb, pe = published.get((f, m), (Decimal(0), Decimal(0)))
        assert round(b - pb, 2) == 0 and round(e - pe, 2) == 0, (f, m, b, pb, e, pe)
    off = rows(
        warehouse / "costledger.duckdb",
        "select source_file, month, difference from audit.reconciliation where round(difference, 2) <> 0 "
        "or rows_read + rows_rejected <> rows_in_file",
    )
    assert off == []


@pytest.fixture(scope="module")
def clouds(tmp_path_factory):
    """AWS (CUR 2.0 Parquet and CSV.gz, legacy CUR), Azure (EA, MCA) and GCP (JSONL) in one landing."""
    root = tmp_path_factory.mktemp("native")
    landing = make_landing(root, "aws_cur", "azure_cost")
    for export in ("acme-detailed-jsonl", "acme-standard-jsonl"):
        shutil.copytree(NATIVE / "gcp_billing" / export, landing / "gcp_billing" / export)
    warehouse = root / "warehouse"
    mp = pytest.MonkeyPatch()
    from tests.conftest import isolated_env

    isolated_env(mp)
    try:
        run(landing, warehouse)
        yield landing, warehouse
    finally:
        mp.undo()


@pytest.mark.parametrize(
    "dataset, source_system",
    [
        ("aws_cur2_parquet", "aws_cur"),
        ("aws_cur2_csv", "aws_cur"),
        ("aws_legacy_cur", "aws_cur"),
        ("azure_ea", "azure_cost"),
        ("azure_mca", "azure_cost"),
        ("gcp_detailed_jsonl", "gcp_billing"),
        ("gcp_standard_jsonl", "gcp_billing"),
    ],
)
def test_every_native_dataset_books_its_truth(clouds, dataset, source_system):
    _, warehouse = clouds
    got = booked_by_account_month(warehouse, source_system)
    for account, months in truth_by_account_month(dataset).items():
        assert got[account] == months, (dataset, account)
    assert_files_match(warehouse, dataset)


def test_superseded_deliveries_never_count(clouds):
    _, warehouse = clouds
    status = dict(rows(warehouse / "work.duckdb", "select source_file, status from audit.files"))
    lines = per_file_month(warehouse, "")
    for dataset in ("azure_ea", "gcp_detailed_jsonl"):
        for rel in TRUTH[dataset]["superseded"]:
            if rel.startswith("azure_cost/"):
                # an older export run of the same range: never booked (dropped), no line items
                assert status.get(rel) in (None, "dropped") and not any(f == rel for f, _ in lines), rel
            else:
                # an older extraction of the same invoice month: read, kept, superseded
                assert all(sup for (f, _), (*_, sup) in lines.items() if f == rel), rel
                months = EXPECTED["files"][rel]["months"]
                for m, t in months.items():
                    assert lines[(rel, m)][:3] == (
                        Decimal(t["billed_cost"]),
                        Decimal(t["effective_cost"]),
                        t["rows"],
                    )


def test_native_cost_is_conserved_on_both_bases(clouds):
    _, warehouse = clouds
    assert_conserved(warehouse)


def test_native_rules_fields_reach_the_line_item(clouds):
    """What rules match on: AWS product code and usage type, GCP project and labels, Azure meter
    category and resource group (in the resource id), tags as one JSON object."""
    _, warehouse = clouds
    got = rows(
        warehouse / "work.duckdb",
        """
        select source_system, provider, service_name, sku_id, sub_account_id, resource_id, tags
        from core.line_items
        where (source_system = 'aws_cur' and resource_id = 'i-0f1e2d3c4b5a69788')
           or (source_system = 'gcp_billing' and service_name = 'Vertex AI' and not is_superseded)
           or (source_system = 'azure_cost' and resource_id like '%/resourceGroups/rg-recs-ml/%')
        """,
    )
    by_source: dict[str, list] = {}
    for r in got:
        by_source.setdefault(r[0], []).append(r)
    (aws,) = by_source["aws_cur"]
    assert aws[1:4] == ("AWS", "AmazonEC2", "EUC1-BoxUsage:g6.xlarge")
    assert json.loads(aws[6])["user_team"] == "recs"
    assert all(r[1] == "Google Cloud" for r in by_source["gcp_billing"])
    assert any(r[4] == "shopco-search-prod" for r in by_source["gcp_billing"])
    assert any(
        json.loads(r[6]) == {"env": "prod", "team": "search", "model": "ranker-v3"}
        for r in by_source["gcp_billing"]
    )
    assert all(r[1:3] == ("Microsoft", "Virtual Machines") for r in by_source["azure_cost"])
    assert all(json.loads(r[6])["team"] == "recs" for r in by_source["azure_cost"])


def test_a_cur_restatement_replaces_its_period(clouds, tmp_path):
    """A later, cumulative delivery of October (its manifest now lists two files) replaces every
    October row of the first delivery, and never adds to it; its Refund books to September."""
    landing, warehouse = clouds
    landing2 = tmp_path / "landing"
    shutil.copytree(landing, landing2)
    warehouse2 = tmp_path / "warehouse"
    shutil.copytree(warehouse, warehouse2)
    shutil.copytree(NATIVE / "aws_cur_restated", landing2 / "aws_cur", dirs_exist_ok=True)
    run(landing2, warehouse2)
    got = booked_by_account_month(warehouse2, "aws_cur")
    for account, months in truth_by_account_month("aws_cur2_parquet_restated").items():
        assert got[account] == months
    assert_files_match(
        warehouse2,
        "aws_cur2_parquet_restated",
        rename=lambda rel: rel.replace("aws_cur_restated/", "aws_cur/"),
    )
    assert_conserved(warehouse2)
    # a second run on the same files changes nothing
    run(landing2, warehouse2)
    assert booked_by_account_month(warehouse2, "aws_cur") == got


@pytest.mark.parametrize(
    "export, dataset",
    [("acme-detailed-parquet", "gcp_detailed_parquet"), ("acme-detailed-csv", "gcp_detailed_csv")],
)
def test_gcp_parquet_and_csv_extracts_book_the_same_truth(tmp_path, export, dataset):
    landing = make_landing(tmp_path)
    shutil.copytree(NATIVE / "gcp_billing" / export, landing / "gcp_billing" / export)
    run(landing, tmp_path / "warehouse")
    got = booked_by_account_month(tmp_path / "warehouse", "gcp_billing")
    assert got == truth_by_account_month(dataset)
    assert_files_match(tmp_path / "warehouse", dataset)
    assert_conserved(tmp_path / "warehouse")


FOCUS_OF_ACME = (
    "BilledCost,EffectiveCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ProviderName,"
    "BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ServiceName\n"
    "169.8,169.8,USD,2026-09-03T00:00:00Z,2026-09-04T00:00:00Z,Usage,AWS,111122223333,"
    "2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,Amazon SageMaker\n"
)


def test_native_and_focus_of_one_account_fail_the_overlap_check_unless_trust_says_which(tmp_path):
    """CUR 2.0 of payer 111122223333 and a FOCUS export of the same account and period: a critical
    check naming both sources; with `trust: {111122223333: aws_cur}` the FOCUS lines are superseded
    and the CUR books its truth, conserved."""
    landing = make_landing(tmp_path)
    shutil.copytree(NATIVE / "aws_cur" / "acme-cur2", landing / "aws_cur" / "acme-cur2")
    (landing / "focus" / "acme").mkdir(parents=True)
    (landing / "focus" / "acme" / "acme-2026-09.csv").write_text(FOCUS_OF_ACME)
    res = cli("run", landing=landing, warehouse=tmp_path / "warehouse")
    assert res.returncode != 0
    assert "assert_no_overlapping_deliveries.sql" in res.stderr
    assert (
        "source=aws_cur, other_source=focus" in res.stderr
        or "source=focus, other_source=aws_cur" in res.stderr
    )

    config = config_with(tmp_path / "config")
    main_cfg = yaml.safe_load((config / "costledger.yaml").read_text())
    main_cfg["trust"] = {"111122223333": "aws_cur"}
    (config / "costledger.yaml").write_text(yaml.safe_dump(main_cfg))
    res = cli("run", landing=landing, warehouse=tmp_path / "warehouse", config=config)
    assert res.returncode == 0, res.stdout + res.stderr
    got = booked_by_account_month(tmp_path / "warehouse", "aws_cur")
    assert got == truth_by_account_month("aws_cur2_parquet")
    focus_lines = rows(
        tmp_path / "warehouse" / "work.duckdb",
        "select count(*), bool_and(is_superseded) from core.line_items where source_system = 'focus'",
    )
    assert focus_lines == [(1, True)]
    assert_conserved(tmp_path / "warehouse")


def test_focus_1_3_contract_commitments_get_their_own_published_table(tmp_path):
    """The Contract Commitment file of a FOCUS 1.3 export is loaded and published on its own,
    never refused as a FOCUS header and never read as cost rows."""
    landing = make_landing(tmp_path, "focus")
    warehouse = tmp_path / "warehouse"
    run(landing, warehouse)
    rel = "focus/acme-inference-focus13/focus-contract-commitment.csv"
    truth = EXPECTED["contract_commitments"][rel]
    published = rows(
        warehouse / "costledger.duckdb",
        "select contract_commitment_id, contract_commitment_cost, source_file from marts.contract_commitments",
    )
    assert {c: cost for c, cost, _ in published} == {c: Decimal(v) for c, v in truth["by_commitment"].items()}
    assert len(published) == truth["rows"] and {f for *_, f in published} == {rel}
    assert rows(
        warehouse / "work.duckdb", "select count(*) from core.line_items where source_file = ?", [rel]
    ) == [(0,)]
    status = rows(
        warehouse / "costledger.duckdb", "select source, status from audit.files where source_file = ?", [rel]
    )
    assert status == [("focus_commitments", "loaded")]
    # the cost rows that draw the commitments down, and what they draw
    assert booked_by_account_month(warehouse, "focus") == truth_by_account_month("focus_1_3")
    applied = rows(
        warehouse / "work.duckdb",
        """
        select e ->> 'ContractCommitmentId', sum(cast(e ->> 'ContractCommitmentAppliedCost' as decimal(38,10)))
        from (select unnest(cast(json_extract(ContractApplied, '$.Elements[*]') as json[])) as e
              from raw.focus_line_items where nullif(trim(ContractApplied), '') is not null)
        where e ->> 'ContractCommitmentAppliedCost' is not null
        group by all
        """,
    )
    assert {c: v for c, v in applied} == {
        c: Decimal(v) for c, v in truth["applied_cost_in_cost_and_usage"].items()
    }
    assert_conserved(warehouse)


def test_unreadable_native_rows_go_to_rejected_rows_with_file_line_and_reason(tmp_path):
    """A JSON line that is not JSON and a cost that is not a number (GCP), a date that is not a
    date (Azure EA): each row is kept in audit.rejected_rows, the rest of its file is booked."""
    landing = make_landing(tmp_path)
    src = NATIVE / "gcp_billing" / "acme-standard-jsonl" / "invoice_month=202610" / "extracted=20261105"
    lines = (src / "000000000000.json").read_text().splitlines()
    bad_cost = json.loads(lines[1])
    bad_cost["cost"] = "twelve"
    gcp = (
        landing / "gcp_billing" / "std" / "invoice_month=202610" / "extracted=20261105" / "000000000000.json"
    )
    gcp.parent.mkdir(parents=True)
    gcp.write_text("\n".join([lines[0], json.dumps(bad_cost), "{not json", lines[2]]) + "\n")
    ea = NATIVE / "azure_cost" / "ea-actual" / "20261001-20261031" / "8e0a2c4e-6a8c-4e0a-2c4e-6a8c0e2a4c6e"
    azure = landing / "azure_cost" / "ea" / "part_0_0001.csv"
    azure.parent.mkdir(parents=True)
    text = (ea / "part_0_0001.csv").read_bytes().decode("utf-8-sig").splitlines()
    text[2] = text[2].replace(",10/", ",13/", 1)  # month 13
    azure.write_bytes(("\ufeff" + "\r\n".join(text) + "\r\n").encode())
    config = config_with(tmp_path / "config", max_reject_share=0.6)
    res = cli("run", landing=landing, warehouse=tmp_path / "warehouse", config=config)
    assert res.returncode == 0, res.stdout + res.stderr
    rejected = rows(
        tmp_path / "warehouse" / "work.duckdb",
        "select source_file, source_row, field, reason from audit.rejected_rows order by 1, 2",
    )
    assert [(f, n, field) for f, n, field, _ in rejected] == [
        ("azure_cost/ea/part_0_0001.csv", 3, "Date"),
        ("gcp_billing/std/invoice_month=202610/extracted=20261105/000000000000.json", 2, "cost"),
        ("gcp_billing/std/invoice_month=202610/extracted=20261105/000000000000.json", 3, None),
    ]
    assert rejected[0][3].startswith("line 3: Date:")
    assert rejected[1][3] == "line 2: cost: 'twelve' is not a number"
    assert rejected[2][3] == "line 3: not a JSON object"
    booked = rows(
        tmp_path / "warehouse" / "work.duckdb",
        "select source_file, count(*) from core.line_items group by 1 order by 1",
    )
    assert booked == [
        ("azure_cost/ea/part_0_0001.csv", 2),
        ("gcp_billing/std/invoice_month=202610/extracted=20261105/000000000000.json", 2),
    ]
    assert_conserved(tmp_path / "warehouse")
