"""Tracker exports (Tempo, Harvest, Toggl, Clockify) read set-based in DuckDB into `_incoming`
and `_rejects`, against expected_totals.json; row-level rejects name file line and field and
never a person; GBK needs a declared encoding; activities/models unmapped are listed by value."""

from __future__ import annotations

import codecs
import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml

from pipeline.errors import InputError
from pipeline.ingest.documents import ENTRY_COLUMNS, load_profiles, read_time_export, unmapped_values
from pipeline.ingest.documents.profiles import Profile
from tests.conftest import REPO

FIX = REPO / "tests" / "fixtures" / "documents"
EXPECTED = json.loads((FIX / "expected_totals.json").read_text(encoding="utf-8"))["timesheets"]
PROFILES = load_profiles(REPO / "config")
PEOPLE_TEXT = ("Ana", "Kowalski", "Lindqvist", "王", "李", "shopco.example", "jdoe-")


@pytest.fixture
def con():
    c = duckdb.connect()
    yield c
    c.close()


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_tracker_export_read_exactly(con, rel):
    exp = EXPECTED[rel]
    got = read_time_export(con, FIX / rel, rel, PROFILES[exp["profile"]])
    assert (got.rows_in_file, got.rows_rejected) == (exp["rows_in_file"], exp["rows_rejected"])
    cols = [d[0] for d in con.execute("select * from _incoming limit 0").description]
    assert cols == [*ENTRY_COLUMNS, "source_row"]
    total, n = con.execute("select sum(cast(hours as decimal(38,10))), count(*) from _incoming").fetchone()
    assert total == Decimal(exp["hours_total"])
    assert n == exp["rows_in_file"] - exp["rows_rejected"]
    by_month = dict(
        con.execute(
            "select strftime(cast(work_date as date), '%Y-%m'), sum(cast(hours as decimal(38,10))) from _incoming group by 1"
        ).fetchall()
    )
    assert by_month == {k: Decimal(v) for k, v in exp["hours_by_month"].items()}
    assert con.execute("select count(distinct employee_id) from _incoming").fetchone()[0] == exp["people"]
    rejects = con.execute("select source_row, field, reason from _rejects order by 1").fetchall()
    assert [(r[0], r[1]) for r in rejects] == [(x["source_row"], x["field"]) for x in exp["rejects"]]
    for _, _, reason in rejects:
        assert not any(p in reason for p in PEOPLE_TEXT), reason
    # rows read + rows rejected = rows in the file, and no line is counted twice
    lines = con.execute(
        "select list(source_row order by source_row) from (select source_row from _incoming union all select source_row from _rejects)"
    ).fetchone()[0]
    assert lines == list(range(2, 2 + exp["rows_in_file"]))


def test_toggl_25_hour_duration_and_tempo_negative_hours_are_row_rejects(con):
    rel = "timesheets/toggl/Toggl_time_entries_2026-01-01_to_2026-01-31.csv"
    read_time_export(con, FIX / rel, rel, PROFILES["toggl_detailed"])
    assert con.execute("select * from _rejects").fetchall() == [
        (4, "Duration", "Duration: more than 24 hours in one entry")
    ]
    rel = "timesheets/tempo/tempo-worklogs-2026-01.csv"
    read_time_export(con, FIX / rel, rel, PROFILES["tempo_worklogs"])
    assert con.execute("select * from _rejects").fetchall() == [
        (6, "Hours", "Hours: negative; a worklog cannot have negative hours")
    ]


def test_identity_activity_and_model_come_from_the_profile(con):
    rel = "timesheets/tempo/tempo-worklogs-2026-01.csv"
    read_time_export(con, FIX / rel, rel, PROFILES["tempo_worklogs"])
    rows = con.execute(
        "select identity_source, activity, model_or_project, issue_key from _incoming order by source_row"
    ).fetchall()
    assert {r[0] for r in rows} == {"employee_id"}
    assert [r[1] for r in rows] == [
        "fine_tuning",
        "monitoring",
        "hyperparameter_search",
        "on_call",
        "model_development",
        "fine_tuning",
    ]
    # no Tempo account on the worklog: the model falls back to the issue key's Jira project
    assert rows[4][2:] == ("ML", "ML-106")
    rel = "timesheets/toggl/Toggl_time_entries_2026-01-01_to_2026-01-31.csv"
    read_time_export(con, FIX / rel, rel, PROFILES["toggl_detailed"])
    rows = con.execute(
        "select identity_source, employee_id, activity, model_or_project from _incoming order by source_row"
    ).fetchall()
    assert rows[0] == ("employee_email", "ana.kowalski@shopco.example", "fine_tuning", "PRJ-SEARCH-RR")
    assert rows[2][2] == "on_call"  # the activity: tag wins over the task
    assert rows[3][3] == "home-feed-personalizer"  # the model: tag wins over the project


def test_harvest_first_and_last_name_and_cost_rate(con):
    rel = "timesheets/harvest/harvest_time_report_from2026-01-01to2026-01-31.csv"
    read_time_export(con, FIX / rel, rel, PROFILES["harvest_detailed"])
    row = con.execute(
        "select employee_id, employee_name, role, cost_rate, currency from _incoming order by source_row limit 1"
    ).fetchone()
    assert row == ("jdoe-03", "芳 王", "ml_engineer", "85.0000000000", "USD")


def test_unmapped_activity_listed_by_value(con):
    rel = "timesheets/harvest/harvest_time_report_from2026-01-01to2026-01-31.csv"
    read_time_export(con, FIX / rel, rel, PROFILES["harvest_detailed"])
    acts = yaml.safe_load((REPO / "examples/demo/config/activities.yaml").read_text())["activities"]
    models = []
    for m in yaml.safe_load((REPO / "examples/demo/config/models.yaml").read_text())["models"]:
        models += [m["id"], *m.get("aliases", [])]
    assert unmapped_values(con, acts, models) == [{"field": "activity", "value": "meetings", "rows": 1}]


def _profile_with(base: str, **changes) -> Profile:
    data = PROFILES[base].model_dump(by_alias=True)
    for k, v in changes.items():
        data[k] = {**data[k], **v} if isinstance(v, dict) else v
    return Profile.model_validate(data)


def _harvest_gbk(tmp_path: Path) -> Path:
    text = (FIX / "timesheets/harvest/harvest_time_report_from2026-01-01to2026-01-31.csv").read_text(
        encoding="utf-8"
    )
    dst = tmp_path / "harvest-gbk.csv"
    dst.write_bytes(text.encode("gbk"))
    return dst


def test_gbk_export_without_declared_encoding_is_one_line_error(con, tmp_path):
    path = _harvest_gbk(tmp_path)
    with pytest.raises(InputError) as exc:
        read_time_export(con, path, "timesheets/harvest-gbk.csv", PROFILES["harvest_detailed"])
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith("timesheets/harvest-gbk.csv: line 2 is not valid UTF-8")
    assert "gb18030" in msg


def test_gbk_export_with_declared_encoding_keeps_chinese_names(con, tmp_path):
    path = _harvest_gbk(tmp_path)
    prof = _profile_with("harvest_detailed", file={"encoding": "gb18030"})
    got = read_time_export(con, path, "timesheets/harvest-gbk.csv", prof, workdir=tmp_path)
    assert got.rows_rejected == 0
    names = {r[0] for r in con.execute("select employee_name from _incoming").fetchall()}
    assert {"芳 王", "伟 李"} <= names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["harvest-gbk.csv"]  # the transcoded copy is gone


def _csv(rows, delimiter=",") -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def test_decimal_comma_hours_dates_and_bad_values(con, tmp_path):
    prof = _profile_with(
        "tempo_worklogs",
        file={"delimiter": ";"},
        numbers={"decimal": ",", "thousands": "."},
        dates=["%d.%m.%Y"],
    )
    rows = [
        ["Issue Key", "Hours", "Work date", "Username", "Full name", "Account Key", "Activity Name"],
        ["ML-1", "7,5", "05.01.2026", "u1", "A B", "PRJ-FEED", "Monitoring"],
        [
            "ML-2",
            "1.5",
            "05.01.2026",
            "u1",
            "A B",
            "PRJ-FEED",
            "Monitoring",
        ],  # '.' is not the decimal mark here
        ["ML-3", "2,25", "2026-01-06", "u2", "C D", "PRJ-FEED", "On-call"],  # not dd.mm.yyyy
        ["ML-4", "0", "06.01.2026", "u2", "C D", "PRJ-FEED", "On-call"],
        ["ML-5", "3,0", "07.01.2026", "", "", "PRJ-FEED", "On-call"],  # nobody
        ["ML-6", "", "07.01.2026", "u2", "C D", "PRJ-FEED", "On-call"],
    ]
    p = tmp_path / "t.csv"
    p.write_text(_csv(rows, ";"), encoding="utf-8")
    got = read_time_export(con, p, "t.csv", prof)
    assert (got.rows_in_file, got.rows_rejected) == (6, 5)
    assert con.execute("select hours, work_date from _incoming").fetchall() == [
        ("7.5000000000", "2026-01-05")
    ]
    assert con.execute("select * from _rejects order by 1").fetchall() == [
        (3, "Hours", "Hours: is not a number"),
        (4, "Work date", "Work date: '2026-01-06' is not a date in the profile's format(s) %d.%m.%Y"),
        (5, "Hours", "Hours: zero hours"),
        (6, "Username", "no employee id, e-mail or name on the row"),
        (7, "Hours", "Hours: missing"),
    ]


def test_malformed_line_is_a_reject_and_line_numbers_stay_physical(con, tmp_path):
    text = (FIX / "timesheets/clockify/Clockify_Time_Report_Detailed_01_01_2026-01_31_2026.csv").read_text(
        encoding="utf-8"
    )
    lines = text.splitlines()
    lines.insert(2, "broken,row,with,too,few")
    p = tmp_path / "c.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = read_time_export(con, p, "c.csv", PROFILES["clockify_detailed"])
    assert (got.rows_in_file, got.rows_rejected) == (5, 1)
    assert con.execute("select source_row, field from _rejects").fetchall() == [(3, "line")]
    assert [r[0] for r in con.execute("select source_row from _incoming order by 1").fetchall()] == [
        2,
        4,
        5,
        6,
    ]


def test_profile_that_does_not_fit_the_export_is_one_line(con):
    rel = "timesheets/toggl/Toggl_time_entries_2026-01-01_to_2026-01-31.csv"
    with pytest.raises(InputError) as exc:
        read_time_export(con, FIX / rel, rel, PROFILES["harvest_detailed"])
    assert (
        str(exc.value)
        == f"{rel}: does not fit profile 'harvest_detailed': missing column(s) Date, Hours, First Name, Last Name"
    )


@pytest.mark.slow
def test_100k_row_toggl_export_is_read_set_based(con, tmp_path):
    """Volume: 100,000 rows through read_csv and SQL, every hour accounted for."""
    header = [
        "User",
        "Email",
        "Client",
        "Project",
        "Task",
        "Description",
        "Billable",
        "Start date",
        "Start time",
        "End date",
        "End time",
        "Duration",
        "Tags",
        "Amount (USD)",
    ]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    total_secs = 0
    for i in range(100_000):
        secs = 60 * (1 + i % 480) + i % 60
        if i % 10_000 == 9_999:
            secs = 25 * 3600  # one impossible entry per 10k rows
        else:
            total_secs += secs
        w.writerow(
            [
                f"P{i % 97}",
                f"p{i % 97}@example.com",
                "C",
                "PRJ-FEED",
                "Monitoring",
                "",
                "No",
                f"2026-01-{1 + i % 28:02d}",
                "09:00:00",
                "",
                "",
                f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}",
                "",
                "",
            ]
        )
    p = tmp_path / "big.csv"
    p.write_bytes(codecs.BOM_UTF8 + buf.getvalue().encode())
    got = read_time_export(con, p, "big.csv", PROFILES["toggl_detailed"])
    assert (got.rows_in_file, got.rows_rejected) == (100_000, 10)
    secs = con.execute(
        "select sum(cast(split_part(hours, '.', 1) as bigint)) * 3600 from _incoming"
    ).fetchone()[0]
    total = con.execute("select sum(cast(hours as decimal(38,10))) from _incoming").fetchone()[0]
    # each row rounds to 1e-10 h, so 100k rows stay within 1e-5 h of the exact seconds
    assert abs(total - Decimal(total_secs) / 3600) < Decimal("0.00001")
    assert secs <= total_secs
