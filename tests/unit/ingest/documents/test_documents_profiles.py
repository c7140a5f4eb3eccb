"""Format profiles: the shipped YAML validates, bad YAML fails in one line naming file, profile,
key and value, a header is recognised, and a file that does not fit names the missing columns."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.errors import ConfigError, InputError
from pipeline.ingest.documents import check_vendor_profiles, load_profiles, recognise
from pipeline.ingest.documents.profiles import NumberSpec, fit, load_profile_file
from pipeline.ingest.documents.values import parse_date, parse_decimal, parse_period
from tests.conftest import REPO

CONFIG = REPO / "config"

TOGGL_HEADER = [
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
CLOCKIFY_HEADER = [
    "Project",
    "Client",
    "Description",
    "Task",
    "User",
    "Group",
    "Email",
    "Tags",
    "Billable",
    "Start Date",
    "Start Time",
    "End Date",
    "End Time",
    "Duration (h)",
    "Duration (decimal)",
    "Billable Rate (USD)",
    "Billable Amount (USD)",
]
HARVEST_HEADER = [
    "Date",
    "Client",
    "Project",
    "Project Code",
    "Task",
    "Notes",
    "Hours",
    "Hours Rounded",
    "Billable?",
    "Invoiced?",
    "First Name",
    "Last Name",
    "Employee Id",
    "Roles",
    "Teams",
    "Employee?",
    "Billable Rate",
    "Billable Amount",
    "Cost Rate",
    "Cost Amount",
    "Currency",
    "External Reference URL",
]
TEMPO_HEADER = [
    "Issue Key",
    "Issue summary",
    "Hours",
    "Work date",
    "Username",
    "Full name",
    "Period",
    "Account Key",
]


@pytest.fixture(scope="module")
def profiles():
    return load_profiles(CONFIG)


def test_shipped_profiles_load(profiles):
    assert {
        "tempo_worklogs",
        "harvest_detailed",
        "toggl_detailed",
        "clockify_detailed",
        "invoice_xlsx",
        "invoice_pdf",
        "invoice_json",
        "invoice_csv",
        "cn_labeling_gbk_csv",
        "eu_vendor_csv",
    } <= set(profiles)
    assert profiles["cn_labeling_gbk_csv"].file.encoding == "gb18030"
    assert profiles["clockify_detailed"].hours_field == "duration"
    assert profiles["tempo_worklogs"].hours_field == "hours"
    assert profiles["eu_vendor_csv"].numbers.decimal == ","


@pytest.mark.parametrize(
    "header,expected",
    [
        (TOGGL_HEADER, "toggl_detailed"),
        (CLOCKIFY_HEADER, "clockify_detailed"),
        (HARVEST_HEADER, "harvest_detailed"),
        (TEMPO_HEADER, "tempo_worklogs"),
        (["\ufeffUser", *TOGGL_HEADER[1:]], "toggl_detailed"),
    ],
)
def test_tracker_header_recognised(profiles, header, expected):
    assert recognise(header, profiles, "timesheet", "csv", "timesheets/x.csv").id == expected


def test_unknown_header_names_closest_profile_and_missing_columns(profiles):
    header = [h for h in TOGGL_HEADER if h != "Duration"]
    with pytest.raises(InputError) as exc:
        recognise(header, profiles, "timesheet", "csv", "timesheets/x.csv")
    msg = str(exc.value)
    assert "\n" not in msg
    assert "timesheets/x.csv" in msg and "'toggl_detailed'" in msg and "Duration" in msg


def test_profile_that_does_not_fit_names_missing_columns(profiles):
    with pytest.raises(
        InputError,
        match=r"x\.csv: does not fit profile 'tempo_worklogs': missing column\(s\) Issue Key, Hours, Work date",
    ):
        fit(profiles["tempo_worklogs"], TOGGL_HEADER, "x.csv")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


GOOD = """id: my_tracker
kind: timesheet
file: {format: csv}
columns: {work_date: [Day], hours: [Hrs], employee_id: [Who]}
required: [work_date, hours]
"""


@pytest.mark.parametrize(
    "change,expect",
    [
        (
            (
                "columns: {work_date: [Day], hours: [Hrs], employee_id: [Who]}",
                "columns: {work_date: [Day], hours: [Hrs], durations: [D]}",
            ),
            "profile 'my_tracker': columns.durations: not a timesheet field",
        ),
        (("file: {format: csv}", "file: {format: csv, encoding: latin-1}"), "file.encoding"),
        (
            ("required: [work_date, hours]", "required: [work_date, hours]\nnumbers: {thousands: '#'}"),
            "numbers.thousands: '#' is not a thousands separator",
        ),
        (
            (
                "required: [work_date, hours]",
                "required: [work_date, hours]\nactivity: [{from: regex, column: employee_id, pattern: 'ML-[0-9]+'}]",
            ),
            "has no group",
        ),
        (
            ("required: [work_date, hours]", "required: [work_date, project]"),
            "required: 'project' has no entry under columns",
        ),
        (
            ("required: [work_date, hours]", "required: [work_date, hours]\ndates: ['YYYY-MM-DD']"),
            "dates: 'YYYY-MM-DD' is not a strptime format",
        ),
    ],
)
def test_bad_profile_is_one_line_naming_file_profile_key(tmp_path, change, expect):
    p = _write(tmp_path, "my.yaml", GOOD.replace(*change))
    with pytest.raises(ConfigError) as exc:
        load_profile_file(p)
    msg = str(exc.value)
    assert "\n" not in msg
    assert str(p) in msg and expect in msg


def test_good_profile_loads(tmp_path):
    prof = load_profile_file(_write(tmp_path, "my.yaml", GOOD))
    assert prof.id == "my_tracker" and prof.recognised_by == ["Day", "Hrs"]
    assert prof.max_hours_per_entry == Decimal(24)


def test_duplicate_profile_id_is_refused(tmp_path):
    (tmp_path / "profiles").mkdir()
    _write(tmp_path / "profiles", "a.yaml", GOOD)
    _write(tmp_path / "profiles", "b.yaml", GOOD)
    with pytest.raises(ConfigError, match=r"b\.yaml: id: profile 'my_tracker' is already defined in a\.yaml"):
        load_profiles(tmp_path)


def test_vendor_profile_must_exist_and_be_an_invoice_profile(tmp_path, profiles, monkeypatch):
    from pipeline.config.settings import load_settings

    cfg = tmp_path / "config"
    shutil.copytree(REPO / "examples" / "demo" / "config", cfg)  # the demo company's vendors
    vendors = cfg / "vendors.yaml"
    vendors.write_text(
        vendors.read_text().replace("kind: software", "kind: software\n    profile: invoice_pdf")
    )
    settings = load_settings(config=cfg)  # `profile:` is an accepted vendors.yaml key
    assert {v.id: v.profile for v in settings.vendors}["vectorops"] == "invoice_pdf"
    check_vendor_profiles(settings.vendors, profiles, vendors)

    # load_settings checks them, so a bad `profile:` fails before any data is touched
    vendors.write_text(vendors.read_text().replace("profile: invoice_pdf", "profile: nosuch"))
    with pytest.raises(ConfigError, match=r"vendors\[3\]\.profile: no profile 'nosuch' in config/profiles/"):
        load_settings(config=cfg)
    vendors.write_text(vendors.read_text().replace("profile: nosuch", "profile: toggl_detailed"))
    with pytest.raises(ConfigError, match="is a timesheet profile, not an invoice profile"):
        load_settings(config=cfg)


US = NumberSpec()
EU = NumberSpec(decimal=",", thousands=".", negative=["minus", "trailing_minus"])
ACCOUNTING = NumberSpec(negative=["minus", "parentheses"])


@pytest.mark.parametrize(
    "text,spec,value",
    [
        ("1,234.50", US, "1234.50"),
        ("1.234,50", EU, "1234.50"),
        ("120,50-", EU, "-120.50"),
        ("(150.00)", ACCOUNTING, "-150.00"),
        ("USD 2,326.70", US, "2326.70"),
        ("¥14,800.00", US, "14800.00"),
        (1837.5, US, "1837.5"),
        ("-0.25", US, "-0.25"),
    ],
)
def test_numbers_under_profile_conventions(text, spec, value):
    assert parse_decimal(text, spec) == Decimal(value)


@pytest.mark.parametrize(
    "text,spec", [("1,5", US), ("12,50", US), ("1.234.5", EU), ("(150.00)", US), ("12.00-", US), ("abc", US)]
)
def test_numbers_that_do_not_fit_are_refused(text, spec):
    with pytest.raises(ValueError):
        parse_decimal(text, spec)


def test_dates_and_periods():
    fmts = ["%Y-%m-%d", "%d.%m.%Y", "%Y年%m月%d日"]
    assert str(parse_date("2026年02月05日", fmts)) == "2026-02-05"
    assert [str(d) for d in parse_period("2026-01-20 to 2026-02-19", fmts)] == ["2026-01-20", "2026-02-19"]
    assert [str(d) for d in parse_period("01.01.2026 - 31.01.2026", fmts)] == ["2026-01-01", "2026-01-31"]
    assert [str(d) for d in parse_period("2026-01-01 至 2026-01-31", fmts)] == ["2026-01-01", "2026-01-31"]
    with pytest.raises(ValueError, match="ends before it starts"):
        parse_period("2026-02-01 to 2026-01-01", fmts)
    with pytest.raises(ValueError, match="not a date"):
        parse_date("02/05/2026", fmts)


def test_two_profiles_fitting_equally_ask_for_a_vendor_profile(profiles, tmp_path):
    twin = profiles["toggl_detailed"].model_copy(update={"id": "toggl_twin"})
    with pytest.raises(InputError, match="header fits profiles toggl_detailed, toggl_twin equally"):
        recognise(TOGGL_HEADER, {**profiles, "toggl_twin": twin}, "timesheet", "csv", "x.csv")


def test_pdf_cell_wrapped_at_a_hyphen_is_joined_without_a_space():
    from pipeline.ingest.documents.pdf import _unwrap

    assert _unwrap("PRJ-SEARCH-\nRR") == "PRJ-SEARCH-RR"
    assert _unwrap("Bounding boxes,\nproduct images") == "Bounding boxes, product images"
    assert _unwrap(None) is None
