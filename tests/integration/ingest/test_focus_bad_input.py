"""Bad FOCUS files: each one gets a one-line error naming the file, or its bad lines land in
audit.rejected_rows with file, line and reason — and what was published before never changes."""

from __future__ import annotations

import dataclasses
import json
import shutil
from decimal import Decimal

import duckdb
import pytest

from pipeline.app.steps import run_all
from pipeline.config.settings import IngestCfg, load_settings
from pipeline.errors import CostledgerError
from tests.conftest import REPO, isolated_env

FIXTURES = REPO / "tests" / "fixtures" / "focus"
EXPECTED = json.loads((FIXTURES / "expected_totals.json").read_text())
BAD = EXPECTED["bad"]
USD_CNY = Decimal(EXPECTED["fx_to_cny"]["USD"])

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    isolated_env(monkeypatch, pii_key="focus-fixture-test-key")


@pytest.fixture(scope="module")
def _published_once(tmp_path_factory):
    """A landing with one good FOCUS 1.3 export, run and published once for the module."""
    mp = pytest.MonkeyPatch()
    isolated_env(mp, pii_key="focus-fixture-test-key")
    root = tmp_path_factory.mktemp("focus_baseline")
    landing = root / "landing"
    shutil.copytree(FIXTURES / "v1_3", landing / "focus" / "v1_3")
    (landing / "fx_rates").mkdir(parents=True)
    shutil.copy(FIXTURES / "fx_rates" / "rates.csv", landing / "fx_rates" / "rates.csv")
    try:
        run_all(load_settings(landing=landing, warehouse=root / "warehouse"))
    finally:
        mp.undo()
    return root


@pytest.fixture
def baseline(_published_once, tmp_path):
    """A private copy of the published baseline (landing + warehouse) for one test."""
    shutil.copytree(_published_once / "landing", tmp_path / "landing")
    shutil.copytree(
        _published_once / "warehouse", tmp_path / "warehouse", ignore=shutil.ignore_patterns("*.lock")
    )
    return load_settings(landing=tmp_path / "landing", warehouse=tmp_path / "warehouse")


def drop_in(settings, rel: str) -> str:
    """Copy tests/fixtures/focus/<rel> to landing/focus/<rel>; return its path under landing."""
    dest = settings.landing / "focus" / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / rel, dest)
    return f"focus/{rel}"


def published_rows(settings, sql, params=None):
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


FILE_LEVEL = sorted(k for k, v in BAD.items() if v["kind"] == "file")
ROW_LEVEL = sorted(k for k, v in BAD.items() if v["kind"] in ("rows", "rows_or_file"))


@pytest.mark.parametrize("rel", FILE_LEVEL)
def test_unusable_file_fails_the_run_with_one_line_naming_it_and_leaves_the_published_ledger(baseline, rel):
    before = baseline.published_db.read_bytes()
    path = drop_in(baseline, rel)
    with pytest.raises(CostledgerError) as err:
        run_all(baseline)
    msg = str(err.value)
    assert "\n" not in msg.strip(), f"error is not one line: {msg!r}"
    assert path in msg, f"error does not name the file {path}: {msg!r}"
    for word in BAD[rel]["mentions"]:
        assert word.lower() in msg.lower(), f"error does not say {word!r}: {msg!r}"
    assert baseline.published_db.read_bytes() == before, "a failed run changed the published file"


# files whose bad rows the reader rejects (the unknown charge category is left to the raw gate)
READER_REJECTS = ["bad/malformed/broken_row.csv", "bad/non_numeric/bad_amount.csv"]


@pytest.mark.parametrize("rel", READER_REJECTS)
def test_a_file_with_more_than_max_reject_share_rejected_is_refused_whole(baseline, rel):
    """These files have 1 bad row in 3 or 4: far above the default 1 %, so nothing of them is booked."""
    spec = BAD[rel]
    before = baseline.published_db.read_bytes()
    path = drop_in(baseline, rel)
    with pytest.raises(CostledgerError) as err:
        run_all(baseline)
    msg = str(err.value)
    assert "\n" not in msg.strip(), msg
    n, of = len(spec["rejected_lines"]), spec["rows_in_file"]
    assert msg.startswith(f"{path}: {n} of {of} rows rejected ("), msg
    assert "over ingest.max_reject_share = 1 %" in msg, msg
    assert f"first: line {spec['rejected_lines'][0]}: " in msg, msg
    assert baseline.published_db.read_bytes() == before, "a refused file changed the published ledger"
    con = duckdb.connect(str(baseline.work_db), read_only=True)
    try:
        assert con.execute(
            "select count(*) from raw.focus_line_items where source_file = ?", [path]
        ).fetchone() == (0,)
        assert con.execute("select status from audit.files where source_file = ?", [path]).fetchone() == (
            "refused",
        )
    finally:
        con.close()


@pytest.mark.parametrize("rel", ROW_LEVEL)
def test_bad_rows_are_kept_with_file_line_and_reason_and_the_rest_is_booked(baseline, rel):
    """With `ingest.max_reject_share` raised, the bad rows are rejected one by one and the rest is booked."""
    spec = BAD[rel]
    baseline = dataclasses.replace(baseline, ingest=IngestCfg(max_reject_share=0.5))
    before = baseline.published_db.read_bytes()
    path = drop_in(baseline, rel)
    try:
        run_all(baseline)
    except CostledgerError as exc:
        if spec["kind"] != "rows_or_file":
            raise
        msg = str(exc)
        assert path in msg and "\n" not in msg.strip(), msg
        assert all(word.lower() in msg.lower() for word in spec["mentions"]), msg
        assert baseline.published_db.read_bytes() == before, "a failed run changed the published file"
        return
    rejected = published_rows(
        baseline,
        "select source_row, field, reason from audit.rejected_rows where source_file = ? order by 1",
        [path],
    )
    assert [r[0] for r in rejected] == spec["rejected_lines"], f"rejected lines of {path}: {rejected}"
    for word in spec["mentions"]:
        assert any(word.lower() in f"{field} {reason}".lower() for _, field, reason in rejected), rejected
    (booked,) = published_rows(
        baseline,
        "select sum(billed_cost_original), sum(billed_cost), count(distinct source_row) from marts.cost_line_items "
        "where source_file = ? and strftime(month, '%Y-%m') = ?",
        [path, spec["loaded_month"]],
    )
    assert booked[0] == Decimal(spec["loaded_billed"])
    assert booked[1].quantize(Decimal("0.01")) == (Decimal(spec["loaded_billed"]) * USD_CNY).quantize(
        Decimal("0.01")
    )
    assert booked[2] == spec["rows_in_file"] - len(spec["rejected_lines"])
    (rec,) = published_rows(
        baseline,
        "select rows_in_file, rows_read, rows_rejected, difference from audit.reconciliation "
        "where source_file = ?",
        [path],
    )
    assert (
        rec[0] == spec["rows_in_file"] and rec[1] + rec[2] == rec[0] and rec[2] == len(spec["rejected_lines"])
    )
    assert abs(rec[3]) < Decimal("0.01")
