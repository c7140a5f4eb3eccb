"""DagBag integrity: both DAGs import, with the schedule, retries and task graph the docs promise."""

from __future__ import annotations

import ast
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"

NIGHTLY = "cost_ledger_nightly"
REPORT = "cost_ledger_monthly_report"

# task -> the tasks directly upstream of it
NIGHTLY_GRAPH = {
    "pull": set(),
    "discover": {"pull"},
    "load_source": {"discover"},
    "check_raw": {"load_source"},
    "transform": {"check_raw"},
    "check_marts": {"transform"},
    "publish": {"check_marts"},
}
REPORT_GRAPH = {
    "report_month": set(),
    "wait_for_published": {"report_month"},
    "save_report": {"report_month", "wait_for_published"},
    "send_report": {"report_month", "wait_for_published"},
}
PURE_TASKS = {"report_month"}  # no I/O: nothing to retry


def test_both_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {NIGHTLY, REPORT}


def test_dag_files_parse_in_under_two_seconds():
    from airflow.dag_processing.dagbag import DagBag

    start = time.perf_counter()
    bag = DagBag(dag_folder=str(DAGS))
    elapsed = time.perf_counter() - start
    assert bag.import_errors == {}
    assert elapsed < 2.0, f"parsing dags/ took {elapsed:.2f}s"
    for stat in bag.dagbag_stats:
        assert stat.duration.total_seconds() < 2.0, stat


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_import_only_airflow_sdk_and_stdlib_at_module_level(path):
    allowed = {
        "__future__",
        "os",
        "datetime",
        "airflow.sdk",
        "airflow.sdk.exceptions",
    }  # pipeline.*: in tasks
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            assert node.module in allowed, f"{path.name}:{node.lineno} imports {node.module} at module level"
        elif isinstance(node, ast.Import):
            names = {a.name for a in node.names}
            assert names <= allowed, f"{path.name}:{node.lineno} imports {names} at module level"
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 90, f"{path.name} is no longer thin: {lines} lines (wiring only; logic goes to pipeline/)"


WRAPPERS = {"_step", "_run", "run_task"}  # each applies pipeline.errors' retry policy


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_every_task_calls_pipeline_through_the_retry_policy(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    tasks = [
        fn
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef) and any("task" in ast.unparse(d) for d in fn.decorator_list)
    ]
    assert len(tasks) >= 4
    for fn in tasks:
        called = {c.func.id for c in ast.walk(fn) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
        assert called & WRAPPERS, f"{path.name}: task {fn.name} calls pipeline without _step/_run/run_task"


@pytest.mark.parametrize(("dag_id", "cron"), [(NIGHTLY, "0 2 * * *"), (REPORT, "0 8 3 * *")])
def test_schedule_and_run_limits(dagbag, dag_id, cron):
    from airflow.sdk import CronDataIntervalTimetable

    dag = dagbag.dags[dag_id]
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable.expression == cron
    assert str(dag.timetable.timezone) == "UTC"
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert {"costledger", "finops"} <= set(dag.tags)
    assert dag.doc_md and dag.doc_md.lstrip().startswith(f"# {dag_id}")


@pytest.mark.parametrize(("dag_id", "graph"), [(NIGHTLY, NIGHTLY_GRAPH), (REPORT, REPORT_GRAPH)])
def test_task_ids_and_dependencies(dagbag, dag_id, graph):
    dag = dagbag.dags[dag_id]
    assert {t.task_id: set(t.upstream_task_ids) for t in dag.tasks} == graph


@pytest.mark.parametrize("dag_id", [NIGHTLY, REPORT])
def test_io_tasks_retry_with_a_delay(dagbag, dag_id):
    for t in dagbag.dags[dag_id].tasks:
        if t.task_id in PURE_TASKS:
            continue
        assert t.retries >= 2, f"{dag_id}.{t.task_id} retries {t.retries}"
        assert t.retry_delay.total_seconds() >= 60, f"{dag_id}.{t.task_id}"


def test_each_source_loads_as_its_own_mapped_task(dagbag):
    load = dagbag.dags[NIGHTLY].get_task("load_source")
    assert load.is_mapped
    assert load.map_index_template == "{{ source_name }}"  # the UI shows 'focus', 'invoices', ...
    assert load.max_active_tis_per_dag == 1  # one writer on the work database


def test_publish_updates_the_marts_asset_the_report_can_follow(dagbag):
    publish = dagbag.dags[NIGHTLY].get_task("publish")
    assert [(o.name, o.uri) for o in publish.outlets] == [("costledger_marts", "costledger://marts/")]


def test_report_waits_with_a_rescheduling_sensor(dagbag):
    wait = dagbag.dags[REPORT].get_task("wait_for_published")
    assert wait.mode == "reschedule"  # a worker slot is not held for days
    assert wait.timeout >= 24 * 3600


def _report_month(dagbag, month=None, data_interval_end=None, run_after=None):
    report_month = dagbag.dags[REPORT].get_task("report_month").python_callable
    run = SimpleNamespace(run_after=run_after)
    return report_month(
        params={"month": month, "force": False}, dag_run=run, data_interval_end=data_interval_end
    )


@pytest.mark.parametrize(
    ("due", "month"),
    [
        (datetime(2026, 4, 3, 8, tzinfo=UTC), "2026-03"),
        (datetime(2027, 1, 3, 8, tzinfo=UTC), "2026-12"),
        (datetime(2026, 3, 1, 0, tzinfo=UTC), "2026-02"),
    ],
)
def test_a_scheduled_report_covers_the_month_before_the_run(dagbag, due, month):
    # A scheduled run is due at the end of its data interval; run_after is the same moment.
    assert _report_month(dagbag, data_interval_end=due, run_after=due) == month


def test_a_manual_report_run_without_a_data_interval_covers_the_month_before_it_was_triggered(dagbag):
    # Airflow 3: `airflow dags trigger` without --logical-date gives no logical date and no data interval.
    triggered = datetime(2026, 12, 2, 2, 53, tzinfo=UTC)
    assert _report_month(dagbag, data_interval_end=None, run_after=triggered) == "2026-11"


def test_a_report_run_given_a_month_reports_that_month(dagbag):
    now = datetime(2026, 12, 2, tzinfo=UTC)
    assert _report_month(dagbag, month="2026-09", data_interval_end=None, run_after=now) == "2026-09"


def test_report_month_fails_at_once_on_a_month_that_is_not_one(dagbag):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="'2026-13' is not a month"):
        _report_month(dagbag, month="2026-13", run_after=datetime(2026, 12, 2, tzinfo=UTC))


@pytest.mark.parametrize(("dag_id", "names"), [(REPORT, ["month"]), (NIGHTLY, ["month_from", "month_to"])])
def test_month_params_accept_yyyy_mm_and_refuse_anything_else_when_triggered(dagbag, dag_id, names):
    from airflow.sdk.exceptions import ParamValidationError

    from pipeline.app.schedule import MONTH_PATTERN

    for name in names:
        param = dagbag.dags[dag_id].params.get_param(name)
        assert param.schema["pattern"] == MONTH_PATTERN  # the same rule as the pipeline's
        assert param.resolve(None) is None and param.resolve("2026-09") == "2026-09"
        for bad in ("2026-13", "2026-9", "2026-09-01"):
            with pytest.raises(ParamValidationError):
                param.resolve(bad)  # what creating the run does: `airflow dags trigger` refuses it


def test_nightly_cron_is_configurable_from_the_environment(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("COSTLEDGER_NIGHTLY_CRON", "30 3 * * *")
    bag = DagBag(dag_folder=str(DAGS / "cost_ledger_nightly.py"))
    assert bag.dags[NIGHTLY].timetable.expression == "30 3 * * *"
