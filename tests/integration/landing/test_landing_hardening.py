"""The books never change by accident: the ordinary accidents of a shared landing folder, through
the CLI as a user meets them (issue 8, points 1, 2, 3, 5 and 9).

Every test starts from the small company (tests/fixtures/ledger/landing), run and published once.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest
import yaml

from pipeline.app.cli import main
from pipeline.config.settings import DEMO_CONFIG, REPO_ROOT
from tests.conftest import SMALL_LANDING, TEST_PII_KEY
from tests.fixtures.cli import cli
from tests.fixtures.config import config_with
from tests.conftest import sha

pytestmark = pytest.mark.slow

FOCUS = "focus/acme-cloud/focus-2026-09.csv"
COPY = "focus/acme-cloud/focus-2026-09 (1).csv"
VO77 = "invoices/vectorops/VO-77.csv"


def published(warehouse: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(warehouse / "costledger.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def work(warehouse: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(warehouse / "work.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def total(warehouse: Path) -> D:
    return published(warehouse, "select sum(effective_cost) from marts.cost_line_items")[0][0]


def by_file(warehouse: Path) -> dict[str, tuple[int, D]]:
    return {
        f: (n, c)
        for f, n, c in published(
            warehouse,
            "select source_file, count(distinct source_row), sum(effective_cost) from marts.cost_line_items "
            "where source_system = 'focus' group by 1",
        )
    }


def one_line(text: str) -> str:
    # the small company's two people are too few for a published group: every run warns about it
    lines = [line for line in text.strip().splitlines() if not line.startswith("costledger: warning: ")]
    assert len(lines) == 1, f"not one line: {text!r}"
    return lines[0]


@pytest.fixture(scope="module")
def _published_once(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    shutil.copytree(SMALL_LANDING, root / "landing")
    r = cli("run", "--quiet", landing=root / "landing", warehouse=root / "warehouse")
    assert r.returncode == 0, r.stderr
    return root


@pytest.fixture
def env(_published_once, tmp_path):
    shutil.copytree(_published_once / "landing", tmp_path / "landing")
    shutil.copytree(
        _published_once / "warehouse", tmp_path / "warehouse", ignore=shutil.ignore_patterns("*.lock")
    )
    return tmp_path / "landing", tmp_path / "warehouse"


# --- 1. one content, one booking ----------------------------------------------------------------


def test_the_same_content_under_another_path_is_booked_once_and_shown_as_a_warning(env):
    landing, warehouse = env
    before, files_before = total(warehouse), by_file(warehouse)
    shutil.copy(landing / FOCUS, landing / COPY)
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    assert total(warehouse) == before and by_file(warehouse) == files_before
    assert published(
        warehouse, "select status, duplicate_of, booked_sha256 from audit.files where source_file = ?", [COPY]
    ) == [("duplicate", FOCUS, None)]
    warning = f"warning: {COPY}: same content as {FOCUS}, booked once under that path; remove the copy"
    assert warning in r.stdout.splitlines()
    focus_row = next(line for line in r.stdout.splitlines() if line.startswith("focus "))
    assert focus_row.split()[-1] == "1"  # the duplicate column
    as_json = json.loads(cli("run", "--quiet", "--json", landing=landing, warehouse=warehouse).stdout)
    assert warning.removeprefix("warning: ") in as_json["warnings"]
    status = cli("status", landing=landing, warehouse=warehouse).stdout
    assert f"  duplicate {COPY}: same content as {FOCUS}, booked once under that path" in status


def test_when_the_original_goes_and_its_copy_stays_the_content_stays_booked_exactly_once(env):
    landing, warehouse = env
    before = total(warehouse)
    shutil.copy(landing / FOCUS, landing / COPY)
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    (landing / FOCUS).unlink()
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    assert f"warning: {FOCUS}: gone; the same content found at {COPY}, booked there now" in r.stdout
    assert total(warehouse) == before
    assert set(by_file(warehouse)) == {COPY}, "the content is booked under the copy only"
    assert published(
        warehouse, "select status, duplicate_of from audit.files where source_file = ?", [FOCUS]
    ) == [("moved", COPY)]
    # nothing is missing: the booked content is still delivered
    assert (
        "missing"
        not in cli("status", landing=landing, warehouse=warehouse).stdout.split("needs attention")[-1]
    )
    # and the original coming back is now the copy's duplicate, not a second booking
    shutil.copy(landing / COPY, landing / FOCUS)
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    assert total(warehouse) == before and set(by_file(warehouse)) == {COPY}


def test_a_copy_of_an_earlier_version_stays_a_duplicate_when_the_restated_original_goes(env):
    landing, warehouse = env
    shutil.copy(landing / FOCUS, landing / COPY)
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    text = (
        (landing / FOCUS)
        .read_text()
        .replace(",100.00,100.00,100.00,100.00,", ",200.00,200.00,200.00,200.00,")
    )
    (landing / FOCUS).write_text(text)  # restated: the hardware line is now 200 USD
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    restated = total(warehouse)
    (landing / FOCUS).unlink()  # the restated original goes; the copy of the old version stays
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    assert total(warehouse) == restated, "the old version came back on top of the restated one"
    assert set(by_file(warehouse)) == {FOCUS}


def test_two_exports_of_one_account_and_period_fail_a_critical_check_naming_both(env):
    landing, warehouse = env
    before = sha(warehouse / "costledger.duckdb")
    other = "focus/acme-second-export/focus-2026-09.csv"
    (landing / other).parent.mkdir(parents=True)
    # another export of the same account and month, not byte-identical (one line restated)
    text = (
        (landing / FOCUS)
        .read_text()
        .replace(",100.00,100.00,100.00,100.00,", ",200.00,200.00,200.00,200.00,")
    )
    (landing / other).write_text(text)
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse, subprocess_run=True)
    assert r.returncode == 5
    msg = one_line(r.stderr)
    assert msg.startswith(
        "costledger: error: quality gate failed: assert_no_overlapping_deliveries.sql on core.line_items: "
    ), msg
    assert f"file={FOCUS}, other_file={other}" in msg, msg
    assert "billing_account_id=111122223333, billing_period=2026-09" in msg, msg
    assert sha(warehouse / "costledger.duckdb") == before
    (severity,) = work(
        warehouse,
        "select severity from audit.quality_results where check_name = 'assert_no_overlapping_deliveries.sql' "
        "and not success",
    )
    assert severity == ("critical",)


def test_parts_of_one_delivery_and_daily_files_are_not_an_overlap(env):
    landing, warehouse = env
    header, *lines = (landing / FOCUS).read_text().replace("111122223333", "555566667777").splitlines()
    parts = landing / "focus" / "acme-parts"
    parts.mkdir()
    # numbered parts of one export: the same account, period and days in both
    (parts / "focus-2026-09-00001.csv").write_text("\n".join([header, *lines[:5]]) + "\n")
    (parts / "focus-2026-09-00002.csv").write_text(
        "\n".join([header, *lines[4:5], *lines[5:]]).replace("Storefront", "Storefront (second part)") + "\n"
    )
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    # daily files of one period share the account and period, never a charge day
    header, *lines = (landing / FOCUS).read_text().replace("111122223333", "777788889999").splitlines()
    daily = landing / "focus" / "acme-daily"
    daily.mkdir()
    (daily / "focus_2026-09-01_07.csv").write_text("\n".join([header, *lines[0:4]]) + "\n")
    (daily / "focus_2026-09-08_14.csv").write_text("\n".join([header, *lines[4:8]]) + "\n")
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    # ... but a file repeating a day of another is an overlap
    (daily / "focus_2026-09-07_09.csv").write_text("\n".join([header, *lines[3:5]]) + "\n")
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 5 and "assert_no_overlapping_deliveries.sql" in r.stderr, r.stderr


def test_forget_takes_a_gone_file_out_of_the_books_audited_and_noted_in_the_report(env):
    from pipeline.config.settings import load_settings
    from pipeline.report import build_report
    from pipeline.report.render import render_html, render_text

    landing, warehouse = env
    before = total(warehouse)
    (vo77_cost,) = published(
        warehouse, "select sum(effective_cost) from marts.cost_line_items where source_file = ?", [VO77]
    )[0]
    (landing / VO77).unlink()
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    assert total(warehouse) == before  # a missing file keeps its rows until a person says otherwise
    r = cli("forget", VO77, "--reason", "sent twice by the vendor", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    assert one_line(r.stdout) == (
        f"forgot {VO77}: 1 row(s), CNY {vo77_cost:,.2f} in 2026-09 taken out of the books; "
        "the next `costledger run` publishes without them"
    )
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    assert total(warehouse) == before - vo77_cost
    assert published(
        warehouse, "select count(*) from marts.cost_line_items where source_file = ?", [VO77]
    ) == [(0,)]
    (row,) = published(
        warehouse,
        "select source_file, source, file_sha256, rows_removed, cost, currency, first_month, reason, forgotten_by "
        "from audit.forgotten_files",
    )
    assert row[:2] == (VO77, "invoices") and row[2] == sha(SMALL_LANDING / VO77)
    assert row[3] == 1 and row[4] == vo77_cost and row[5] == "CNY" and str(row[6]) == "2026-09-01"
    assert row[7] == "sent twice by the vendor" and row[8]
    status = cli("status", landing=landing, warehouse=warehouse).stdout
    assert f"  {VO77}: 1 row(s), CNY {vo77_cost:,.2f} on " in status and "sent twice by the vendor" in status
    report = build_report(load_settings(landing=landing, warehouse=warehouse), "2026-09")
    note = f"{VO77}: taken out of the books on "
    assert note in render_text(report) and "sent twice by the vendor" in render_html(report)


@pytest.mark.parametrize(
    "path, says",
    [
        (FOCUS, f"{FOCUS}: still in the landing folder; forget takes out only files that are gone"),
        ("focus/never/seen.csv", "focus/never/seen.csv: not a file the ledger knows"),
    ],
)
def test_forget_refuses_a_present_or_unknown_file_in_one_line(env, path, says):
    landing, warehouse = env
    before = total(warehouse)
    r = cli("forget", path, "--reason", "tidy up", landing=landing, warehouse=warehouse, subprocess_run=True)
    assert r.returncode != 0
    assert one_line(r.stderr).startswith(f"costledger: error: {says}")
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    assert total(warehouse) == before


# --- 2. a damaged file is refused whole; rejected rows and their cost are shown ------------------


def _damaged(landing: Path) -> None:
    """The FOCUS export re-delivered with ChargeCategory blanked on its first line (100 USD)."""
    header, first, *rest = (landing / FOCUS).read_text().splitlines()
    cells = first.split(",")
    cells[5] = ""  # ChargeCategory
    (landing / FOCUS).write_text("\n".join([header, ",".join(cells), *rest]) + "\n")


def test_a_damaged_redelivery_is_refused_whole_and_its_previous_version_stays_booked(env):
    landing, warehouse = env
    before, published_before = by_file(warehouse), sha(warehouse / "costledger.duckdb")
    _damaged(landing)
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse, subprocess_run=True)
    assert r.returncode == 3
    assert one_line(r.stderr) == (
        f"costledger: error: {FOCUS}: 1 of 9 rows rejected (11.1 %, over ingest.max_reject_share = 1 %); "
        "first: line 2: ChargeCategory: missing — the file is refused whole; its previous version stays booked; "
        "nothing was published — fix or remove the file and run again"
    )
    assert sha(warehouse / "costledger.duckdb") == published_before
    assert work(warehouse, "select count(*) from raw.focus_line_items where source_file = ?", [FOCUS]) == [
        (9,)
    ]
    assert by_file(warehouse) == before


def test_rejected_rows_and_the_cost_they_carried_are_shown_per_file(env, tmp_path):
    from pipeline.config.settings import load_settings
    from pipeline.report import build_report
    from pipeline.report.render import render_text

    landing, warehouse = env
    _damaged(landing)
    cfg = config_with(tmp_path / "cfg", max_reject_share=0.2)
    r = cli("run", "--quiet", "--config", str(cfg), landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    shown = f"{FOCUS}: 1 row(s) rejected carrying USD 100.00; first: line 2: ChargeCategory: missing"
    assert f"rejected: {shown}" in r.stdout.splitlines()
    assert published(
        warehouse, "select source_row, field, reason, cost, currency from audit.rejected_rows"
    ) == [(2, "ChargeCategory", "line 2: ChargeCategory: missing", D("100"), "USD")]
    assert f"  {shown}" in cli("status", "--config", str(cfg), landing=landing, warehouse=warehouse).stdout
    report = build_report(load_settings(config=cfg, landing=landing, warehouse=warehouse), "2026-09")
    assert f"{FOCUS}: 1 row(s) rejected, carrying USD 100.00, not in these figures" in render_text(report)


def test_a_row_with_the_wrong_number_of_fields_says_so_once_and_plainly(env, tmp_path):
    landing, warehouse = env
    extra = [f"x_Extra{i}" for i in range(45 - 28)]
    header, *lines = (landing / FOCUS).read_text().splitlines()
    rows = [f"{line},{','.join('e' * len(extra))}" for line in lines]
    rows[4] = ",".join(rows[4].split(",")[:34])  # line 6: 34 fields
    rows[5] = rows[5] + ",one,two"  # line 7: 47 fields
    (landing / FOCUS).write_text("\n".join([",".join([header, *extra]), *rows]) + "\n")
    cfg = config_with(tmp_path / "cfg", max_reject_share=0.5)
    r = cli("run", "--quiet", "--config", str(cfg), landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    assert published(warehouse, "select source_row, field, reason from audit.rejected_rows order by 1") == [
        (6, None, "line 6: 34 fields, header has 45"),
        (7, None, "line 7: 47 fields, header has 45"),
    ]


# --- 3. rows never vanish without a trace --------------------------------------------------------


def _with_long_line(landing: Path, size: int) -> None:
    header, *lines = (landing / FOCUS).read_text().splitlines()
    cells = lines[1].split(",")
    cells[7] = "x" * size  # ChargeDescription
    lines[1] = ",".join(cells)
    (landing / FOCUS).write_text("\n".join([header, *lines]) + "\n")


def test_a_line_longer_than_the_cap_refuses_the_file_instead_of_vanishing(env):
    """DuckDB skips a 40 MB line without a word (0 read, 0 rejected); the pre-scan refuses the file."""
    landing, warehouse = env
    before = by_file(warehouse)
    _with_long_line(landing, 40 * 1024 * 1024)
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse, subprocess_run=True)
    assert r.returncode == 3
    assert one_line(r.stderr).startswith(
        f"costledger: error: {FOCUS}: line 3 is longer than 8 MiB (cap ingest.max_line_bytes); refused unread"
    )
    assert by_file(warehouse) == before


def test_rows_the_reader_drops_fail_the_run_naming_the_file(env, tmp_path, monkeypatch):
    """With the cap above the reader's own limit, the reader drops the long line: the independent
    count catches it."""
    from pipeline.ingest import common

    landing, warehouse = env
    before = by_file(warehouse)
    _with_long_line(landing, 40 * 1024 * 1024)
    monkeypatch.setattr(common, "reader_max_line_size", lambda f: 2_000_000)
    cfg = config_with(tmp_path / "cfg", max_line_bytes="64MiB")
    r = cli("run", "--quiet", "--config", str(cfg), landing=landing, warehouse=warehouse)
    assert r.returncode == 3
    assert one_line(r.stderr) == (
        f"costledger: error: {FOCUS}: 9 data row(s) counted as CSV records, but the reader returned 8 and "
        "rejected 0 — 1 row(s) unaccounted for; the file is refused, nothing of it is booked; nothing was "
        "published — fix or remove the file and run again"
    )
    assert by_file(warehouse) == before


def test_every_loaded_file_has_rows_read_plus_rejected_equal_to_its_counted_lines(env):
    landing, warehouse = env
    for rel, in_file, read, rejected in published(
        warehouse,
        "select source_file, rows_in_file, rows_read, rows_rejected from audit.load_log where action = 'loaded'",
    ):
        lines = (landing / rel).read_text().count("\n") - 1
        assert in_file == lines == read + rejected, rel


# --- 5. nothing outside landing/ is opened ------------------------------------------------------


def test_an_unchanged_file_is_not_read_again_and_a_same_size_same_mtime_rewrite_is_booked(env, monkeypatch):
    from pipeline.landing import walk

    landing, warehouse = env
    monkeypatch.setattr(walk, "QUIET_NS", -10**10)  # as if the files had been left alone for a while
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    assert work(warehouse, "select file_sha256 from audit.file_hashes where source_file = ?", [FOCUS]) == [
        (sha(landing / FOCUS),)
    ]

    read: list[str] = []
    real = walk.prescan_fd
    monkeypatch.setattr(walk, "prescan_fd", lambda fd, rel, *a, **k: read.append(rel) or real(fd, rel, *a, **k))
    before = by_file(warehouse)
    original = "select sum(effective_cost_original) from marts.cost_line_items where source_file = ?"
    usd_before = published(warehouse, original, [FOCUS])[0][0]
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    assert read == [], "a file whose stat did not change was read again"
    assert by_file(warehouse) == before

    # the same size and the same mtime, other bytes: the kernel's ctime still tells
    path = landing / FOCUS
    st = path.stat()
    time.sleep(0.05)
    text = path.read_text()
    assert ",100.00,100.00,100.00,100.00,AWS," in text
    path.write_text(text.replace(",100.00,100.00,100.00,100.00,AWS,", ",100.00,190.00,100.00,100.00,AWS,", 1))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    assert read == [FOCUS, FOCUS]  # the cost files' and the commitment files' survey of landing/focus
    assert published(warehouse, original, [FOCUS])[0][0] == usd_before + D("90.00")
    assert work(warehouse, "select file_sha256 from audit.file_hashes where source_file = ?", [FOCUS]) == [
        (sha(path),)
    ]


def test_a_stale_kept_hash_refuses_the_file_once_and_is_dropped_so_the_next_run_books_it_as_before(
    env, monkeypatch
):
    from pipeline.landing import walk

    landing, warehouse = env
    monkeypatch.setattr(walk, "QUIET_NS", -10**10)
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    before = by_file(warehouse)
    # a kept hash whose stat still matches but whose sha256 is not the file's (it cannot happen
    # through the kernel's ctime; the mend must hold if it ever does)
    con = duckdb.connect(str(warehouse / "work.duckdb"))
    con.execute("update audit.file_hashes set file_sha256 = ? where source_file = ?", ["0" * 64, FOCUS])
    con.close()

    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert "changed while this run was reading it" in r.stderr
    assert work(warehouse, "select count(*) from audit.file_hashes where source_file = ?", [FOCUS]) == [(0,)]
    assert by_file(warehouse) == before  # the refused re-read left the last good version booked

    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    assert "changed while" not in r.stderr
    assert work(warehouse, "select file_sha256 from audit.file_hashes where source_file = ?", [FOCUS]) == [
        (sha(landing / FOCUS),)
    ]
    assert work(warehouse, "select status from audit.files where source_file = ?", [FOCUS]) == [("loaded",)]
    assert by_file(warehouse) == before


def test_a_symlink_out_of_landing_is_refused_not_hashed_and_not_read(env, tmp_path):
    landing, warehouse = env
    outside = tmp_path / "elsewhere.csv"
    outside.write_text((landing / FOCUS).read_text().replace("111122223333", "999999999999"))
    (landing / "focus" / "acme-cloud" / "linked.csv").symlink_to(outside)
    (landing / "focus" / "acme-cloud" / "shadow.csv").symlink_to("/etc/shadow")
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse, subprocess_run=True)
    assert r.returncode == 3
    assert "a symbolic link to a target outside the landing folder; refused unread" in one_line(r.stderr)
    rows = work(
        warehouse,
        "select source_file, status, file_sha256 from audit.files where source_file like '%linked.csv' "
        "or source_file like '%shadow.csv' order by 1",
    )
    assert rows == [
        ("focus/acme-cloud/linked.csv", "refused", None),
        ("focus/acme-cloud/shadow.csv", "refused", None),
    ]
    assert work(
        warehouse, "select count(*) from raw.focus_line_items where BillingAccountId = '999999999999'"
    ) == [(0,)]
    assert sha(outside) not in {
        r[0] for r in work(warehouse, "select file_sha256 from audit.load_log where file_sha256 is not null")
    }
    status = cli("status", landing=landing, warehouse=warehouse).stdout
    assert "refused  focus/acme-cloud/linked.csv" in status


def test_a_symlink_inside_landing_is_booked_only_under_its_target(env):
    landing, warehouse = env
    before = total(warehouse)
    (landing / "focus" / "alias.csv").symlink_to(landing / FOCUS)
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    assert total(warehouse) == before
    assert published(
        warehouse, "select status, duplicate_of from audit.files where source_file = 'focus/alias.csv'"
    ) == [("duplicate", FOCUS)]


def test_file_names_are_read_literally_never_as_globs(env):
    landing, warehouse = env
    header, *lines = (landing / FOCUS).read_text().splitlines()
    (landing / FOCUS).unlink()
    folder = landing / "focus" / "acme-cloud"
    # one file per day range, each its own account so none overlaps another
    names = ["*.csv", "a[1].csv", "a1.csv", "b?.csv", "bx.csv"]
    for i, name in enumerate(names):
        (folder / name).write_text(
            "\n".join([header, lines[i].replace("111122223333", f"10000000000{i}")]) + "\n"
        )
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    got = {f: n for f, (n, _) in by_file(warehouse).items() if f != FOCUS}  # FOCUS: missing, kept
    assert got == {f"focus/acme-cloud/{name}": 1 for name in names}


@pytest.mark.parametrize("name", ["evil\nrun succeeded.csv", "tab\tname.csv", "esc\x1b[2Jname.csv"])
def test_a_name_with_control_characters_is_refused_and_shown_escaped(env, name):
    landing, warehouse = env
    shutil.copy(landing / FOCUS, landing / "focus" / "acme-cloud" / name)
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse, subprocess_run=True)
    assert r.returncode == 3
    line = one_line(r.stderr)
    assert ascii(f"focus/acme-cloud/{name}") in line and "control characters" in line
    assert line.isprintable()
    status = cli("status", landing=landing, warehouse=warehouse).stdout
    assert ascii(f"focus/acme-cloud/{name}") in status and all(c not in status for c in "\t\x1b")


# --- 9. a missing landing folder is an error, an unmounted share is not a good night -------------


def test_a_landing_folder_that_does_not_exist_fails_in_one_line(env):
    _, warehouse = env
    before = sha(warehouse / "costledger.duckdb")
    r = cli(
        "run", "--quiet", landing=warehouse.parent / "not-mounted", warehouse=warehouse, subprocess_run=True
    )
    assert r.returncode == 3
    assert one_line(r.stderr).startswith(
        f"costledger: error: {warehouse.parent / 'not-mounted'}: the landing folder does not exist"
    )
    assert sha(warehouse / "costledger.duckdb") == before


def test_most_booked_files_missing_at_once_refuses_to_publish_unless_allowed(env):
    landing, warehouse = env
    before, published_before = total(warehouse), sha(warehouse / "costledger.duckdb")
    for rel in (
        FOCUS,
        VO77,
        "invoices/annotate-pro/INV-1001.csv",
        "metrics/gpu_hours-2026-09.csv",
        "budgets/budget-2026-09.csv",
    ):
        (landing / rel).unlink()  # 5 of the 8 booked files
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse, subprocess_run=True)
    assert r.returncode == 3
    assert one_line(r.stderr).startswith("costledger: error: 5 of 8 booked files (62%) are missing from "), (
        r.stderr
    )
    assert "over ingest.max_missing_share = 50%" in r.stderr and "--allow-missing" in r.stderr
    assert sha(warehouse / "costledger.duckdb") == published_before
    assert work(warehouse, "select count(*) from audit.files where status = 'missing'") == [(0,)]
    r = cli("run", "--quiet", "--allow-missing", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    assert total(warehouse) == before  # missing files keep their rows
    assert (
        sum(
            line.startswith("warning: ") and "missing from landing/" in line for line in r.stdout.splitlines()
        )
        == 5
    )


def test_run_all_takes_allow_missing(env):
    from pipeline.app.steps import run_all
    from pipeline.config.settings import load_settings
    from pipeline.errors import InputError

    landing, warehouse = env
    shutil.rmtree(landing)
    landing.mkdir()  # mounted, but empty
    settings = load_settings(landing=landing, warehouse=warehouse)
    with pytest.raises(InputError, match="8 of 8 booked files"):
        run_all(settings)
    assert run_all(settings, allow_missing=True).status == "succeeded"


# --- upgrading in place ---------------------------------------------------------------------------


def test_a_warehouse_built_before_these_columns_keeps_working(env):
    landing, warehouse = env
    con = duckdb.connect(str(warehouse / "work.duckdb"))
    for table, column in (
        ("files", "delivery"),
        ("files", "booked_sha256"),
        ("files", "duplicate_of"),
        ("rejected_rows", "cost"),
        ("rejected_rows", "currency"),
    ):
        con.execute(f"alter table audit.{table} drop column {column}")
    con.execute("drop table audit.forgotten_files")
    con.close()
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    focus_row = next(line for line in r.stdout.splitlines() if line.startswith("focus "))
    assert focus_row.split()[1:3] == ["0", "1"], "an upgraded warehouse reloaded unchanged files"
    assert work(warehouse, "select count(*) from audit.files where booked_sha256 is null") == [(0,)]
    shutil.copy(landing / FOCUS, landing / COPY)
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    assert set(by_file(warehouse)) == {FOCUS}


def test_a_newer_azure_export_run_restates_the_range_instead_of_overlapping_it(tmp_path):
    """Cost Management writes a new run folder per day for a month-to-date export: the newer run
    replaces the older one (no double count, no overlap failure)."""
    fixtures = REPO_ROOT / "tests" / "fixtures" / "focus"
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse"
    shutil.copytree(fixtures / "azure", landing / "focus" / "azure")
    shutil.copytree(fixtures / "fx_rates", landing / "fx_rates")
    rng = landing / "focus" / "azure" / "shopco-focus-daily" / "20260101-20260131"
    (old,) = [p for p in rng.iterdir()]
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    first = total(warehouse)
    new = rng / "c3d4e5f6-0000-4000-8000-000000000002"
    new.mkdir()
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["runInfo"]["submittedTime"] = "2026-02-02T05:11:02.0000000Z"
    manifest["blobs"] = [{"blobName": f"shopco-focus-daily/20260101-20260131/{new.name}/part_0_0001.csv"}]
    (new / "manifest.json").write_text(json.dumps(manifest))
    header, *rows = (old / "part_0_0001.csv").read_text(encoding="utf-8").splitlines()
    (new / "part_0_0001.csv").write_text("\n".join([header, *rows, rows[-1]]) + "\n", encoding="utf-8")
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    rel_old = f"focus/azure/shopco-focus-daily/20260101-20260131/{old.name}/part_0_0001.csv"
    rel_new = f"focus/azure/shopco-focus-daily/20260101-20260131/{new.name}/part_0_0001.csv"
    assert set(by_file(warehouse)) == {rel_new}
    last = published(
        warehouse,
        "select effective_cost from marts.cost_line_items where source_file = ? and source_row = ?",
        [rel_new, len(rows) + 2],
    )
    assert total(warehouse) == first + last[0][0]
    assert published(warehouse, "select status from audit.files where source_file = ?", [rel_old]) == [
        ("dropped",)
    ]
