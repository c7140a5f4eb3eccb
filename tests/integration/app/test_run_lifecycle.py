"""A run's life as the operator meets it: disk full, killed runs, another process holding the
work database, a rule DuckDB cannot run, and nights with nothing new (issue 8, points 6-8, 10, 12)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

from pipeline import publish
from pipeline.app import runs, steps
from pipeline.config.settings import DEMO_CONFIG, load_settings
from pipeline.errors import ResourceError, UnexpectedError
from pipeline.ingest import SOURCES
from tests.conftest import SMALL_LANDING, TEST_PII_KEY, sha
from tests.fixtures.cli import cli
from tests.fixtures.disk import fill

pytestmark = pytest.mark.slow

NEW_INVOICE = (
    "vendor,invoice_number,invoice_date,line_number,service_period_start,service_period_end,amount,currency,model_or_project\n"
    "vectorops,VO-80,2026-09-30,1,2026-09-01,2026-09-30,10.00,CNY,reco-llm\n"
)
STEPS = {
    "start",
    "discover",
    "fingerprint",
    "nothing_new",
    "check_raw",
    "transform",
    "check_marts",
    "publish",
    "open the work database",
    "close the work database",
} | {f"load_{s}" for s in SOURCES}


def total(warehouse: Path) -> D:
    con = duckdb.connect(str(warehouse / "costledger.duckdb"), read_only=True)
    try:
        return con.execute("select sum(effective_cost) from marts.cost_line_items").fetchone()[0]
    finally:
        con.close()


def runs_of(db: Path) -> dict[str, tuple[str, str]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            r[0]: (r[1], r[2])
            for r in con.execute("select run_id, status, message from audit.runs").fetchall()
        }
    finally:
        con.close()


def config_with(tmp_path: Path, edit=None, lock_timeout: float | None = None) -> Path:
    cfg = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, cfg)
    if lock_timeout is not None:
        main_cfg = cfg / "costledger.yaml"
        text = main_cfg.read_text().replace(
            "lock_timeout_seconds: 60", f"lock_timeout_seconds: {lock_timeout}"
        )
        assert f"lock_timeout_seconds: {lock_timeout}" in text
        main_cfg.write_text(text)
    if edit:
        edit(cfg)
    return cfg


@pytest.fixture
def landing(tmp_path) -> Path:
    dest = tmp_path / "landing"
    shutil.copytree(SMALL_LANDING, dest)
    return dest


@pytest.fixture
def published(landing, tmp_path):
    """The small company run once: (settings, landing, warehouse)."""
    warehouse = tmp_path / "warehouse"
    settings = load_settings(landing=landing, warehouse=warehouse)
    assert steps.run_all(settings).status == "succeeded"
    return settings, landing, warehouse


# --- a small tmpfs as the warehouse: disk full for real (tests/fixtures/disk.py) ----------------------------


def test_disk_full_is_one_line_and_the_run_after_freeing_space_succeeds(tmpfs, landing):
    warehouse = tmpfs / "warehouse"
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    before, old_total = sha(warehouse / "costledger.duckdb"), total(warehouse)
    (landing / "invoices/vectorops/VO-80.csv").write_text(NEW_INVOICE)
    ballast = fill(tmpfs, leave=128 * 1024)  # enough to start, not to finish

    r = cli("run", "--quiet", landing=landing, warehouse=warehouse, subprocess_run=True)

    assert r.returncode == 74, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert lines[0].startswith("costledger: error: "), lines[0]
    step, what = lines[0].removeprefix("costledger: error: ").split(": ", 1)
    assert step in STEPS, lines[0]
    assert what.startswith(f"no space left on device writing {warehouse}/"), lines[0]
    assert f"free space in {warehouse}" in what
    assert sha(warehouse / "costledger.duckdb") == before

    ballast.unlink()
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    assert total(warehouse) == old_total + 10
    assert not publish_leftovers(warehouse)


def publish_leftovers(warehouse: Path) -> list[Path]:
    return sorted(warehouse.glob(".costledger.*building*"))


def test_not_enough_space_for_the_published_file_fails_before_building_it(
    tmpfs, landing, monkeypatch, capsys
):
    warehouse = tmpfs / "warehouse"
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    before = sha(warehouse / "costledger.duckdb")
    (landing / "invoices/vectorops/VO-80.csv").write_text(NEW_INVOICE)
    real_check = publish.check_free_space
    ballast = []

    def fill_then_check(con, settings):  # the volume fills up (another writer) just before publishing
        ballast.append(fill(tmpfs, leave=512 * 1024))
        return real_check(con, settings)

    monkeypatch.setattr(publish, "check_free_space", fill_then_check)
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)

    assert r.returncode == 74
    # the small company's two people are too few for a group of three (docs/privacy.md): every run
    # warns about it on a line of its own; the error itself is one line
    line = "\n".join(e for e in r.stderr.strip().splitlines() if not e.startswith("costledger: warning: "))
    assert "\n" not in line
    assert line.startswith(
        f"costledger: error: publish: not enough free space in {warehouse} to build the published file: needs about "
    ), line
    assert " MB, 0.5 MB free" in line or " MB, 0.4 MB free" in line, line
    assert sha(warehouse / "costledger.duckdb") == before
    assert not publish_leftovers(warehouse)

    monkeypatch.setattr(publish, "check_free_space", real_check)
    ballast[0].unlink()
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    assert sha(warehouse / "costledger.duckdb") != before


def test_disk_full_while_building_the_published_file_leaves_nothing_behind(tmpfs, landing, monkeypatch):
    warehouse = tmpfs / "warehouse"
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    before, old_total = sha(warehouse / "costledger.duckdb"), total(warehouse)
    (landing / "invoices/vectorops/VO-80.csv").write_text(NEW_INVOICE)
    ballast = []

    def fill_and_skip_check(con, settings):  # the estimate was wrong: DuckDB meets ENOSPC mid-build
        ballast.append(fill(tmpfs, leave=256 * 1024))
        return 0

    monkeypatch.setattr(publish, "check_free_space", fill_and_skip_check)
    settings = load_settings(landing=landing, warehouse=warehouse)
    with pytest.raises(ResourceError) as err:
        steps.run_all(settings)
    text = str(err.value)
    assert text.startswith("publish: no space left on device writing "), text
    assert "\n" not in text and str(warehouse) in text
    assert not publish_leftovers(warehouse)
    assert sha(warehouse / "costledger.duckdb") == before

    monkeypatch.undo()
    ballast[0].unlink()
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    assert total(warehouse) == old_total + 10
    statuses = [s for s, _ in runs_of(warehouse / "work.duckdb").values()]
    assert sorted(statuses) == ["failed", "succeeded", "succeeded"]


def test_leftovers_of_a_killed_publish_are_removed_so_the_next_run_fits(tmpfs, landing):
    """A run killed mid-publish leaves its .building file, WAL and spill files, taking the
    space the next publish needs: the next run removes them first and succeeds."""
    warehouse = tmpfs / "warehouse"
    assert cli("run", "--quiet", landing=landing, warehouse=warehouse).returncode == 0
    (landing / "invoices/vectorops/VO-80.csv").write_text(NEW_INVOICE)
    (warehouse / ".tmp").mkdir(exist_ok=True)
    (warehouse / ".tmp" / "duckdb_temp_storage_DEFAULT-0.tmp").write_bytes(b"\0" * 1024 * 1024)
    (warehouse / ".costledger.run-killed.building.duckdb.wal").write_bytes(b"\0" * 4096)
    fill(warehouse, leave=0, name=".costledger.run-killed.building.duckdb")

    r = cli("run", "--quiet", landing=landing, warehouse=warehouse, subprocess_run=True)

    assert r.returncode == 0, r.stderr
    assert not publish_leftovers(warehouse)
    assert list((warehouse / ".tmp").glob("duckdb_temp_storage*")) == []
    log = (warehouse / "logs" / "costledger.log").read_text()
    assert (
        "removed what an earlier run left behind" in log and ".costledger.run-killed.building.duckdb" in log
    )


def test_the_size_estimate_covers_the_published_file(published):
    settings, landing, warehouse = published
    con = duckdb.connect(str(settings.work_db), read_only=True)
    try:
        expected = publish.expected_size(con)
    finally:
        con.close()
    actual = settings.published_db.stat().st_size
    assert actual <= expected <= 3 * actual + publish.SIZE_OVERHEAD, (actual, expected)


def test_leftovers_are_removed_at_the_start_of_the_next_run(published):
    settings, landing, warehouse = published
    left = [
        warehouse / ".costledger.run-20260101T000000Z-dead00.building.duckdb",
        warehouse / ".costledger.run-20260101T000000Z-dead00.building.duckdb.wal",
        warehouse / ".tmp" / "duckdb_temp_block-4611686018427388032.block",
    ]
    left[-1].parent.mkdir(exist_ok=True)
    for p in left:
        p.write_bytes(b"half-written")
    steps.run_all(settings, force=True)
    assert [p for p in left if p.exists()] == []
    assert (warehouse / "costledger.duckdb").exists()


# --- one line, traceback in the log -----------------------------------------------------------------


def test_an_unexpected_error_is_one_line_with_the_traceback_in_the_log(published, monkeypatch):
    settings, landing, warehouse = published

    def broken(*_a, **_k):
        raise ValueError("boom")

    monkeypatch.setattr(steps, "_transform", broken)
    r = cli("run", "--quiet", "--force", landing=landing, warehouse=warehouse)
    log_file = warehouse / "logs" / "costledger.log"
    assert r.returncode == UnexpectedError.exit_code
    assert (
        r.stderr == f"costledger: error: transform: unexpected ValueError: boom (traceback in {log_file})\n"
    )
    log = log_file.read_text()
    assert "Traceback (most recent call last)" in log and "ValueError: boom" in log
    failed = [m for s, m in runs_of(warehouse / "work.duckdb").values() if s == "failed"]
    assert failed == ["transform: unexpected ValueError: boom" + f" (traceback in {log_file})"]

    r = cli("--debug", "run", "--quiet", "--force", landing=landing, warehouse=warehouse)
    assert r.returncode == UnexpectedError.exit_code
    assert "Traceback (most recent call last)" in r.stderr and "ValueError: boom" in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("costledger: error: transform: unexpected ValueError")
    r = cli("run", "--debug", "--quiet", "--force", landing=landing, warehouse=warehouse)
    assert "Traceback (most recent call last)" in r.stderr


# --- run status tells the truth ---------------------------------------------------------------------


def test_succeeded_is_written_only_after_the_swap(published, monkeypatch):
    settings, landing, warehouse = published
    (landing / "invoices/vectorops/VO-80.csv").write_text(NEW_INVOICE)
    seen = {}
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == settings.published_db:
            run_id = Path(src).name.split(".")[2]
            # the file about to be swapped in, and the work database, at the moment of the swap
            seen["in_file"] = runs_of(Path(src))[run_id][0]
            con = duckdb.connect(str(settings.work_db))  # the run's own database instance
            seen["in_work_db"] = con.execute(
                "select status from audit.runs where run_id = ?", [run_id]
            ).fetchone()[0]
            con.close()
            seen["run_id"] = run_id
        return real_replace(src, dst)

    monkeypatch.setattr(publish.os, "replace", replace)
    summary = steps.run_all(settings)
    assert seen == {"in_file": "publishing", "in_work_db": "publishing", "run_id": summary.run_id}
    status, message = runs_of(settings.work_db)[summary.run_id]
    assert status == "succeeded" and message.startswith("published; full rebuild: ")
    # the published file shows the run that built it as publishing; its final word is in the work db
    assert runs_of(settings.published_db)[summary.run_id][0] == "publishing"
    st = cli("status", landing=landing, warehouse=warehouse)
    assert f"{summary.run_id}  succeeded" in st.stdout


@pytest.mark.parametrize("kill_at, delay", [("invoices: 1/", 0.0), ("checking raw data", 0.3)])
def test_a_killed_run_is_shown_interrupted_and_recorded_so_by_the_next_run(landing, tmp_path, kill_at, delay):
    warehouse = tmp_path / "warehouse"
    env = {
        **os.environ,
        "COSTLEDGER_PII_KEY": TEST_PII_KEY,
        "COSTLEDGER_LANDING": str(landing),
        "COSTLEDGER_WAREHOUSE": str(warehouse),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.app.cli", "run"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        for line in proc.stderr:  # progress lines: kill it mid-load or in the middle of the raw gate
            if kill_at in line:
                break
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    killed = [r for r, (s, _) in runs_of(warehouse / "work.duckdb").items() if s == "running"]
    assert len(killed) == 1  # what the killed process left: it never got to say more
    con = duckdb.connect(str(warehouse / "work.duckdb"), read_only=True)
    scratch = con.execute(
        r"select table_name from duckdb_tables() where table_name like '\_%' escape '\'"
    ).fetchall()
    con.close()
    assert scratch == []  # ingest's scratch tables are DuckDB temp tables: they die with the process

    st = cli("status", landing=landing, warehouse=warehouse)
    assert st.returncode == 0
    assert f"{killed[0]}  interrupted" in st.stdout, st.stdout
    assert "no process holds the run lock" in st.stdout

    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 0, r.stderr
    status, message = runs_of(warehouse / "work.duckdb")[killed[0]]
    assert status == "interrupted"
    assert message.startswith("interrupted: no process held the run lock any more (killed or crashed)")
    assert (warehouse / "costledger.duckdb").exists() and not publish_leftovers(warehouse)
    clean = load_settings(landing=landing, warehouse=tmp_path / "clean")
    steps.run_all(clean)
    assert total(warehouse) == total(clean.warehouse)  # the recovered ledger is the right one


def test_a_run_holding_the_lock_is_shown_running(published):
    settings, landing, warehouse = published
    from pipeline.db import run_lock

    con = duckdb.connect(str(settings.work_db))
    con.execute(
        "insert into audit.runs (run_id, started_at, status) values ('run-elsewhere', now(), 'running')"
    )
    con.close()
    with run_lock(settings, timeout=0):
        st = cli("status", landing=landing, warehouse=warehouse)
    assert "a run is in progress (pid " in st.stdout
    assert "run-elsewhere  running" in st.stdout
    st = cli("status", landing=landing, warehouse=warehouse)
    assert "run-elsewhere  interrupted" in st.stdout and "a run is in progress" not in st.stdout


def test_orchestrated_steps_record_waiting_between_steps_and_failures(published, monkeypatch):
    """The Airflow DAG calls the steps as separate tasks: between them the run is waiting (no
    process holds the lock, and that is no interruption); a failed step records failed."""
    settings, landing, warehouse = published
    (landing / "invoices/vectorops/VO-80.csv").write_text(NEW_INVOICE)
    run_id = "manual__2026-10-02T02:00:00+00:00"
    for source in SOURCES:
        steps.load_source(settings, source, run_id)
    assert runs_of(settings.work_db)[run_id][0] == "waiting"
    steps.check_raw(settings, run_id)
    steps.transform(settings, run_id)
    st = cli("status", landing=landing, warehouse=warehouse)
    assert f"{run_id}  waiting" in st.stdout
    monkeypatch.setattr(steps, "_check_marts", lambda *a: (_ for _ in ()).throw(ValueError("gate broke")))
    with pytest.raises(UnexpectedError, match="^check_marts: unexpected ValueError: gate broke"):
        steps.check_marts(settings, run_id)
    assert runs_of(settings.work_db)[run_id][0] == "failed"
    monkeypatch.undo()
    steps.check_marts(settings, run_id)
    steps.publish(settings, run_id)
    status, message = runs_of(settings.work_db)[run_id]
    assert status == "succeeded" and message.startswith("published; ")
    # a full orchestrated run leaves its fingerprint: the next night with nothing new is a no-op,
    # for the CLI and for the DAG's steps alike
    assert steps.run_all(settings).message.startswith(f"nothing new since {run_id}")
    pub = settings.published_db.stat().st_mtime_ns
    night = "scheduled__2026-10-03T02:00:00+00:00"
    for source in SOURCES:
        steps.load_source(settings, source, night)
    assert steps.nothing_new(settings, night) == {"nothing_new": True, "since": run_id}
    assert runs_of(settings.work_db)[night] == ("succeeded", f"nothing new since {run_id}")
    assert settings.published_db.stat().st_mtime_ns == pub
    again = "manual__2026-10-03T09:00:00+00:00"
    assert steps.nothing_new(settings, again, "2026-09", "2026-09") == {"nothing_new": False}
    assert runs_of(settings.work_db)[again][0] == "waiting"


def test_a_failed_load_task_keeps_the_run_failed_while_the_other_sources_load(published):
    settings, landing, warehouse = published
    from pipeline.errors import InputError

    (landing / "invoices/vectorops/VO-81.csv").write_text("not,an,invoice\n1,2,3\n")
    run_id = "scheduled__2026-10-04T02:00:00+00:00"
    steps.load_source(settings, "focus", run_id)
    with pytest.raises(InputError, match="VO-81.csv"):
        steps.load_source(settings, "invoices", run_id)
    steps.load_source(settings, "timesheets", run_id)  # the next mapped task still runs
    status, message = runs_of(settings.work_db)[run_id]
    assert status == "failed" and message.startswith("load_invoices: invoices/vectorops/VO-81.csv"), message
    (landing / "invoices/vectorops/VO-81.csv").unlink()  # fixed; Airflow clears the failed task
    steps.load_source(settings, "invoices", run_id)
    assert runs_of(settings.work_db)[run_id][0] == "waiting"


# --- another process holding work.duckdb --------------------------------------------------------------

HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)  # a curious analyst
print("open", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


@contextlib.contextmanager
def analyst_holding(db: Path, seconds: float):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "open"
        yield proc
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_a_reader_of_the_work_database_makes_the_run_wait_then_exit_75_naming_it(published, tmp_path):
    settings, landing, warehouse = published
    cfg = config_with(tmp_path, lock_timeout=1)
    with analyst_holding(settings.work_db, 120) as analyst:
        t0 = time.monotonic()
        r = cli(
            "run", "--quiet", "--force", landing=landing, warehouse=warehouse, config=cfg, subprocess_run=True
        )
        waited = time.monotonic() - t0
    assert r.returncode == 75, r.stderr
    line = r.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith(
        f"costledger: error: {settings.work_db} is open in another process (pid {analyst.pid}: "
    ), line
    assert "import sys, time, duckdb" in line  # its command line, from /proc
    assert "waited 1s" in line and "costledger.duckdb instead" in line
    assert waited >= 1


def test_a_reader_that_closes_in_time_only_delays_the_run(published, tmp_path):
    settings, landing, warehouse = published
    cfg = config_with(tmp_path, lock_timeout=60)
    (landing / "invoices/vectorops/VO-80.csv").write_text(NEW_INVOICE)
    before = total(warehouse)
    with analyst_holding(settings.work_db, 2):
        r = cli("run", "--quiet", landing=landing, warehouse=warehouse, config=cfg, subprocess_run=True)
    assert r.returncode == 0, r.stderr
    assert total(warehouse) == before + 10


def test_status_works_while_a_run_holds_the_work_database(published):
    settings, landing, warehouse = published
    from pipeline.db import work_db

    with work_db(settings):  # what a run holds: the lock and a read-write connection
        st = cli("status", landing=landing, warehouse=warehouse, subprocess_run=True)
    assert st.returncode == 0, st.stderr
    assert "(read from the published file" in st.stdout and "a run is in progress (pid " in st.stdout
    # the published copy shows the run that built it as having published it
    assert "published   " in st.stdout and "built this published file" in st.stdout


# --- a rule DuckDB cannot run ----------------------------------------------------------------------------


def test_a_rule_regex_duckdb_rejects_stops_the_run_before_any_data_is_touched(landing, tmp_path):
    def lookahead(cfg: Path):
        rules = cfg / "cost_rules.yaml"
        text = rules.read_text()
        assert "      service: " in text
        rules.write_text(
            text.replace("      service: ", "      sku: {regex: '^gpu-(?=a100)'}\n      service: ", 1)
        )

    cfg = config_with(tmp_path, edit=lookahead)
    warehouse = tmp_path / "warehouse"
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse, config=cfg)
    assert r.returncode == 2
    assert r.stderr.startswith(f"costledger: error: {cfg / 'cost_rules.yaml'}: rule '")
    assert ": match.sku: bad regex '^gpu-(?=a100)': DuckDB (RE2) says: invalid perl operator: (?=" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not warehouse.exists()


# --- nights with nothing new ------------------------------------------------------------------------------


def test_a_night_with_nothing_new_leaves_the_published_file_alone(published):
    settings, landing, warehouse = published
    pub = warehouse / "costledger.duckdb"
    before, mtime = sha(pub), pub.stat().st_mtime_ns
    first = max(runs_of(settings.work_db))

    r = cli("run", landing=landing, warehouse=warehouse)

    assert r.returncode == 0, r.stderr
    assert sha(pub) == before and pub.stat().st_mtime_ns == mtime
    assert f"nothing new since {first}" in r.stdout
    con = duckdb.connect(str(settings.work_db), read_only=True)
    run_id, status, message, timings = con.execute(
        "select run_id, status, message, timings from audit.runs order by started_at desc limit 1"
    ).fetchone()
    checks = con.execute("select count(*) from audit.quality_results where run_id = ?", [run_id]).fetchone()[
        0
    ]
    con.close()
    assert (status, message) == ("succeeded", f"nothing new since {first}")
    # no gate, no transform, no publish: only discovering and comparing the landing files
    assert not {"check_raw", "transform", "check_marts", "publish"} & set(json.loads(timings))
    assert checks == 0
    assert "transforming" not in r.stderr and "publishing" not in r.stderr
    # and again: a chain of quiet nights still points at the run that published
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert f"nothing new since {first}" in r.stdout and sha(pub) == before


def test_nothing_new_does_not_import_great_expectations(published):
    settings, landing, warehouse = published
    script = (
        "import sys\n"
        "from pipeline.app import steps\n"
        "from pipeline.config.settings import load_settings\n"
        "s = steps.run_all(load_settings(landing=sys.argv[1], warehouse=sys.argv[2]))\n"
        "import time; time.sleep(0.5)\n"
        "print(s.message.split(':')[0], 'great_expectations' in sys.modules)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script, str(landing), str(warehouse)],
        env={**os.environ, "COSTLEDGER_PII_KEY": TEST_PII_KEY},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:3] == ["nothing", "new", "since"] and r.stdout.split()[-1] == "False", r.stdout


def test_force_rebuilds(published):
    settings, landing, warehouse = published
    before = (warehouse / "costledger.duckdb").stat().st_mtime_ns
    r = cli("run", "--quiet", "--force", landing=landing, warehouse=warehouse)
    assert r.returncode == 0 and "nothing new" not in r.stdout
    assert (warehouse / "costledger.duckdb").stat().st_mtime_ns != before


def _new_file(settings, landing):
    (landing / "invoices/vectorops/VO-80.csv").write_text(NEW_INVOICE)


def _file_gone(settings, landing):
    (landing / "metrics").rename(landing.parent / "metrics-away")


def _published_gone(settings, landing):
    settings.published_db.unlink()


def _published_replaced(settings, landing):
    shutil.copy(settings.published_db, settings.published_db.with_suffix(".copy"))
    os.replace(settings.published_db.with_suffix(".copy"), settings.published_db)


def _last_attempt_failed(settings, landing):
    con = duckdb.connect(str(settings.work_db))
    runs.record(con, "run-29991231T000000Z-failed", "failed", message="check_marts: quality gate failed")
    con.close()


def _last_attempt_killed(settings, landing):
    con = duckdb.connect(str(settings.work_db))
    runs.record(con, "run-29991231T000000Z-killed", "running")
    con.close()


@pytest.mark.parametrize(
    "change",
    [_new_file, _file_gone, _published_gone, _published_replaced, _last_attempt_failed, _last_attempt_killed],
)
def test_what_must_rebuild(published, change):
    settings, landing, warehouse = published
    change(settings, landing)
    summary = steps.run_all(settings)
    assert summary.status == "succeeded" and not summary.message
    assert "transform" in summary.timings and "publish" in summary.timings
    # once rebuilt, the next quiet night is a no-op again
    assert steps.run_all(settings).message.startswith(f"nothing new since {summary.run_id}")


def test_a_config_or_code_change_rebuilds(published, tmp_path, monkeypatch):
    settings, landing, warehouse = published
    cfg = config_with(
        tmp_path,
        edit=lambda c: (c / "models.yaml").write_text((c / "models.yaml").read_text() + "\n# reviewed\n"),
    )
    changed = load_settings(config=cfg, landing=landing, warehouse=warehouse)
    assert "transform" in steps.run_all(changed).timings
    assert "transform" not in steps.run_all(changed).timings
    monkeypatch.setattr(runs, "code_fingerprint", lambda: "costledger 9.9 with new SQL")
    assert "transform" in steps.run_all(changed).timings


def test_a_month_range_is_never_skipped(published):
    settings, landing, warehouse = published
    summary = steps.run_all(settings, "2026-09", "2026-09")
    assert "transform" in summary.timings and not summary.message
    # a range run rebuilds part of the ledger: the next full run rebuilds it all
    assert "transform" in steps.run_all(settings).timings


def test_a_refused_file_is_never_skipped(published):
    settings, landing, warehouse = published
    (landing / "invoices/vectorops/VO-81.csv").write_text("not,an,invoice\n1,2,3\n")
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 3 and "VO-81.csv" in r.stderr
    r = cli("run", "--quiet", landing=landing, warehouse=warehouse)
    assert r.returncode == 3 and "VO-81.csv" in r.stderr
