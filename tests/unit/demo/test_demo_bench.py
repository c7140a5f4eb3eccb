"""The benchmark's FOCUS generator and its bare-DuckDB yardstick (the costledger run is timed by make bench)."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json

import duckdb
import pytest

from examples.demo.generate import FOCUS_12_COLUMNS
from pipeline.ledger import LEAVES
from tests.conftest import REPO

# tools/bench.py is a script (`make bench`), not an installed module: load it from its file
_SPEC = importlib.util.spec_from_file_location("costledger_bench", REPO / "tools" / "bench.py")
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_generates_n_focus_1_2_lines_with_decimal_money(tmp_path, fmt):
    f = bench.generate(tmp_path / "landing", 3000, fmt)
    con = duckdb.connect()
    reader = "read_csv" if fmt == "csv" else "read_parquet"
    cur = con.execute(f"select * from {reader}('{f}') limit 0")
    assert [d[0] for d in cur.description] == list(FOCUS_12_COLUMNS)
    n, currencies, providers, categories = con.execute(
        f"select count(*), list(distinct BillingCurrency order by BillingCurrency),"
        f" list(distinct ProviderName order by ProviderName),"
        f" list(distinct ChargeCategory order by ChargeCategory) from {reader}('{f}')"
    ).fetchone()
    assert n == 3000
    assert currencies == ["CNY", "USD"]
    assert providers == ["AWS", "Alibaba Cloud"]
    assert set(categories) == {"Usage", "Tax", "Credit", "Purchase"}
    if fmt == "parquet":
        types = dict(con.execute(f"select name, type from parquet_schema('{f}')").fetchall())
        assert types["BilledCost"] == "FIXED_LEN_BYTE_ARRAY"  # DECIMAL(38,10), not DOUBLE
    con.close()


def test_the_export_is_the_same_for_the_same_n(tmp_path):
    a = bench.generate(tmp_path / "a", 2000, "csv")
    b = bench.generate(tmp_path / "b", 2000, "csv")
    assert hashlib.sha256(a.read_bytes()).hexdigest() == hashlib.sha256(b.read_bytes()).hexdigest()


def test_by_month_writes_the_same_lines_as_one_file_per_billing_period(tmp_path):
    whole = bench.generate(tmp_path / "a", 1800, "csv")
    monthly = bench.generate(tmp_path / "b", 1800, "csv", by_month=True)
    assert sorted(p.name for p in monthly.parent.glob(monthly.name)) == [
        f"billing-period-{m}.csv" for m in bench.MONTHS
    ]
    con = duckdb.connect()
    per_file = con.execute(
        f'select parse_filename(filename) as f, count(*), count(distinct "BillingPeriodStart"),'
        f" min(\"BillingPeriodStart\") from read_csv('{monthly}', filename = true, all_varchar = true)"
        " group by 1 order by 1"
    ).fetchall()
    assert [(f, k) for f, _, k, _ in per_file] == [(f"billing-period-{m}.csv", 1) for m in bench.MONTHS]
    assert [p[:7] for *_, p in per_file] == list(bench.MONTHS)
    same = con.execute(
        f"select count(*) from (select * from read_csv(['{whole}'], all_varchar = true)"
        f" except all select * exclude (filename) from read_csv('{monthly}', filename = true, all_varchar = true))"
    ).fetchone()[0]
    assert sum(n for _, n, _, _ in per_file) == 1800 and same == 0
    con.close()


def test_tags_place_lines_by_the_demo_rules_and_side_files_exist(tmp_path):
    landing = tmp_path / "landing"
    f = bench.generate(landing, 2400, "csv")
    with f.open(newline="") as fh:
        tags = [json.loads(r["Tags"]) for r in csv.DictReader(fh)]
    assert {t["cl-leaf"] for t in tags if "cl-leaf" in t} <= set(LEAVES)
    assert {t.get("cl-pool") for t in tags} >= {"shared-gpu", "shared-serving"}
    assert any(t.get("cl-workload") == "webshop" for t in tags)
    assert any(t == {} for t in tags)
    for side in ("fx_rates/usd_cny_daily.csv", "budgets/stage_budgets.csv", "metrics/gpu_hours.csv"):
        assert (landing / side).stat().st_size > 0
    with (landing / "budgets/stage_budgets.csv").open(newline="") as fh:
        budget = list(csv.DictReader(fh))
    assert {r["month"] for r in budget} == set(bench.MONTHS)


def test_bare_duckdb_load_is_measured_with_its_peak_memory(tmp_path):
    f = bench.generate(tmp_path / "landing", 2000, "parquet")
    m = bench._measure(bench.bare_duckdb_cmd(f, tmp_path / "bare.duckdb"))
    assert m["rc"] == 0 and m["stdout"].strip() == "2000"
    assert m["seconds"] > 0 and m["peak_rss_bytes"] > 10 * 2**20


def test_generate_only_prints_what_it_wrote(tmp_path, capsys):
    assert (
        bench.main(["--lines", "500", "--format", "parquet", "--workdir", str(tmp_path), "--generate-only"])
        == 0
    )
    assert "500 FOCUS 1.2 lines" in capsys.readouterr().out


def test_steps_are_grouped_and_their_peak_comes_from_their_own_window(tmp_path):
    timings = {
        "discover": 1.0,
        "load_focus": 3.0,
        "check_raw": 1.0,
        "transform": 4.0,
        "check_marts": 1.0,
        "publish": 2.0,
    }
    # laid end to end before the exit at 13 s: load 1..5, check_raw 5..6, transform 6..10, ...
    run = {"seconds": 13.0, "started_at": 0.0}
    windows, exact = bench.step_windows(tmp_path, run, timings)
    assert not exact and windows["transform"] == (6.0, 10.0)
    samples = [(2.0, 100, 1.0), (4.0, 100, 2.5), (7.0, 900, 4.0), (10.5, 300, 8.0), (12.0, 200, 9.0)]
    steps = bench.per_step(timings, windows, samples)
    assert list(steps) == ["load", "transform", "gates", "publish"]
    assert steps["load"] == {"seconds": 4.0, "peak_rss_bytes": 100, "cpu_seconds": 1.5}
    assert steps["transform"]["peak_rss_bytes"] == 900
    assert steps["gates"]["seconds"] == 2.0 and steps["gates"]["peak_rss_bytes"] == 300


def test_the_notebook_sums_the_export_as_decimal(tmp_path):
    f = bench.generate(tmp_path / "landing", 1200, "csv")
    m = bench._measure(bench.notebook_cmd(f))
    assert m["rc"] == 0, m["stderr"]
    rows, groups, total = m["stdout"].split(maxsplit=2)
    con = duckdb.connect()
    want = con.execute(
        f"select sum(cast(EffectiveCost as decimal(38,10))) from read_csv('{f}', all_varchar=true)"
    )
    assert int(rows) == 1200 and int(groups) > 1
    assert float(total) == float(want.fetchone()[0])


def _by_file(con, glob):
    return con.execute(
        f'select parse_filename(filename), count(*), count(distinct "BillingPeriodStart"), min("BillingPeriodStart")'
        f" from read_csv('{glob}', filename = true, all_varchar = true) group by 1 order by 1"
    ).fetchall()


def test_months_12_by_month_writes_a_years_history_one_billing_period_a_file(tmp_path):
    year = [f"2026-{m:02d}" for m in range(1, 13)]
    assert bench.bench_months(12) == tuple(year) and bench.bench_days(12) == 365
    whole = bench.generate(tmp_path / "a", 1800, "csv", months=12)
    monthly = bench.generate(tmp_path / "b", 1800, "csv", by_month=True, months=12)
    con = duckdb.connect()
    per_file = _by_file(con, monthly)
    assert [(f, k, p[:7]) for f, _, k, p in per_file] == [(f"billing-period-{m}.csv", 1, m) for m in year]
    assert all(n > 0 for _, n, _, _ in per_file) and sum(n for _, n, _, _ in per_file) == 1800
    same = con.execute(
        f"select count(*) from (select * from read_csv(['{whole}'], all_varchar = true)"
        f" except all select * exclude (filename) from read_csv('{monthly}', filename = true, all_varchar = true))"
    ).fetchone()[0]
    assert same == 0
    # spread evenly over the days of the year: every day has lines, none has two more than another
    days = con.execute(
        f'select count(*), min(n), max(n), min(d), max(d) from (select left("ChargePeriodStart", 10) as d,'
        f" count(*) as n from read_csv('{whole}', all_varchar = true) group by 1)"
    ).fetchone()
    assert days[0] == 365 and days[2] - days[1] <= 1 and (days[3], days[4]) == ("2026-01-01", "2026-12-31")
    con.close()


def test_default_months_writes_the_same_three_billing_periods(tmp_path):
    default = bench.generate(tmp_path / "a", 1800, "csv", by_month=True)
    three = bench.generate(tmp_path / "b", 1800, "csv", by_month=True, months=3)
    names = sorted(p.name for p in default.parent.glob(default.name))
    assert names == ["billing-period-2026-01.csv", "billing-period-2026-02.csv", "billing-period-2026-03.csv"]
    assert bench.MONTHS == bench.bench_months(3) and bench.BENCH_DAYS == 90
    for name in names:
        assert (default.parent / name).read_bytes() == (three.parent / name).read_bytes()
    con = duckdb.connect()
    assert [p[:7] for *_, p in _by_file(con, default)] == ["2026-01", "2026-02", "2026-03"]
    con.close()


@pytest.mark.parametrize("months", [1, 12, 24])
def test_fx_budgets_and_metrics_cover_every_month_of_the_history(tmp_path, months):
    landing = tmp_path / "landing"
    f = bench.generate(landing, bench.bench_days(months), "csv", months=months)
    history = set(bench.bench_months(months))
    for side in ("budgets/stage_budgets.csv", "metrics/gpu_hours.csv"):
        with (landing / side).open(newline="") as fh:
            assert {r["month"] for r in csv.DictReader(fh)} == history, side
    con = duckdb.connect()
    first, last, n = con.execute(
        f"select min(left(ChargePeriodStart, 10)), max(left(ChargePeriodStart, 10)), count(distinct left(BillingPeriodStart, 7))"
        f" from read_csv('{f}', all_varchar = true)"
    ).fetchone()
    assert n == months
    missing = con.execute(
        f"select count(*) from (select distinct left(ChargePeriodStart, 10) as d from read_csv('{f}', all_varchar = true))"
        f" where d not in (select rate_date from read_csv('{landing}/fx_rates/usd_cny_daily.csv', all_varchar = true))"
    ).fetchone()[0]
    assert missing == 0 and first[:7] == "2026-01" and last[:7] == max(history)
    con.close()


def test_months_joins_the_reuse_stamp(tmp_path):
    landing = tmp_path / "landing"
    three = bench.generate(landing, 800, "csv", by_month=True)
    assert len(list(three.parent.glob(three.name))) == 3
    twelve = bench.generate(landing, 800, "csv", by_month=True, months=12)
    files = sorted(twelve.parent.glob(twelve.name))
    assert [p.name[15:22] for p in files] == list(bench.bench_months(12))
    stamps = [p.stat().st_mtime_ns for p in files]
    assert json.loads((landing / ".bench.json").read_text())["months"] == 12
    bench.generate(landing, 800, "csv", by_month=True, months=12)  # the same ask: reused
    assert [p.stat().st_mtime_ns for p in files] == stamps
    # a stamp written before --months existed is a 3-month export: still reused by the default
    landing2 = tmp_path / "old"
    f = bench.generate(landing2, 500, "csv")
    stamp = json.loads((landing2 / ".bench.json").read_text())
    (landing2 / ".bench.json").write_text(json.dumps({k: v for k, v in stamp.items() if k != "months"}))
    before = f.stat().st_mtime_ns
    assert bench.generate(landing2, 500, "csv") == f and f.stat().st_mtime_ns == before


def test_the_night_month_stays_inside_the_history():
    assert bench.night_month() == bench.NIGHT_MONTH == "2026-02"
    assert bench.night_month(12) == "2026-02" and bench.night_month(24) == "2026-02"
    assert bench.night_month(1) == "2026-01"


@pytest.mark.parametrize("months", ["0", "25", "-3"])
def test_months_out_of_range_is_refused_in_one_line(tmp_path, capsys, months):
    assert (
        bench.main(["--lines", "500", "--months", months, "--workdir", str(tmp_path), "--generate-only"]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert err == "bench: --months must be between 1 and 24 (billing periods from 2026-01)"
    assert not (tmp_path / "landing").exists()


def test_generate_only_prints_the_months(tmp_path, capsys):
    args = ["--lines", "300", "--months", "12", "--by-month", "--workdir", str(tmp_path), "--generate-only"]
    assert bench.main(args) == 2  # 300 lines: November and December would have none
    assert "needs at least 365 lines" in capsys.readouterr().err
    args[1] = "730"
    assert bench.main(args) == 0
    assert "730 FOCUS 1.2 lines in 12 billing-period files" in capsys.readouterr().out
    assert bench.main(["--lines", "500", "--workdir", str(tmp_path / "one"), "--generate-only"]) == 0
    assert "500 FOCUS 1.2 lines over 3 months, csv" in capsys.readouterr().out
