"""The demo company generator: deterministic, in the documented landing formats, calibrated."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path, PurePosixPath

import duckdb
import pytest
import yaml

from examples.demo import generate as demo
from pipeline.ledger import LEAVES
from tests.conftest import REPO

CONFIG = REPO / "examples" / "demo" / "config"
MONTHS = list(demo.DEFAULT_MONTHS)


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "landing"
    demo.generate(path)
    return path


def _sha256_tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _csv_rows(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _csv_header(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh))


def _rows(landing: Path, pattern: str) -> list[dict[str, str]]:
    return [r for p in sorted(landing.glob(pattern)) for r in _csv_rows(p)]


def _yaml(name: str):
    return yaml.safe_load((CONFIG / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def aws_rows(landing) -> list[dict[str, str]]:
    return _rows(landing, "focus/aws-focus/*/data/*/*.csv.gz")


@pytest.fixture(scope="module")
def ali_rows(landing) -> list[dict[str, object]]:
    con = duckdb.connect()
    try:
        cur = con.execute(f"select * from read_parquet('{landing}/focus/alibaba/*.parquet')")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


# ---- determinism -----------------------------------------------------------------------------


def test_same_seed_writes_byte_identical_files(landing, tmp_path):
    again = tmp_path / "again"
    summary = demo.generate(again)
    first, second = _sha256_tree(landing), _sha256_tree(again)
    assert first == second
    assert sorted(summary["files"]) == sorted(first)
    assert summary["months"] == MONTHS


def test_another_seed_writes_another_company(landing, tmp_path):
    demo.generate(tmp_path / "other", seed=7)
    other = _sha256_tree(tmp_path / "other")
    mine = _sha256_tree(landing)
    assert set(other) == set(mine)
    assert other["timesheets/timelog_2026-05.csv"] != mine["timesheets/timelog_2026-05.csv"]
    # the budget is the company's plan, not noise
    assert other["budgets/stage_budgets.csv"] == mine["budgets/stage_budgets.csv"]


def test_months_can_be_chosen(tmp_path):
    summary = demo.generate(tmp_path / "l", months=["2026-01", "2026-02", "2026-03"])
    periods = sorted(p.name for p in (tmp_path / "l/focus/aws-focus/acme-focus-export/data").iterdir())
    assert periods == ["BILLING_PERIOD=2026-01", "BILLING_PERIOD=2026-02", "BILLING_PERIOD=2026-03"]
    assert summary["months"] == ["2026-01", "2026-02", "2026-03"]


def test_main_prints_a_summary(tmp_path, capsys):
    assert demo.main(["--landing", str(tmp_path / "l"), "--months", "2026-05,2026-06"]) == 0
    out = capsys.readouterr().out
    assert "demo company written to" in out and "focus_aws" in out


# ---- FOCUS exports ---------------------------------------------------------------------------


def test_aws_export_is_focus_1_0_csv_gz_in_the_data_exports_layout(landing, aws_rows):
    base = landing / "focus/aws-focus/acme-focus-export"
    for month in MONTHS:
        data = base / f"data/BILLING_PERIOD={month}/acme-focus-export-00001.csv.gz"
        manifest = base / f"metadata/BILLING_PERIOD={month}/acme-focus-export-Manifest.json"
        assert _csv_header(data) == list(demo.FOCUS_10_COLUMNS)
        m = json.loads(manifest.read_text())
        assert m["exportArn"].startswith("arn:aws:bcm-data-exports:")
        assert [c["name"] for c in m["columns"]] == list(demo.FOCUS_10_COLUMNS)
        # the manifest lists exactly the delivered data file of its billing period
        assert [PurePosixPath(f).name for f in m["dataFiles"]] == [data.name]
        assert all(f.startswith("s3://") and f"/BILLING_PERIOD={month}/" in f for f in m["dataFiles"])
    assert {r["ProviderName"] for r in aws_rows} == {"AWS"}
    assert {r["BillingCurrency"] for r in aws_rows} == {"USD"}


def test_alibaba_export_is_focus_1_2_parquet_with_decimal_money(landing, ali_rows):
    files = sorted((landing / "focus/alibaba").glob("*.parquet"))
    assert len(files) == len(MONTHS)
    con = duckdb.connect()
    schema = dict(con.execute(f"select name, logical_type from parquet_schema('{files[0]}')").fetchall())
    con.close()
    assert [c for c in demo.FOCUS_12_COLUMNS if c in schema] == list(demo.FOCUS_12_COLUMNS)
    for col in ("ServiceSubcategory", "InvoiceId", "PricingCurrency", "BillingAccountType"):
        assert col in schema
    for money in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
        assert "DecimalType(scale=10, precision=38)" in str(schema[money])
    assert {r["ProviderName"] for r in ali_rows} == {"Alibaba Cloud"}
    assert {r["BillingCurrency"] for r in ali_rows} == {"CNY"}


def test_focus_amounts_are_plain_decimals_and_timestamps_iso_utc(aws_rows, ali_rows):
    for r in aws_rows:
        for col in ("BilledCost", "EffectiveCost"):
            assert "e" not in r[col].lower()
            Decimal(r[col])
        assert r["ChargePeriodStart"].endswith("T00:00:00Z")
    assert all(isinstance(r["BilledCost"], Decimal) for r in ali_rows)
    assert all(str(r["ChargePeriodStart"]).endswith("Z") for r in ali_rows)


def test_tags_are_json_objects_placing_resources_by_the_rules(aws_rows, ali_rows):
    models = {m["id"] for m in _yaml("models.yaml")["models"]}
    tags = [json.loads(r["Tags"]) for r in [*aws_rows, *ali_rows]]
    assert all(isinstance(t, dict) for t in tags)
    assert {t["cl-leaf"] for t in tags if "cl-leaf" in t} <= set(LEAVES)
    assert {t["cl-model"] for t in tags if "cl-model" in t} <= models
    pools = {t.get("cl-pool") for t in tags}
    assert {"shared-gpu", "shared-serving"} <= pools
    assert {"webshop", "storefront", "checkout"} & {t.get("cl-workload") for t in tags}
    assert any(not any(k.startswith("cl-") for k in t) for t in tags), "some cost must stay unallocated"
    assert any("Support" in r["ServiceName"] for r in aws_rows)


def test_commitments_are_billed_on_purchase_lines_and_amortised_on_usage(aws_rows, ali_rows):
    for rows in (aws_rows, ali_rows):
        for month in MONTHS:
            in_month = [r for r in rows if str(r["ChargePeriodStart"]).startswith(month)]
            purchases = [
                r
                for r in in_month
                if r["ChargeCategory"] == "Purchase"
                and r["CommitmentDiscountId"] is not None
                and r["CommitmentDiscountId"] != ""
            ]
            assert purchases, month
            for p in purchases:
                assert Decimal(p["BilledCost"]) > 0 and Decimal(p["EffectiveCost"]) == 0
                covered = [
                    r
                    for r in in_month
                    if r["ChargeCategory"] == "Usage"
                    and r["CommitmentDiscountId"] == p["CommitmentDiscountId"]
                ]
                assert covered and all(Decimal(r["BilledCost"]) == 0 for r in covered)
                # the amortised usage adds up to the fee, to the cent
                total = sum(Decimal(r["EffectiveCost"]) for r in covered)
                assert abs(total - Decimal(p["BilledCost"])) < Decimal("0.01")
    categories = {r["ChargeCategory"] for r in [*aws_rows, *ali_rows]}
    assert {"Usage", "Purchase", "Tax", "Credit", "Adjustment"} <= categories
    credit = [r for r in aws_rows if r["ChargeCategory"] == "Credit"]
    assert credit and all(Decimal(r["BilledCost"]) < 0 for r in credit)


# ---- invoices, time logs, rates, FX, budgets, metrics ----------------------------------------


def test_invoices_follow_the_documented_line_format(landing):
    vendors = {v["id"]: v["kind"] for v in _yaml("vendors.yaml")["vendors"]}
    models = _yaml("models.yaml")["models"]
    known_models = {m["id"] for m in models} | {a for m in models for a in m.get("aliases", [])}
    files = sorted((landing / "invoices").glob("*/*.csv"))
    assert {f.parent.name for f in files} == {"annotate-pro", "crowdlabel", "datamart-feeds", "vectorops"}
    assert {f.parent.name for f in files} <= set(vendors)
    rows = []
    for f in files:
        assert _csv_header(f) == list(demo.INVOICE_COLUMNS)
        for r in _csv_rows(f):
            assert r["vendor"] == f.parent.name
            assert r["model_or_project"] in known_models
            assert Decimal(r["amount"]) == (Decimal(r["quantity"]) * Decimal(r["unit_price"])).quantize(
                Decimal("0.01")
            )
            rows.append(r)
    assert {r["currency"] for r in rows} == {"CNY", "USD"}
    # one invoice revised in a second file, one credit note, one service period over two months
    revs = defaultdict(set)
    for r in rows:
        revs[(r["vendor"], r["invoice_number"])].add(r["revision"])
    assert [k for k, v in revs.items() if v == {"1", "2"}] == [("datamart-feeds", "DMF-202608")]
    assert [r["invoice_number"] for r in rows if r["document_type"] == "credit_note"] == ["VO-CN-0007"]
    spanning = [r for r in rows if r["service_period_start"][:7] != r["service_period_end"][:7]]
    assert len(spanning) == 1 and spanning[0]["vendor"] == "crowdlabel"
    kinds = {vendors[r["vendor"]] for r in rows}
    assert {"labeling", "data", "software"} <= kinds


def test_time_logs_cover_fifteen_people_and_every_activity(landing):
    activities = _yaml("activities.yaml")["activities"]
    rows = _rows(landing, "timesheets/*.csv")
    assert _csv_header(landing / "timesheets/timelog_2026-05.csv") == list(demo.TIMESHEET_COLUMNS)
    people = {r["employee_id"] for r in rows}
    assert len(people) >= 15
    assert len({r["employee_email"] for r in rows}) == len(people)
    assert {r["activity"] for r in rows} == set(activities)
    assert all(Decimal("0") < Decimal(r["hours"]) <= 24 for r in rows)
    assert {r["work_date"][:7] for r in rows} == set(MONTHS)
    # hours per person and day stay humane
    per_day = defaultdict(Decimal)
    for r in _rows(landing, "timesheets/timelog_????-??.csv"):
        per_day[(r["employee_id"], r["work_date"])] += Decimal(r["hours"])
    assert max(per_day.values()) <= 10
    # the correction export is newer and restates a day the monthly export had
    corr = _csv_rows(landing / "timesheets/timelog_2026-10_correction.csv")
    assert corr and all(r["exported_at"] > "2026-11-01T01:30:00Z" for r in corr)
    assert {(r["employee_id"], r["work_date"]) for r in corr} <= set(per_day)


def test_every_logged_hour_has_a_rate_in_force_and_a_raise_happens(landing):
    rates = _rows(landing, "hr_rates/*.csv")
    assert all(bool(r["employee_id"]) != bool(r["role"]) for r in rates)
    assert {r["currency"] for r in rates} == {"CNY"}
    by_role = defaultdict(list)
    for r in rates:
        if r["role"]:
            by_role[r["role"]].append((r["effective_from"], Decimal(r["hourly_rate"])))
    assert any(len(v) > 1 and sorted(v)[-1][1] > sorted(v)[0][1] for v in by_role.values())
    assert any(r["employee_id"] for r in rates)
    for r in _rows(landing, "timesheets/*.csv"):
        assert any(eff <= r["work_date"] for eff, _ in by_role[r["role"]])


def test_fx_rates_are_plausible_and_cover_every_day(landing):
    rows = _rows(landing, "fx_rates/*.csv")
    assert {(r["from_currency"], r["to_currency"]) for r in rows} == {("USD", "CNY")}
    assert all(Decimal("7.1") <= Decimal(r["rate"]) <= Decimal("7.3") for r in rows)
    dates = {r["rate_date"] for r in rows}
    assert min(dates) < "2026-05-01" and max(dates) >= "2026-11-30"


def test_budgets_are_a_million_a_month_split_20_10_30_40(landing):
    rows = _rows(landing, "budgets/*.csv")
    stage_rows = [r for r in rows if not r["leaf"] and not r["model_id"]]
    for month in MONTHS:
        split = {r["stage"]: Decimal(r["amount"]) for r in stage_rows if r["month"] == month}
        assert sum(split.values()) == Decimal("1000000")
        assert split == {
            "pretrain": Decimal("200000"),
            "tuning": Decimal("100000"),
            "deploy": Decimal("300000"),
            "maintenance": Decimal("400000"),
        }
    assert {r["currency"] for r in rows} == {"CNY"}
    assert {r["leaf"] for r in rows if r["leaf"]} <= set(LEAVES)
    assert len({r["leaf"] for r in rows if r["leaf"]}) >= 2


def test_gpu_hours_are_there_for_every_month(landing):
    models = {m["id"] for m in _yaml("models.yaml")["models"]}
    for month in MONTHS:
        rows = _csv_rows(landing / f"metrics/gpu_hours_{month}.csv")
        assert {r["metric"] for r in rows} == {"gpu_hours"}
        assert {r["model_id"] for r in rows} <= models and len(rows) >= 2
        assert all(Decimal(r["value"]) > 0 for r in rows)


def test_at_least_four_models_across_the_seed_scenarios(aws_rows, ali_rows, landing):
    tagged = {json.loads(r["Tags"]).get("cl-model") for r in [*aws_rows, *ali_rows]} - {None}
    assert len(tagged) >= 4
    scenarios = {m["scenario"] for m in _yaml("models.yaml")["models"] if m["id"] in tagged}
    assert {"search_ranking", "ad_serving"} <= scenarios


def test_every_leaf_has_a_source_every_month(landing, aws_rows, ali_rows):
    """Before the pipeline: each leaf gets a tagged cloud line, an invoice or a time log each month."""
    vendor_leaf = {"labeling": "labeled", "data": "data", "software": "software", "hardware": "hardware"}
    kinds = {v["id"]: v["kind"] for v in _yaml("vendors.yaml")["vendors"]}
    activity_leaf = _yaml("activities.yaml")["activities"]
    seen = defaultdict(set)
    for r in [*aws_rows, *ali_rows]:
        t = json.loads(r["Tags"])
        leaf = t.get("cl-leaf") or {"shared-gpu": "tuning_resources", "shared-serving": "hardware"}.get(
            t.get("cl-pool")
        )
        if leaf and Decimal(r["EffectiveCost"]) > 0:
            seen[str(r["ChargePeriodStart"])[:7]].add(leaf)
    for r in _rows(landing, "invoices/*/*.csv"):
        seen[r["service_period_start"][:7]].add(vendor_leaf[kinds[r["vendor"]]])
    for r in _rows(landing, "timesheets/*.csv"):
        seen[r["work_date"][:7]].add(activity_leaf[r["activity"]])
    for month in MONTHS:
        assert seen[month] == set(LEAVES), month


def test_a_bad_month_fails_before_writing(tmp_path):
    with pytest.raises(ValueError):
        demo.generate(tmp_path / "l", months=["2026-13"])
    assert not (tmp_path / "l").exists()


# ---- documents as vendors and trackers send them (issue 12) ---------------------------------


def test_labeling_vendors_send_their_last_invoice_as_xlsx_and_pdf(landing):
    from pipeline.ingest.documents import invoice_profile, load_profiles, read_invoice

    profiles = load_profiles(REPO / "config")
    models = _yaml("models.yaml")["models"]
    known_models = {m["id"] for m in models} | {a for m in models for a in m.get("aliases", [])}
    docs = {
        "annotate-pro": sorted((landing / "invoices" / "annotate-pro").glob("*.xlsx")),
        "crowdlabel": sorted((landing / "invoices" / "crowdlabel").glob("*.pdf")),
    }
    assert {v: len(files) for v, files in docs.items()} == {"annotate-pro": 1, "crowdlabel": 1}
    for vendor, (path,) in docs.items():
        rel = f"invoices/{vendor}/{path.name}"
        doc = read_invoice(path, rel, invoice_profile(path, rel, profiles), vendor)
        # the last month's invoice, numbered as the document says, and no CSV repeats it
        csv_numbers = {r["invoice_number"] for r in _rows(landing, f"invoices/{vendor}/*.csv")}
        assert doc.header["invoice_number"] == path.stem and path.stem not in csv_numbers
        assert doc.header["service_period_start"][:7] == MONTHS[-1]
        assert doc.header["reconciled"] == "ok"
        assert doc.header["printed_total"] == doc.header["lines_total"]
        for _, line in doc.rows:
            assert Decimal(line["amount"]) == (
                Decimal(line["quantity"]) * Decimal(line["unit_price"])
            ).quantize(Decimal("0.01"))
            assert line["model_or_project"] in known_models


def test_two_teams_log_the_first_month_in_tempo_and_harvest(landing, tmp_path):
    from pipeline.ingest.documents import load_profiles, read_time_export

    profiles = load_profiles(REPO / "config")
    activities = _yaml("activities.yaml")["activities"]
    con = duckdb.connect()
    people: dict[str, set[str]] = {}
    for tracker, profile in (("tempo", "tempo_worklogs"), ("harvest", "harvest_detailed")):
        (path,) = sorted((landing / "timesheets" / tracker).glob("*.csv"))
        got = read_time_export(con, path, f"timesheets/{tracker}/{path.name}", profiles[profile], tmp_path)
        assert got.rows_rejected == 0 and got.rows_in_file > 0
        rows = con.execute("select employee_id, work_date, activity from _incoming").fetchall()
        assert {r[2] for r in rows} <= set(activities)  # every tracker label maps back to an activity
        assert {r[1][:7] for r in rows} == {MONTHS[0]}
        people[tracker] = {r[0] for r in rows}
    # each person logs in one place: nobody's month is booked twice
    in_csv = {r["employee_id"] for r in _csv_rows(landing / f"timesheets/timelog_{MONTHS[0]}.csv")}
    assert people["tempo"] and people["harvest"] and in_csv
    assert not (people["tempo"] & people["harvest"]) and not ((people["tempo"] | people["harvest"]) & in_csv)
    # a Tempo worklog names no role: its people have a rate of their own
    own = {r["employee_id"] for r in _csv_rows(landing / "hr_rates/rates_by_employee.csv")}
    assert people["tempo"] <= own
