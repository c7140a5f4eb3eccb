"""The CSV parts of one FOCUS export folder, read by one statement (pipeline.ingest.load_parts),
are booked exactly as when each file is read alone: the same rows with the same lineage (file,
physical line), the same rejected rows with file, line and reason, the same audit rows; a part
that would be refused is refused whole, and the other parts are still booked."""

from __future__ import annotations

import csv
import dataclasses
import shutil

import duckdb
import pytest

from pipeline.app.steps import discover, load_source
from pipeline.config.settings import IngestCfg, load_settings
from tests.conftest import REPO, isolated_env

FIXTURES = REPO / "tests" / "fixtures" / "focus"
SAMPLE = FIXTURES / "v1_3" / "aliyun-focus-1.3-2026-02.csv"

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    isolated_env(monkeypatch, pii_key="focus-parts-test-key")


def write_parts(folder, parts: int = 3, repeat: int = 200, fmt: str = "csv", edit: str = "") -> list:
    """The sample export's lines repeated, split into `parts` part files with one header each
    (`fmt` csv or parquet); `edit`: SQL run over the lines (table t, n = line in the export) first."""
    folder.mkdir(parents=True)
    con = duckdb.connect()
    try:
        con.execute(
            "create table t as select s.*, row_number() over () as n from "
            "read_csv(?, all_varchar = true, header = true) s, range(?) r",
            [str(SAMPLE), repeat],
        )
        if edit:
            con.execute(edit)
        total = con.execute("select count(*) from t").fetchone()[0]
        paths = []
        for p in range(parts):
            path = folder / f"part-{p + 1:05d}.{fmt}"
            lo, hi = total * p // parts, total * (p + 1) // parts
            con.execute(
                f"copy (select * exclude (n) from t where n > {lo} and n <= {hi} order by n) "
                + (
                    f"to '{path}' (header, delimiter ',')"
                    if fmt == "csv"
                    else f"to '{path}' (format parquet)"
                )
            )
            paths.append(path)
        return paths
    finally:
        con.close()


def edit_line(path, line: int, edit) -> None:
    """Change physical line `line` (header = 1) of a part file."""
    lines = path.read_text().split("\n")
    lines[line - 1] = edit(lines[line - 1])
    path.write_text("\n".join(lines))


def books(settings) -> dict:
    con = duckdb.connect(str(settings.work_db), read_only=True)
    try:
        return {
            "raw": con.execute(
                'select source_file, source_row, "BilledCost", "ChargePeriodStart", "Tags", focus_version, '
                "file_sha256 from raw.focus_line_items order by source_file, source_row"
            ).fetchall(),
            "rejected": con.execute(
                "select source_file, source_row, field, reason, cost, currency from audit.rejected_rows "
                "order by all"
            ).fetchall(),
            "load_log": con.execute(
                "select source_file, action, rows_in_file, rows_read, rows_rejected, message "
                "from audit.load_log order by all"
            ).fetchall(),
            "files": con.execute(
                "select source_file, status, message, booked_sha256 from audit.files order by all"
            ).fetchall(),
            # one statement over the parts takes their load_ids in order; had it fallen back to
            # reading them one by one, its ids would come after the ones it gave up
            "ids": con.execute("select source_file, load_id from audit.load_log order by all").fetchall(),
            "load_ids": con.execute(
                "select count(distinct load_id), count(distinct source_file) from raw.focus_line_items"
            ).fetchone(),
        }
    finally:
        con.close()


def load_both_ways(tmp_path, landing) -> tuple[dict, dict, dict]:
    """Load landing/focus twice on fresh warehouses: parts together, then file by file."""
    out = []
    for name, min_bytes in (("together", 0), ("one_by_one", 2**40)):
        settings = load_settings(landing=landing, warehouse=tmp_path / name)
        settings = dataclasses.replace(settings, ingest=IngestCfg(parts_min_bytes=min_bytes))
        discover(settings)
        summary = load_source(settings, "focus", f"run-{name}", raise_on_refused=False)
        out.append((summary, books(settings)))
    (s1, b1), (s2, b2) = out
    return s1, b1, b2


def test_parts_read_together_are_booked_as_when_read_one_by_one(tmp_path):
    landing = tmp_path / "landing"
    part1, part2, part3 = write_parts(landing / "focus" / "export")
    edit_line(part2, 5, lambda s: s + ",an extra field")  # refused by the CSV parser
    edit_line(part2, 9, lambda s: s.replace(",CNY,", ",C2Y,", 1))  # fails the currency rule
    edit_line(part3, 4, lambda s: s.replace(",CNY,", ",C1Y,", 1))  # fails the currency rule

    summary, together, one_by_one = load_both_ways(tmp_path, landing)

    assert summary["files_loaded"] == 3 and summary["files_refused"] == 0, summary["refused"]
    for key in ("raw", "rejected", "load_log", "files"):
        assert together[key] == one_by_one[key], key
    assert together["load_ids"] == (3, 3)  # one load (and load_id) per file, as always
    assert together["ids"] == one_by_one["ids"]  # read together, not fallen back
    rejected = {(r[0].rsplit("/", 1)[1], r[1]): r[3] for r in together["rejected"]}
    assert (
        rejected[("part-00002.csv", 5)].startswith("line 5: ")
        and "fields, header has" in (rejected[("part-00002.csv", 5)])
    )
    assert rejected[("part-00002.csv", 9)].startswith("line 9: BillingCurrency: 'C2Y'")
    assert rejected[("part-00003.csv", 4)].startswith("line 4: BillingCurrency: 'C1Y'")
    # physical lines: the header is line 1, a refused line keeps its number
    rows = {(r[0].rsplit("/", 1)[1], r[1]) for r in together["raw"]}
    assert (
        ("part-00002.csv", 4) in rows and ("part-00002.csv", 5) not in rows and ("part-00002.csv", 6) in rows
    )
    assert ("part-00001.csv", 2) in rows and ("part-00001.csv", 1) not in rows
    # every booked row is the one on its physical line of its file
    for part in (part1, part2, part3):
        lines = part.read_text().split("\n")
        header = next(csv.reader([lines[0]]))
        for rel, line, billed, start, tags, *_ in together["raw"]:
            if rel.endswith(part.name):
                row = dict(zip(header, next(csv.reader([lines[line - 1]])), strict=True))
                assert (billed, start, tags) == (
                    row["BilledCost"],
                    row["ChargePeriodStart"],
                    row["Tags"] or None,
                ), (rel, line)


def test_a_part_that_is_refused_leaves_the_other_parts_booked(tmp_path):
    landing = tmp_path / "landing"
    _, _, part3 = write_parts(landing / "focus" / "export")
    for line in range(2, 40):  # far over ingest.max_reject_share
        edit_line(part3, line, lambda s: s.replace(",CNY,", ",C1Y,", 1))

    summary, together, one_by_one = load_both_ways(tmp_path, landing)

    assert summary["files_loaded"] == 2 and summary["files_refused"] == 1
    assert "part-00003.csv" in summary["refused"][0] and "refused whole" in summary["refused"][0]
    for key in ("raw", "rejected", "load_log", "files"):
        assert together[key] == one_by_one[key], key
    assert not any(r[0].endswith("part-00003.csv") for r in together["raw"])
    assert together["ids"] != one_by_one["ids"]  # tried together, then read one by one


def test_parts_with_different_headers_are_read_one_by_one(tmp_path):
    landing = tmp_path / "landing"
    part1, _, _ = write_parts(landing / "focus" / "export")
    edit_line(part1, 1, lambda s: s.replace("ChargeDescription", "chargedescription", 1))  # same columns

    summary, together, one_by_one = load_both_ways(tmp_path, landing)

    assert summary["files_loaded"] == 3
    for key in ("raw", "rejected", "load_log", "files"):
        assert together[key] == one_by_one[key], key
    assert together["ids"] != one_by_one["ids"]  # not one read: read one by one


def test_a_redelivered_part_replaces_what_it_booked(tmp_path):
    landing = tmp_path / "landing"
    parts = write_parts(landing / "focus" / "export")
    settings = load_settings(landing=landing, warehouse=tmp_path / "wh")
    settings = dataclasses.replace(settings, ingest=IngestCfg(parts_min_bytes=0))
    discover(settings)
    load_source(settings, "focus", "run-1")
    before = books(settings)
    edit_line(parts[1], 3, lambda s: s.replace(",CNY,", ",C1Y,", 1))
    edit_line(parts[2], 3, lambda s: s.replace(",CNY,", ",C1Y,", 1))
    discover(settings)
    summary = load_source(settings, "focus", "run-2")

    after = books(settings)
    assert summary["files_loaded"] == 2 and summary["files_unchanged"] == 1
    assert len(after["raw"]) == len(before["raw"]) - 2
    assert [r[:2] for r in after["rejected"]] == [
        ("focus/export/part-00002.csv", 3),
        ("focus/export/part-00003.csv", 3),
    ]


def test_native_export_parts_read_together_are_booked_as_when_read_one_by_one(tmp_path):
    """Azure exports deliver a run as part_0_0001.csv, part_1_0001.csv, ... (tests/fixtures/native)."""
    landing = tmp_path / "landing"
    for folder in ("azure_cost", "aws_cur"):
        shutil.copytree(FIXTURES.parent / "native" / folder, landing / folder)
    got = {}
    for name, min_bytes in (("together", 0), ("one_by_one", 2**40)):
        settings = load_settings(landing=landing, warehouse=tmp_path / name)
        settings = dataclasses.replace(settings, ingest=IngestCfg(parts_min_bytes=min_bytes))
        discover(settings)
        summaries = [load_source(settings, s, f"run-{name}") for s in ("aws_cur", "azure_cost")]
        con = duckdb.connect(str(settings.work_db), read_only=True)
        try:
            got[name] = (
                [(s["files_loaded"], s["rows_read"], s["rows_rejected"]) for s in summaries],
                *(
                    con.execute(f"select * exclude (load_id) from {t} order by all").fetchall()
                    for t in ("raw.aws_cur_line_items", "raw.azure_cost_line_items")
                ),
                con.execute(
                    "select source_file, source_row, reason from audit.rejected_rows order by all"
                ).fetchall(),
                con.execute(
                    "select source_file, action, rows_in_file, rows_read, rows_rejected, load_id "
                    "from audit.load_log order by all"
                ).fetchall(),
            )
        finally:
            con.close()
    assert got["together"] == got["one_by_one"]
    assert got["together"][0][1][0] >= 4  # the Azure runs' part files were loaded


def test_parquet_parts_read_together_are_booked_as_when_read_one_by_one(tmp_path):
    landing = tmp_path / "landing"
    edit = "update t set \"BillingCurrency\" = 'C1Y' where n in (3, 900)"  # one reject in parts 1 and 2
    write_parts(landing / "focus" / "export", fmt="parquet", edit=edit)

    summary, together, one_by_one = load_both_ways(tmp_path, landing)

    assert summary["files_loaded"] == 3 and summary["rows_rejected"] == 2, summary["refused"]
    for key in ("raw", "rejected", "load_log", "files", "ids"):
        assert together[key] == one_by_one[key], key
    assert [r[:2] for r in together["rejected"]] == [
        ("focus/export/part-00001.parquet", 3),
        ("focus/export/part-00002.parquet", 900 - 733),
    ]
    assert together["rejected"][0][3].startswith("record 3: BillingCurrency: 'C1Y'")
