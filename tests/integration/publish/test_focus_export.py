"""`costledger export focus` (issue 13, point 7; docs/focus.md, "Exporting the ledger as FOCUS").

The tiny company (tests/fixtures/ledger: cloud billing, vendor invoices, time logs) plus an asset
register with a server in the shared GPU pool (a line split across models), run for real, then
exported through the CLI as CSV and Parquet and read back with DuckDB:

- the sums per month equal the published rollup's C_total + unallocated + out of scope, to the
  cent, on both cost bases, from either file;
- the FOCUS 1.3 columns the spec makes mandatory are present, typed and non-null where the spec
  says so, with allowed values, and the split cost allocation columns have the spec's structure;
- no employee name, e-mail, id or pseudonym, and no time-log file name, is in the export;
- read back through costledger's own FOCUS reader, the export reproduces the totals to the cent.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from decimal import Decimal

import duckdb
import pytest

from pipeline.config.settings import load_settings
from tests.conftest import SMALL_LANDING
from tests.fixtures.cli import cli
from tests.fixtures.focus_export import check_focus_1_3

pytestmark = pytest.mark.slow

CENT = Decimal("0.01")
REGISTER = """\
asset_id,description,purchase_date,in_service_date,cost,currency,useful_life_months,salvage_value,serves,leaf,effective_month,disposal_date,disposal_proceeds,contract_id,contract_start,contract_end,contract_amount
GPU-1,8x GPU inference server,2026-07-20,2026-08-10,10000.00,CNY,3,0,search-rerank-bert,hardware,,,,,,,
POOL-1,shared fine-tuning node,2026-08-01,2026-09-01,3000.00,CNY,3,0,pool:shared-gpu,tuning_resources,,,,,,,
"""


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("focus_export")
    landing, warehouse = root / "landing", root / "warehouse"
    shutil.copytree(SMALL_LANDING, landing)
    (landing / "assets").mkdir()
    (landing / "assets" / "register.csv").write_text(REGISTER)
    run = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert run.returncode == 0, run.stderr
    out_csv, out_parquet = root / "out" / "ledger.csv", root / "out" / "ledger.parquet"
    ex_csv = cli("export", "focus", "--out", str(out_csv), landing=landing, warehouse=warehouse)
    ex_pq = cli(
        "export",
        "focus",
        "--format",
        "parquet",
        "--out",
        str(out_parquet),
        landing=landing,
        warehouse=warehouse,
    )
    assert ex_csv.returncode == 0, ex_csv.stderr
    assert ex_pq.returncode == 0, ex_pq.stderr
    settings = load_settings(landing=landing, warehouse=warehouse)
    return {
        "root": root,
        "settings": settings,
        "csv": out_csv,
        "parquet": out_parquet,
        "stdout": ex_csv.stdout,
    }


def _published(settings, sql, params=None):
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _rollup(settings) -> dict:
    rows = _published(
        settings,
        "select month, sum(c_total + c_unallocated + c_out_of_scope) from marts.monthly_cost_rollup "
        "group by month order by month",
    )
    return {m: Decimal(v).quantize(CENT) for m, v in rows}


def _read_csv(path, con):
    # FOCUS CSV as any reader would type it: costs as DECIMAL, periods as timestamps
    return con.execute(
        "select * from read_csv(?, header = true, all_varchar = true)", [str(path)]
    ).fetchall(), [d[0] for d in con.description]


def test_sums_per_month_equal_the_rollup_to_the_cent(ledger):
    expected = _rollup(ledger["settings"])
    assert expected, "the tiny company has published months"
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    from_parquet = con.execute(
        "select cast(x_Month as date), sum(EffectiveCost), sum(x_Cost) from read_parquet(?) group by 1 order by 1",
        [str(ledger["parquet"])],
    ).fetchall()
    from_csv = con.execute(
        "select cast(x_Month as date), sum(cast(EffectiveCost as decimal(38,10))) "
        "from read_csv(?, header = true, all_varchar = true) group by 1 order by 1",
        [str(ledger["csv"])],
    ).fetchall()
    # the tiny company books effective cost (cost_basis: effective), so x_Cost is EffectiveCost
    assert {m: Decimal(e).quantize(CENT) for m, e, _ in from_parquet} == expected
    assert {m: Decimal(c).quantize(CENT) for m, _, c in from_parquet} == expected
    assert {m: Decimal(e).quantize(CENT) for m, e in from_csv} == expected
    # billed cost too: against the published line items' billed cost, per month
    billed = dict(
        _published(ledger["settings"], "select month, sum(billed_cost) from marts.cost_line_items group by 1")
    )
    got = dict(
        con.execute(
            "select cast(x_Month as date), sum(BilledCost) from read_parquet(?) group by 1",
            [str(ledger["parquet"])],
        ).fetchall()
    )
    assert {m: Decimal(v).quantize(CENT) for m, v in got.items()} == {
        m: Decimal(v).quantize(CENT) for m, v in billed.items()
    }
    # every source is in it, assets and people included
    systems = {
        r[0]
        for r in con.execute(
            "select distinct x_SourceSystem from read_parquet(?)", [str(ledger["parquet"])]
        ).fetchall()
    }
    assert systems == {"focus", "invoice", "timesheet", "asset"}
    assert "FOCUS 1.3 csv" in ledger["stdout"]


def test_mandatory_columns_types_nulls_and_values(ledger):
    recs = check_focus_1_3(ledger["parquet"])
    # the pool server's depreciation is split across models: the split rows are there and the
    # ratios of one line's shares add up to 1 (line id = the line's id + '/' + the model)
    split = [r for r in recs if r["AllocatedMethodId"]]
    assert {r["x_SourceSystem"] for r in split} >= {"asset"}
    by_line: dict[str, Decimal] = {}
    for r in split:
        line = r["x_LineId"].rsplit("/", 1)[0]
        ratio = Decimal(str(json.loads(r["AllocatedMethodDetails"])["Elements"][0]["AllocatedRatio"]))
        by_line[line] = by_line.get(line, Decimal(0)) + ratio
    assert all(abs(v - 1) < Decimal("1e-9") for v in by_line.values()), by_line

    # the CSV writes FOCUS DateTime as YYYY-MM-DDTHH:mm:ssZ
    with ledger["csv"].open() as fh:
        first = next(csv.DictReader(fh))
    assert first["ChargePeriodStart"].endswith("Z") and "T" in first["ChargePeriodStart"]


def test_no_person_in_the_export(ledger):
    settings = ledger["settings"]
    people: set[str] = set()
    for path in (settings.landing / "timesheets").rglob("*.csv"):
        with path.open() as fh:
            for row in csv.DictReader(fh):
                people |= {row["employee_id"], row["employee_name"], row["employee_email"]}
                people |= set(row["employee_name"].split())
    con = duckdb.connect(str(settings.work_db), read_only=True)
    try:
        people |= {r[0] for r in con.execute("select employee_key from raw.employee_keys").fetchall()}
    finally:
        con.close()
    people = {p for p in people if p and len(p) >= 3}
    assert people
    timesheet_files = {p.name for p in (settings.landing / "timesheets").rglob("*.csv")}
    for path in (ledger["csv"],):
        text = path.read_text().lower()
        for p in people:
            # whole words: a name part inside another word ('Ana' in 'management') is no name
            assert not re.search(rf"(?<![a-z0-9]){re.escape(p.lower())}(?![a-z0-9])", text), (
                f"{p!r} in the export"
            )
        for f in timesheet_files:
            assert f not in text
    # people cost is exported exactly as published: one row per published people row, same total
    con = duckdb.connect()
    exported = con.execute(
        "select count(*), sum(EffectiveCost) from read_parquet(?) where x_SourceSystem = 'timesheet'",
        [str(ledger["parquet"])],
    ).fetchone()
    published = _published(
        settings,
        "select count(*), sum(effective_cost) from marts.cost_line_items where source_system = 'timesheet'",
    )[0]
    assert exported[0] == published[0] > 0
    assert Decimal(exported[1]).quantize(CENT) == Decimal(published[1]).quantize(CENT)


def test_read_back_through_costledgers_focus_reader(ledger, tmp_path):
    """The export is a FOCUS file costledger itself reads: as the only source of a new ledger it
    gives the same total per month, to the cent."""
    landing = tmp_path / "landing"
    (landing / "focus" / "costledger-export").mkdir(parents=True)
    shutil.copy(ledger["csv"], landing / "focus" / "costledger-export" / "focus-export.csv")
    run = cli("run", "--quiet", landing=landing, warehouse=tmp_path / "warehouse")
    assert run.returncode == 0, run.stderr + run.stdout
    settings = load_settings(landing=landing, warehouse=tmp_path / "warehouse")
    again = {m: Decimal(v).quantize(CENT) for m, v in _published(
        settings, "select month, sum(effective_cost) from marts.cost_line_items group by 1"
    )}  # fmt: skip
    assert again == _rollup(ledger["settings"])


def test_month_selection_and_errors(ledger, tmp_path):
    settings = ledger["settings"]
    months = sorted(_rollup(settings))
    one = months[-1]
    out = tmp_path / "one.parquet"
    res = cli(
        "export", "focus", "--month", f"{one:%Y-%m}", "--format", "parquet", "--out", str(out),
        landing=settings.landing, warehouse=settings.warehouse,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    got = (
        duckdb.connect()
        .execute("select distinct cast(x_Month as date) from read_parquet(?)", [str(out)])
        .fetchall()
    )
    assert got == [(one,)]
    res = cli("export", "focus", "--month", "1999-01", landing=settings.landing, warehouse=settings.warehouse)
    assert res.returncode != 0 and "no published month" in res.stderr
    res = cli(
        "export", "focus", "--month", "2026-09", "--from", "2026-09",
        landing=settings.landing, warehouse=settings.warehouse,
    )  # fmt: skip
    assert res.returncode != 0 and "not both" in res.stderr
