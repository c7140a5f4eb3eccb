"""The publication rule for people cost (docs/privacy.md) on tiny time logs.

Each test loads a few time-log rows (the documented time-log and hourly-rate CSV columns,
docs/formats.md) into the raw tables, runs the transform, and reads the published grain from
marts.cost_line_items and the work-only line level from core.people_cost_lines.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import duckdb
import pytest

from pipeline import ingest
from pipeline.config.settings import load_settings
from pipeline.config.tables import sync_config
from pipeline.db import SCHEMAS, SQL_DIR, run_sql_script
from pipeline.ingest.common import q
from pipeline.quality import run_sql_check
from pipeline.transform import run_transform

MONTH = "2026-09"


@pytest.fixture(scope="module")
def settings():
    return load_settings()


@pytest.fixture
def con(settings):
    c = duckdb.connect()
    c.execute("set TimeZone = 'UTC'")
    for s in SCHEMAS:
        c.execute(f"create schema {s}")
    run_sql_script(c, SQL_DIR / "audit" / "create_audit_tables.sql")
    ingest.ensure_raw_tables(c)
    sync_config(c, settings)
    yield c
    c.close()


def load(con, rates: dict[str, str], entries: list[tuple], roles: dict[str, str] | None = None) -> None:
    """rates: employee -> own hourly rate (CNY); roles: role -> rate for employees without one.
    entries: (employee, hours, activity, model or project[, work day of MONTH[, role]])."""
    n = 1
    for emp, rate in rates.items():
        n += 1
        _insert(
            con,
            "raw.hr_rates",
            dict(employee_id=emp, effective_from="2026-01-01", hourly_rate=rate, currency="CNY"),
            n,
        )
    for role, rate in (roles or {}).items():
        n += 1
        _insert(
            con,
            "raw.hr_rates",
            dict(role=role, effective_from="2026-01-01", hourly_rate=rate, currency="CNY"),
            n,
        )
    employees = sorted({e[0] for e in entries})
    con.executemany("insert into raw.employee_keys values (?, ?)", [[e, f"key-{e}"] for e in employees])
    for i, entry in enumerate(entries, start=2):
        emp, hours, activity, model = entry[:4]
        day = entry[4] if len(entry) > 4 else 14
        role = entry[5] if len(entry) > 5 else "ml_engineer"
        row = dict(
            employee_id=emp,
            role=role,
            work_date=f"{MONTH}-{day:02d}",
            hours=str(hours),
            activity=activity,
            model_or_project=model,
        )
        _insert(con, "raw.timesheet_entries", row, i, file="timesheets/log.csv")


def _insert(con, table, row, source_row, file="hr_rates/rates.csv"):
    cols = [*row, "load_id", "source_file", "source_row", "file_sha256"]
    con.execute(
        f"insert into {table} ({', '.join(q(c) for c in cols)}) values ({', '.join('?' for _ in cols)})",
        [*row.values(), 1, file, source_row, "sha"],
    )


def published(con) -> dict[str, tuple]:
    """line_id -> (people_grain, leaf, model_id, activity, cost) of the published people rows."""
    return {
        r[0]: r[1:]
        for r in con.execute(
            "select line_id, people_grain, leaf, model_id, activity, cost from marts.cost_line_items "
            "where source_system = 'timesheet' order by line_id"
        ).fetchall()
    }


def check(con, name: str) -> list[tuple]:
    return run_sql_check(con, name)[1]


# Rates (CNY an hour) no one of which divides another.
RATES = {
    "E1": "287.35",
    "E2": "312.80",
    "E3": "264.15",
    "E4": "341.90",
    "E5": "298.45",
    "E6": "275.60",
    "E7": "356.25",
    "E8": "319.70",
    "E9": "305.05",
}


def test_a_group_of_three_is_published_at_the_finest_grain_without_anyone_in_it(con, settings):
    load(
        con,
        RATES,
        [
            ("E1", 2, "fine_tuning", "reco-llm"),
            ("E2", 3, "fine_tuning", "reco-llm"),
            ("E3", 1, "fine_tuning", "reco-llm"),
        ],
    )
    run_transform(con, settings)
    rows = published(con)
    key = f"people/{MONTH}/tuning_time/reco-llm/product_recommendation/fine_tuning/recommendations"
    cost = 2 * D("287.35") + 3 * D("312.80") + D("264.15")
    assert rows == {key: ("activity_team", "tuning_time", "reco-llm", "fine_tuning", cost)}
    line = con.execute(f"select * from marts.cost_line_items where line_id = '{key}'").fetchone()
    cols = [d[0] for d in con.execute("select * from marts.cost_line_items limit 0").description]
    got = dict(zip(cols, line, strict=True))
    assert got["source_row"] is None and got["split_weight"] is None
    assert got["source_file"] == "timesheets/log.csv"
    assert got["charge_period_start"].isoformat() == "2026-09-01T00:00:00"
    assert got["charge_period_end"].isoformat() == "2026-10-01T00:00:00"
    assert not {"employee_key", "hours", "hourly_rate"} & set(cols)
    # pricing_quantity is published for cloud and invoice lines (the FOCUS export); a time line's
    # is its hours, so a people row carries none, nor any consumed quantity
    assert got["pricing_quantity"] is None and got["pricing_unit"] is None
    assert got["consumed_quantity"] is None
    assert (
        con.execute(
            "select count(*) from marts.cost_line_items where source_system = 'timesheet' "
            "and (pricing_quantity is not null or consumed_quantity is not null)"
        ).fetchone()[0]
        == 0
    )
    # the lines, with pseudonym, hours and rate, stay in the work database
    lines = con.execute(
        "select employee_key, hours, hourly_rate from core.people_cost_lines order by 1"
    ).fetchall()
    assert lines == [
        ("key-E1", D(2), D("287.35")),
        ("key-E2", D(3), D("312.80")),
        ("key-E3", D(1), D("264.15")),
    ]


def test_a_small_remainder_takes_in_the_cheapest_published_group_of_its_model(con, settings):
    # reco-llm tuning: fine_tuning by three people (cheap), optimization by three (dear), and one
    # person's hyperparameter search. Publishing the two groups and the model's total would show
    # that one person's cost by subtraction: the remainder takes in the cheaper group instead.
    load(
        con,
        RATES,
        [
            ("E1", 1, "fine_tuning", "reco-llm"),
            ("E2", 1, "fine_tuning", "reco-llm"),
            ("E3", 1, "fine_tuning", "reco-llm"),
            ("E5", 5, "optimization", "reco-llm"),
            ("E6", 5, "optimization", "reco-llm"),
            ("E7", 5, "optimization", "reco-llm"),
            ("E4", 2, "hyperparameter_search", "reco-llm"),
        ],
    )
    run_transform(con, settings)
    rows = published(con)
    prefix = f"people/{MONTH}/tuning_time/reco-llm/product_recommendation"
    assert set(rows) == {f"{prefix}/optimization/recommendations", prefix}
    assert rows[prefix][:4] == ("model", "tuning_time", "reco-llm", "(several)")
    assert rows[prefix][4] == D("287.35") + D("312.80") + D("264.15") + 2 * D("341.90")
    assert check(con, "assert_people_rows_publishable") == []
    assert check(con, "assert_people_cost_matches_time_lines") == []


def test_a_model_with_too_few_people_is_merged_at_the_leaf_with_the_cheapest_group(con, settings):
    load(
        con,
        RATES,
        [
            ("E1", 1, "fine_tuning", "reco-llm"),
            ("E2", 1, "fine_tuning", "reco-llm"),
            ("E3", 1, "fine_tuning", "reco-llm"),
            ("E5", 4, "fine_tuning", "search-rerank-bert"),
            ("E6", 4, "fine_tuning", "search-rerank-bert"),
            ("E7", 4, "fine_tuning", "search-rerank-bert"),
            ("E8", 2, "fine_tuning", "ads-ctr-dcn"),
            ("E9", 2, "optimization", "ads-ctr-dcn"),
        ],
    )
    run_transform(con, settings)
    rows = published(con)
    assert set(rows) == {
        f"people/{MONTH}/tuning_time/search-rerank-bert/search_ranking/fine_tuning/search-relevance",
        f"people/{MONTH}/tuning_time",
    }
    leaf_row = rows[f"people/{MONTH}/tuning_time"]
    assert leaf_row[:3] == ("leaf", "tuning_time", "(several)")
    assert leaf_row[4] == D("287.35") + D("312.80") + D("264.15") + 2 * D("319.70") + 2 * D("305.05")
    # the leaf total is unchanged; no model total isolates the two ads-ctr-dcn people
    by_model = dict(
        con.execute(
            "select model_id, sum(cost) from marts.monthly_leaf_cost where leaf = 'tuning_time' group by 1"
        ).fetchall()
    )
    assert set(by_model) == {"search-rerank-bert", "(several)"}
    assert (
        sum(by_model.values())
        == con.execute(
            "select sum(cost) from core.allocated_line_items where leaf = 'tuning_time'"
        ).fetchone()[0]
    )


def test_a_leaf_month_with_too_few_people_is_merged_across_leaves_inside_c_total(con, settings):
    load(
        con,
        RATES,
        [
            ("E1", 1, "fine_tuning", "reco-llm"),
            ("E2", 1, "fine_tuning", "reco-llm"),
            ("E3", 1, "fine_tuning", "reco-llm"),
            ("E5", 6, "monitoring", "reco-llm"),
            ("E6", 6, "monitoring", "reco-llm"),
            ("E7", 6, "monitoring", "reco-llm"),
            ("E9", 3, "data_collection", "reco-llm"),  # the only person on the data leaf
        ],
    )
    run_transform(con, settings)
    rows = published(con)
    merged = rows[f"people/{MONTH}"]
    assert merged[:3] == ("month", "people_merged", "reco-llm")
    assert merged[4] == 3 * D("305.05") + D("287.35") + D("312.80") + D("264.15")
    assert "tuning_time" not in {r[1] for r in rows.values()}  # the cheapest group went in with it
    roll = con.execute(
        "select sum(c_data), sum(c_tuning_time), sum(c_maintenance_time), sum(c_people_merged), sum(c_total) "
        "from marts.monthly_cost_rollup"
    ).fetchone()
    total = con.execute("select sum(cost) from core.allocated_line_items").fetchone()[0]
    assert roll == (0, 0, 6 * (D("298.45") + D("275.60") + D("356.25")), merged[4], total)
    assert (
        con.execute("select actual from marts.budget_vs_actual where stage = 'total'").fetchone()[0] == total
    )
    assert con.execute("select coverage_pct from marts.rule_coverage").fetchone()[0] == 100


def test_one_rate_dividing_the_others_is_not_published_even_with_three_people(con, settings):
    # three engineers on one role rate: their group's cost is that rate times their hours, and
    # the GCD of its costs over months would be the rate
    load(
        con,
        {"E5": "298.45", "E6": "275.60", "E7": "356.25"},
        [
            ("E1", 1, "fine_tuning", "reco-llm", 14, "ml_engineer"),
            ("E2", 2, "fine_tuning", "reco-llm", 14, "ml_engineer"),
            ("E3", 3, "fine_tuning", "reco-llm", 14, "ml_engineer"),
            ("E5", 1, "optimization", "reco-llm"),
            ("E6", 1, "optimization", "reco-llm"),
            ("E7", 1, "optimization", "reco-llm"),
        ],
        roles={"ml_engineer": "300.00"},
    )
    run_transform(con, settings)
    rows = published(con)
    assert list(rows) == [f"people/{MONTH}/tuning_time/reco-llm/product_recommendation"]
    assert D("300") * 6 + D("298.45") + D("275.60") + D("356.25") == rows[next(iter(rows))][4]


def test_time_no_rule_places_stays_in_its_bucket_and_warns_when_too_few(con, settings):
    load(
        con,
        RATES,
        [
            ("E1", 1, "fine_tuning", "reco-llm"),
            ("E2", 1, "fine_tuning", "reco-llm"),
            ("E3", 1, "fine_tuning", "reco-llm"),
            ("E4", 2, "fine_tuning", "PRJ-NOBODY-KNOWS"),
        ],
    )
    run_transform(con, settings)
    rows = published(con)
    # unallocated time is in scope but outside C_total: it is never merged with allocated time
    bucket = rows[f"people/{MONTH}/unallocated"]
    assert bucket[:2] == ("leaf", "unallocated") and bucket[4] == 2 * D("341.90")
    assert check(con, "assert_people_rows_above_threshold") == [(f"people/{MONTH}/unallocated",)]
    assert check(con, "assert_people_rows_publishable") == []


def test_published_people_rows_add_up_to_the_lines_per_month_for_both_cost_bases(con, settings):
    load(con, RATES, [(e, h, a, m) for e, h, a, m in [
        ("E1", 1, "fine_tuning", "reco-llm"), ("E2", 7, "fine_tuning", "reco-llm"), ("E3", 2, "on_call", "ads-ctr-dcn"),
        ("E4", 3, "annotation", "reco-llm"), ("E5", 1, "monitoring", "reco-llm"), ("E6", 4, "pretraining", "search-rerank-bert"),
        ("E7", 2, "retraining", "demand-forecast-tft"), ("E8", 1, "data_collection", "reco-llm"),
    ]])  # fmt: skip
    run_transform(con, settings)
    pub = con.execute(
        "select sum(billed_cost), sum(effective_cost) from marts.cost_line_items where source_system = 'timesheet'"
    ).fetchone()
    lines = con.execute(
        "select sum(billed_cost), sum(effective_cost) from core.allocated_line_items where source_system = 'timesheet'"
    ).fetchone()
    assert pub == lines
    assert check(con, "assert_people_cost_matches_time_lines") == []
    assert check(con, "assert_leaf_cost_matches_line_items") == []
    # every row passes the rule: nobody's group is smaller than three
    sizes = con.execute(
        "select c.row_id, count(distinct l.employee_key) from core.people_cost_cells c "
        "join core.people_cost_lines l on l.g1 = c.cell_id group by 1"
    ).fetchall()
    assert sizes and all(n >= 3 for _, n in sizes)


def test_the_threshold_is_read_from_config(con, settings):
    four = dataclasses.replace(settings, min_people_per_row=4)
    sync_config(con, four)
    load(con, RATES, [("E1", 1, "fine_tuning", "reco-llm"), ("E2", 1, "fine_tuning", "reco-llm"), ("E3", 1, "fine_tuning", "reco-llm"), ("E4", 1, "optimization", "reco-llm")])  # fmt: skip
    run_transform(con, four)
    assert set(published(con)) == {f"people/{MONTH}/tuning_time/reco-llm/product_recommendation"}


def test_a_time_line_without_a_rate_is_named_by_file_and_line_never_by_pseudonym(con, settings):
    from pipeline.errors import InputError

    load(
        con,
        {"E1": "287.35"},
        [("E1", 1, "fine_tuning", "reco-llm"), ("E4", 2, "fine_tuning", "reco-llm", 15)],
    )
    with pytest.raises(InputError) as err:
        run_transform(con, settings)
    # the message reaches audit.runs, which is published
    assert (
        "no hourly rate in force for 1 time-log rows (e.g. timesheets/log.csv line 3, from 2026-09-15)"
        in str(err.value)
    )
    assert "key-E4" not in str(err.value) and "E4" not in str(err.value)
