"""The report built from a published ledger: figures equal the marts, every symbol, safe HTML/CSV/XLSX."""

from __future__ import annotations

import io
from decimal import Decimal
from email import message_from_bytes
from email.policy import default

import duckdb
import pytest

from pipeline.config.settings import load_settings
from pipeline.report import ReportError, build_report, render_terminal, write_report
from pipeline.report.fmt import money
from pipeline.report.message import RenderedReport, build_message
from pipeline.report.render import render_html, render_text, subject
from tests.fixtures.report.published_db import HOSTILE_MODEL, HOSTILE_SCENARIO, make_published_db

CENT = Decimal("0.01")


def near(shown: Decimal, exact: Decimal) -> bool:
    """A displayed figure is its exact value rounded to a neighbouring cent (so that figures add up)."""
    return shown == shown.quantize(CENT) and abs(shown - exact) < CENT


SYMBOLS = (
    "C_pretrain",
    "C_data",
    "C_labeled",
    "C_training",
    "C_tuning",
    "C_tuning_time",
    "C_tuning_resources",
    "C_deploy",
    "C_hardware",
    "C_software",
    "C_maintenance",
    "C_maintenance_time",
    "C_maintenance_resources",
    "C_total",
)


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    wh = tmp_path_factory.mktemp("report") / "warehouse"
    make_published_db(wh / "costledger.duckdb", hostile=True)
    return load_settings(warehouse=wh)


@pytest.fixture(scope="module")
def report(settings):
    return build_report(settings, "2026-10")


@pytest.fixture(scope="module")
def rendered(report):
    return RenderedReport(report)


def mart(settings, sql, params=None):
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_equation_figures_equal_the_rollup_sums(settings, report):
    cols = [
        "c_pretrain",
        "c_data",
        "c_labeled",
        "c_training",
        "c_tuning",
        "c_tuning_time",
        "c_tuning_resources",
        "c_deploy",
        "c_hardware",
        "c_software",
        "c_maintenance",
        "c_maintenance_time",
        "c_maintenance_resources",
        "c_total",
    ]
    sums = mart(
        settings,
        f"select {', '.join(f'sum({c})' for c in cols)} from marts.monthly_cost_rollup "
        "where month = date '2026-10-01'",
    )[0]
    assert [r.symbol for r in report.equation] == list(SYMBOLS)
    for row, expected in zip(report.equation, sums, strict=True):
        assert near(row.amount, expected), row.symbol
    # the whole is rounded on its own (half up); its parts are rounded to add up to it
    assert report.total.amount == sums[-1].quantize(CENT, rounding="ROUND_HALF_UP")
    prev_total = mart(
        settings, "select sum(c_total) from marts.monthly_cost_rollup where month = date '2026-09-01'"
    )
    assert near(report.total.previous, prev_total[0][0])
    assert report.total.mom == report.total.amount - report.total.previous


def test_budget_is_the_all_models_budget_and_variance_is_actual_minus_budget(report):
    assert report.total.budget == Decimal(150000)
    assert report.total.variance == report.total.amount - Decimal(150000)
    assert report.row("C_deploy").budget == Decimal(30000)  # not the per-model row of reco-llm
    assert report.row("C_labeled").budget == Decimal(7000)
    assert report.row("C_data").budget is None and report.row("C_data").variance is None


def test_unallocated_coverage_out_of_scope_and_quality_of_the_latest_run(settings, report):
    cov = mart(
        settings,
        "select unallocated_cost, out_of_scope_cost, coverage_pct from marts.rule_coverage "
        "where month = date '2026-10-01'",
    )[0]
    assert near(report.unallocated, cov[0]) and near(report.out_of_scope, cov[1])
    assert report.coverage_pct == cov[2]
    assert report.top_unallocated[0].service == "Amazon S3"
    assert report.quality.status == "warnings"  # the older run's critical failure is not this run's
    assert [f.check for f in report.quality.failures] == ["unallocated_share_below_10pct"]


def test_no_data_for_the_month_is_a_one_line_error(settings):
    with pytest.raises(ReportError, match=r"no published cost for 2031-01 .*2026-08 to 2026-10") as exc:
        build_report(settings, "2031-01")
    assert "\n" not in str(exc.value)


def test_missing_published_database_says_what_to_run(tmp_path):
    with pytest.raises(ReportError, match="costledger run"):
        build_report(load_settings(warehouse=tmp_path / "empty"), "2026-10")


def test_terminal_summary_shows_nine_leaves_four_stages_total_budget_variance(report):
    out = render_terminal(report)
    for symbol in SYMBOLS:
        assert symbol in out
    assert "CNY 209,652.32" in out
    assert "Budget: CNY 150,000.00" in out and "+59,652.32" in out


def test_subject_and_bodies_carry_month_total_and_all_symbols(report, rendered):
    assert subject(report) == "AI model cost report 2026-10: C_total CNY 209,652.32"
    for body in (rendered.text, rendered.html_mail):
        for symbol in SYMBOLS:
            assert symbol in body
        assert money(report.total.amount) in body
        assert "effective" in body and "CNY" in body


def test_html_escapes_hostile_data(rendered):
    html = rendered.html_mail
    assert "<img src=x" not in html and "<b>svc</b>" not in html and "<b>share</b>" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;model" in html
    assert "&lt;b&gt;share&lt;/b&gt;" in html


def test_zh_cn_shows_amounts_in_wan_yuan(settings):
    rep = build_report(settings, "2026-10", lang="zh-CN")
    assert subject(rep) == "AI 模型成本月报 2026-10：C_total 209,652.32 CNY（20.97 万元）"
    html = render_html(rep)
    assert "万元" in html and "20.97" in html and "成本公式" in html
    assert "20.97 万元" in render_text(rep)


def test_csv_attachments_bom_two_decimals_total_row_and_no_formula_cells(report, rendered):
    import csv

    rollup = rendered.attachments["costledger-2026-10-rollup.csv"][1]
    assert rollup.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(rollup.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert body[-1][header.index("c_total")] == "209652.32"
    for row in rows:
        for cell in row:
            if cell[:1] in ("=", "+", "@", "\t", "\r"):
                pytest.fail(f"formula-like cell {cell!r}")
            if cell.startswith("-"):
                Decimal(cell)  # only numbers may start with a minus
    hostile = next(r for r in body if r[header.index("model_id")] == HOSTILE_MODEL)
    assert hostile[header.index("scenario")] == "'" + HOSTILE_SCENARIO
    assert hostile[header.index("team")] == "'+1+2"
    money_cols = [i for i, h in enumerate(header) if h.startswith("c_")]
    for row in body:
        for i in money_cols:
            assert row[i] == f"{Decimal(row[i]):.2f}" and "," not in row[i]


def test_xlsx_has_numeric_cells_and_inert_text(rendered):
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(rendered.attachments["costledger-2026-10.xlsx"][1]))
    ws = wb["rollup"]
    header = [c.value for c in ws[1]]
    last = [c for c in ws[ws.max_row]]
    total = last[header.index("c_total")]
    assert total.data_type == "n" and Decimal(str(total.value)) == Decimal("209652.32")
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                assert cell.data_type == "s" and cell.value[:1] not in ("=", "+", "-", "@")
    leaves = wb["leaves"]
    lh = [c.value for c in leaves[1]]
    assert leaves.cell(row=2, column=lh.index("line_count") + 1).data_type == "n"


def test_eml_parses_with_both_bodies_inline_charts_by_cid_and_attachments(report, rendered, tmp_path):
    msg = build_message(rendered, "costledger@example.com", ["finance@example.com"])
    parsed = message_from_bytes(msg.as_bytes(), policy=default)
    assert parsed["Subject"] == "AI model cost report 2026-10: C_total CNY 209,652.32"
    plain = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert "C_maintenance_resources" in plain and "C_maintenance_resources" in html
    cids = {p["Content-ID"].strip("<>"): p for p in parsed.walk() if p.get_content_type() == "image/png"}
    assert len(cids) == 2
    for cid, part in cids.items():
        assert f'src="cid:{cid}"' in html
        assert part.get_content().startswith(b"\x89PNG")
    names = sorted(p.get_filename() for p in parsed.iter_attachments())
    assert names == [
        "costledger-2026-10-leaves.csv",
        "costledger-2026-10-rollup.csv",
        "costledger-2026-10.xlsx",
    ]


def test_write_report_files_and_no_people_data_anywhere(settings, tmp_path):
    rep = build_report(settings, "2026-10", recipients=["finance@example.com"])
    paths = write_report(rep, tmp_path / "out")
    names = {p.name for p in paths}
    assert {
        "costledger-report-2026-10.html",
        "costledger-report-2026-10.eml",
        "costledger-report-2026-10.txt",
        "costledger-report-2026-10-stages.png",
        "costledger-report-2026-10-leaves.png",
        "costledger-2026-10-rollup.csv",
        "costledger-2026-10-leaves.csv",
        "costledger-2026-10.xlsx",
    } == names
    html = (tmp_path / "out" / "costledger-report-2026-10.html").read_text(encoding="utf-8")
    assert 'src="costledger-report-2026-10-stages.png"' in html
    eml = message_from_bytes(
        (tmp_path / "out" / "costledger-report-2026-10.eml").read_bytes(), policy=default
    )
    assert eml["To"] == "finance@example.com"
    for p in paths:
        assert b"emp-should-not-show" not in p.read_bytes(), p.name
        assert b"employee_key" not in p.read_bytes(), p.name


def test_same_data_same_content_hash(settings, rendered):
    again = RenderedReport(build_report(settings, "2026-10", recipients=["x@example.com"]))
    assert again.content_hash == rendered.content_hash


def test_first_month_has_no_comparison_and_says_so(settings):
    rep = build_report(settings, "2026-08")
    assert rep.total.previous is None and rep.total.mom is None and rep.movers == ()
    text = render_text(rep)
    assert "vs last month: no data for the month before" in text
    assert "No increases against the month before." in text


def test_a_failed_critical_check_is_shown_in_red_with_its_name(tmp_path):
    wh = tmp_path / "warehouse"
    make_published_db(wh / "costledger.duckdb", quality_fail=True)
    rep = build_report(load_settings(warehouse=wh), "2026-10")
    assert rep.quality.status == "failed" and rep.quality.critical_failed == 1
    html = render_html(rep)
    assert "1 CRITICAL failure(s)" in html and "cost_conserved_per_file" in html and "#b42318" in html


# --- people cost at its published grain (docs/privacy.md) -------------------------------------


@pytest.fixture(scope="module")
def people_settings(tmp_path_factory):
    wh = tmp_path_factory.mktemp("report-people") / "warehouse"
    make_published_db(wh / "costledger.duckdb", people=True)
    return load_settings(warehouse=wh)


def test_people_time_merged_across_leaves_is_a_line_of_the_equation_inside_c_total(people_settings):
    rep = build_report(people_settings, "2026-10")
    assert [r.symbol for r in rep.equation] == [*SYMBOLS[:-1], "C_people_merged", "C_total"]
    merged = rep.row("C_people_merged")
    # 1254.565 and 1244.565 (tests/fixtures/report/published_db.py), to a neighbouring cent
    assert near(merged.amount, Decimal("1254.565")) and near(merged.previous, Decimal("1244.565"))
    stages = sum(r.amount for r in rep.equation if r.level == "stage")
    assert rep.total.amount == stages + merged.amount
    total = mart(
        people_settings, "select sum(c_total) from marts.monthly_cost_rollup where month = '2026-10-01'"
    )
    assert near(rep.total.amount, total[0][0])
    # tuning time grouped over several models stays on its leaf
    assert near(
        rep.row("C_tuning_time").amount,
        mart(
            people_settings,
            "select sum(cost) from marts.monthly_leaf_cost where month = '2026-10-01' and leaf = 'tuning_time'",
        )[0][0],
    )


def test_grouped_people_time_is_labelled_and_explained_never_a_raw_marker(people_settings):
    rep = build_report(people_settings, "2026-10")
    grouped = next(b for b in rep.by_model if b.key == "(several)")
    assert (grouped.label, grouped.detail) == ("Several models (people time, grouped)", "")
    assert any(b.label == "Several scenarios (people time, grouped)" for b in rep.by_scenario)
    note = "People cost is shown in groups of at least 3 people, so that nobody"
    text, html, term = render_text(rep), render_html(rep), render_terminal(rep)
    for body in (text, html, term):
        assert note in body
        assert "(several)" not in body
    zh = build_report(people_settings, "2026-10", lang="zh-CN")
    assert "人员工时（跨成本项合并）" in render_text(zh) and "多个模型（人员工时，合并）" in render_text(zh)


def test_rollup_attachment_carries_c_people_merged_and_its_total(people_settings):
    import csv

    rep = build_report(people_settings, "2026-10")
    stages = ("c_pretrain", "c_tuning", "c_deploy", "c_maintenance")
    for r in rep.rollup_rows:  # full precision: C_total = the four stages + merged people time
        assert r["c_total"] == sum(r[c] for c in stages) + r["c_people_merged"]
    rollup = RenderedReport(rep).attachments["costledger-2026-10-rollup.csv"][1].decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(rollup)))
    header, total = rows[0], rows[-1]
    assert total[header.index("c_people_merged")] == "1254.57"
    assert header.index("c_maintenance") < header.index("c_people_merged") < header.index("c_total")


def test_a_ledger_without_merged_people_time_shows_no_such_line_or_note(report):
    assert "C_people_merged" not in [r.symbol for r in report.equation]
    assert not report.has_people_merged
    assert "People cost is shown in groups" not in render_text(report)


def test_grouped_people_time_is_never_a_top_mover(people_settings):
    # the fixture's '(several)' tuning time grows 5,000 a month, more than any model's leaf, but it
    # is a different group of people each month
    rep = build_report(people_settings, "2026-10")
    assert rep.movers and all(m.model != "Several models (people time, grouped)" for m in rep.movers)
