"""FOCUS exports in the real shapes of the big clouds, end to end: landing -> published file.

Each fixture tree (tests/fixtures/focus/<tree>) is copied to landing/focus/<tree> next to the
fixture FX rates, the whole pipeline runs with the repository's config (reporting currency
CNY), and the published ledger must hold every cent of every file and month that
tests/fixtures/focus/README.md lists: read, converted, placed, reconciled.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipeline.app.steps import run_all
from pipeline.config.settings import load_settings
from tests.conftest import REPO, isolated_env

FIXTURES = REPO / "tests" / "fixtures" / "focus"
EXPECTED = json.loads((FIXTURES / "expected_totals.json").read_text())
FX = {k: Decimal(v) for k, v in EXPECTED["fx_to_cny"].items()}
CENT = Decimal("0.01")

GOOD_TREES = ["aws", "aws_parquet", "gcp", "azure", "v1_3", "sandbox"]

TREES = GOOD_TREES

pytestmark = pytest.mark.slow


def _clear_env(monkeypatch):
    isolated_env(monkeypatch, pii_key="focus-fixture-test-key")


def make_landing(root: Path, *trees: str) -> Path:
    landing = root / "landing"
    for tree in trees:
        shutil.copytree(FIXTURES / tree, landing / "focus" / tree)
    (landing / "fx_rates").mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "fx_rates" / "rates.csv", landing / "fx_rates" / "rates.csv")
    return landing


def run_on(root: Path, *trees: str):
    landing = make_landing(root, *trees)
    settings = load_settings(landing=landing, warehouse=root / "warehouse")
    summary = run_all(settings)
    return settings, summary


def query(settings, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def expected_for(tree: str) -> dict[tuple[str, str], dict]:
    """{(source_file relative to landing, 'YYYY-MM'): totals} for one fixture tree."""
    return {
        (f"focus/{rel}", month): t
        for rel, months in EXPECTED["files"].items()
        if rel.startswith(f"{tree}/")
        for month, t in months.items()
    }


def cents(x) -> Decimal:
    return Decimal(x).quantize(CENT)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """One run per fixture tree (so a problem in one provider's file shows on that provider)."""
    mp = pytest.MonkeyPatch()
    _clear_env(mp)
    runs = {}
    try:
        for tree in GOOD_TREES:
            root = tmp_path_factory.mktemp(f"focus_{tree}")
            try:
                runs[tree] = run_on(root, tree)
            except Exception as exc:  # reported by the tests of that tree
                runs[tree] = exc
    finally:
        mp.undo()
    return runs


def _settings(published, tree):
    run = published[tree]
    if isinstance(run, Exception):
        pytest.fail(f"costledger run on the {tree} FOCUS fixture failed: {type(run).__name__}: {run}")
    return run[0]


@pytest.mark.parametrize("tree", TREES)
def test_run_publishes_every_file_and_month_of_the_export(published, tree):
    settings = _settings(published, tree)
    got = {
        (f, m.isoformat()[:7])
        for f, m in query(
            settings,
            "select distinct source_file, month from marts.cost_line_items where source_system = 'focus'",
        )
    }
    assert got == set(expected_for(tree)), "published (file, month) pairs differ from the fixture README"


@pytest.mark.parametrize("tree", TREES)
def test_no_row_of_a_valid_export_is_rejected(published, tree):
    settings = _settings(published, tree)
    rejected = query(
        settings,
        "select source_file, source_row, reason from audit.rejected_rows "
        "where source_file like 'focus/%' order by 1, 2 limit 5",
    )
    assert rejected == [], f"valid FOCUS rows were rejected, e.g. {rejected}"


@pytest.mark.parametrize("tree", TREES)
def test_effective_and_billed_cost_per_file_and_month_match_the_fixture_to_the_cent(published, tree):
    settings = _settings(published, tree)
    rows = query(
        settings,
        """
        select source_file, strftime(month, '%Y-%m'), any_value(currency),
               sum(effective_cost_original), sum(billed_cost_original), sum(effective_cost), sum(billed_cost)
        from marts.cost_line_items where source_system = 'focus'
        group by all
        """,
    )
    got = {(f, m): r for f, m, *r in rows}
    problems = []
    for key, t in expected_for(tree).items():
        if key not in got:
            problems.append(f"{key}: not published")
            continue
        ccy, eff_o, bill_o, eff, bill = got[key]
        rate = FX[t["currency"]]
        want = {
            "effective (original)": (eff_o, Decimal(t["effective_cost"])),
            "billed (original)": (bill_o, Decimal(t["billed_cost"])),
            "effective (CNY)": (eff, Decimal(t["effective_cost"]) * rate),
            "billed (CNY)": (bill, Decimal(t["billed_cost"]) * rate),
        }
        if ccy != t["currency"]:
            problems.append(f"{key}: currency {ccy}, expected {t['currency']}")
        for what, (have, should) in want.items():
            if have is None or cents(have) != cents(should):
                problems.append(f"{key} {what}: published {have}, expected {cents(should)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("tree", TREES)
def test_reconciliation_conserves_every_file_and_month(published, tree):
    settings = _settings(published, tree)
    rows = query(
        settings,
        """
        select source_file, strftime(month, '%Y-%m'), input_cost, difference, rows_in_file, rows_read, rows_rejected
        from audit.reconciliation where source_file like 'focus/%'
        """,
    )
    assert {(f, m) for f, m, *_ in rows} == set(expected_for(tree))
    for f, m, input_cost, difference, in_file, read, rejected in rows:
        t = expected_for(tree)[(f, m)]
        assert abs(difference) < CENT, f"{f} {m}: cost not conserved, difference {difference}"
        assert cents(input_cost) == cents(Decimal(t["effective_cost"]) * FX[t["currency"]]), (
            f,
            m,
            input_cost,
        )
        assert read + rejected == in_file, (
            f"{f}: {read} read + {rejected} rejected != {in_file} rows in the file"
        )
        assert in_file == EXPECTED["file_meta"][f.removeprefix("focus/")]["rows"]


def test_aws_manifest_period_loads_all_its_chunks_and_a_correction_books_to_its_charge_month(published):
    settings = _settings(published, "aws")
    jan = query(
        settings,
        "select distinct source_file from marts.cost_line_items where month = date '2026-01-01' order by 1",
    )
    assert [r[0].rsplit("/", 2)[-2:] for r in jan] == [
        ["BILLING_PERIOD=2026-01", "focus-ai-prod-00001.csv.gz"],
        ["BILLING_PERIOD=2026-01", "focus-ai-prod-00002.csv.gz"],
        ["BILLING_PERIOD=2026-02", "focus-ai-prod-00001.csv.gz"],
    ]
    (corr,) = query(
        settings,
        "select charge_class, effective_cost_original from marts.cost_line_items "
        "where source_file like '%BILLING_PERIOD=2026-02%' and month = date '2026-01-01'",
    )
    assert corr == ("Correction", Decimal("-9.0000000000"))


def test_focus_1_3_export_without_provider_name_takes_the_provider_from_service_provider_name(published):
    settings = _settings(published, "v1_3")
    providers = dict(
        query(
            settings,
            "select provider, sum(effective_cost_original) from marts.cost_line_items "
            "where source_system = 'focus' group by 1",
        )
    )
    assert None not in providers, "lines of a FOCUS 1.3 export were published without a provider"
    assert cents(providers["Zhipu AI"]) == Decimal("356.42")  # seller, not the host (Alibaba Cloud)
    assert cents(providers["Alibaba Cloud"]) == Decimal("9048.29")


@pytest.mark.parametrize(
    "tree, model_id, leaf, amount",
    [
        # FOCUS 1.3, CNY: two days of the tagged PAI-EAS endpoint.
        ("v1_3", "ads-ctr-dcn", "hardware", Decimal("3686.40")),
        # Azure, EUR -> CNY: reservation-amortised + on-demand training VM days.
        pytest.param(
            "azure",
            "reco-llm",
            "training",
            (Decimal("48.5521") * 2 + Decimal("630.5831") + Decimal("315.29155")) * FX["EUR"],
        ),
    ],
)
def test_tagged_cloud_lines_land_on_the_model_and_leaf_of_their_tags(published, tree, model_id, leaf, amount):
    settings = _settings(published, tree)
    (got,) = query(
        settings,
        "select sum(effective_cost) from marts.cost_line_items where model_id = ? and leaf = ?",
        [model_id, leaf],
    )[0]
    assert got is not None and cents(got) == cents(amount)


@pytest.mark.parametrize(
    "tree, amount_original",
    [
        ("v1_3", Decimal("96.00")),  # cl-workload: storefront
        pytest.param("azure", Decimal("211.68")),  # cl-workload: checkout
        pytest.param("gcp", Decimal("9.3408")),  # label cl-workload: storefront
    ],
)
def test_web_shop_lines_are_out_of_scope_but_still_reconciled(published, tree, amount_original):
    settings = _settings(published, tree)
    (got,) = query(
        settings, "select sum(effective_cost_original) from marts.cost_line_items where leaf = 'out_of_scope'"
    )[0]
    assert got is not None and cents(got) == cents(amount_original)


def test_aws_cost_allocation_tags_are_matched_by_the_tag_name_people_gave_them(published):
    """AWS Data Exports write a user tag `cl-model` as `user:cl-model` in Tags; a rule on
    tag.cl-model (config/cost_rules.yaml) must still place the line."""
    settings = _settings(published, "aws")
    placed = dict(
        query(
            settings,
            "select leaf, sum(effective_cost_original) from marts.cost_line_items "
            "where model_id = 'reco-llm' group by 1",
        )
    )
    assert cents(placed.get("hardware", 0)) == Decimal("181.80"), placed  # SageMaker endpoint, Jan + Feb
    (oos,) = query(
        settings, "select sum(effective_cost_original) from marts.cost_line_items where leaf = 'out_of_scope'"
    )[0]
    assert oos is not None and cents(oos) == Decimal("27.65")  # the web shop instance, Jan + Feb


def test_gcp_labels_from_the_focus_view_tags_place_the_line(published):
    """The BigQuery FOCUS view delivers Tags as a repeated {key, value} struct, not JSON text."""
    settings = _settings(published, "gcp")
    (got,) = query(
        settings,
        "select sum(effective_cost_original) from marts.cost_line_items "
        "where model_id = 'ads-ctr-dcn' and leaf = 'hardware'",
    )[0]
    assert got is not None and cents(got) == Decimal("141.12")


def test_rerunning_on_the_same_fixture_changes_nothing(published):
    settings = _settings(published, "v1_3")
    sql = "select source_file, source_row, leaf, model_id, effective_cost from marts.cost_line_items order by all"
    before = query(settings, sql)
    run_all(settings)
    assert query(settings, sql) == before
