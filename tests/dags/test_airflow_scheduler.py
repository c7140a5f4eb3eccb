"""Triggered runs the way a deployment runs them: `airflow dags trigger` and the REST API, picked up by
a real scheduler (LocalExecutor), with the dag-processor and the api-server that Airflow 3 needs to
run tasks, on a fresh AIRFLOW_HOME (SQLite). Nothing here calls `airflow dags test`.

Airflow 3 manual runs have no logical date and no data interval: the report DAG must still know
its month, and only transient errors may be retried.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from pipeline.app.schedule import month_before
from pipeline.ingest import SOURCES
from tests.dags.stack import NO_SCHEDULED_RUNS, wait_until, write_focus_month, write_fx_rate

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
REPORT, NIGHTLY = "cost_ledger_monthly_report", "cost_ledger_nightly"
RETRIES = 3


def _add_months(month: str, n: int) -> str:
    year, mon = (int(x) for x in month.split("-"))
    k = year * 12 + mon - 1 + n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


# The months around today: a manual report run reports the month before it is triggered, whichever
# month that turns out to be when the test runs (the current one too, should the clock pass midnight).
THIS_MONTH = datetime.now(UTC).strftime("%Y-%m")
MONTHS = [_add_months(THIS_MONTH, n) for n in (-2, -1, 0)]


def _rows(month: str):
    return [
        (f"{month}-01", "Amazon SageMaker", "120.50", "100.25", {"cl-model": "search-rerank-bert", "cl-leaf": "hardware"}),
        (f"{month}-01", "Amazon RDS", "40.00", "40.00", {"cl-workload": "webshop"}),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, airflow_env, airflow_bin, airflow_stack, smtp_catcher):
    root = tmp_path_factory.mktemp("airflow-scheduler")
    landing = root / "landing"
    for month in MONTHS:
        write_focus_month(landing / "focus" / "aws-focus" / f"{month}.csv", month, _rows(month))
    write_fx_rate(landing, f"{int(MONTHS[0][:4]) - 1}-01-01", "7.10")
    config = root / "config"
    shutil.copytree(REPO / "examples" / "demo" / "config", config)
    main = yaml.safe_load((config / "costledger.yaml").read_text(encoding="utf-8"))
    main["lock_timeout_seconds"] = 1  # a busy lock fails an attempt after a second, not a minute
    (config / "costledger.yaml").write_text(yaml.safe_dump(main, sort_keys=False), encoding="utf-8")
    controller, _ = smtp_catcher
    smtp = {"conn_type": "smtp", "host": "127.0.0.1", "port": controller.port,
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "ledger@example.com"}}  # fmt: skip
    env = {
        **os.environ,
        **airflow_env(root / "airflow_home"),
        "COSTLEDGER_CONFIG": str(config),
        "COSTLEDGER_LANDING": str(landing),
        "COSTLEDGER_WAREHOUSE": str(root / "warehouse"),
        "COSTLEDGER_REPORTS": str(root / "reports"),
        "COSTLEDGER_REPORTING_CURRENCY": "CNY",
        "COSTLEDGER_PII_KEY": "test-pii-key",
        "COSTLEDGER_TASK_RETRIES": str(RETRIES),
        "COSTLEDGER_TASK_RETRY_DELAY_SECONDS": "5",  # 5-10 s before a retry: seconds, not minutes
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(smtp),
        **NO_SCHEDULED_RUNS,
    }
    (root / "airflow_home").mkdir()
    stack = airflow_stack(env, airflow_bin, root)
    stack.wait_for_dag(NIGHTLY)
    stack.wait_for_dag(REPORT)
    return root, stack


def _tis(stack, dag_id, run_id) -> dict[tuple[str, int], dict]:
    return {(t["task_id"], t["map_index"]): t for t in stack.task_instances(dag_id, run_id)}


def _published_months(root: Path) -> list[str]:
    import duckdb

    con = duckdb.connect(str(root / "warehouse" / "costledger.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "select distinct strftime(month, '%Y-%m') from marts.monthly_cost_rollup order by 1"
        )
        return [r[0] for r in rows.fetchall()]
    finally:
        con.close()


def test_a_triggered_nightly_run_retries_a_busy_lock_then_publishes(deployment):
    root, stack = deployment
    (root / "warehouse").mkdir(exist_ok=True)
    # Another run holds the work database, as `costledger run` would: the same flock on the same file.
    holder = os.open(root / "warehouse" / ".work.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        os.write(holder, b"pid 1 (the test)")
        run_id = stack.trigger(NIGHTLY)

        def discover_waits_for_a_retry():
            stack.check_alive()
            ti = _tis(stack, NIGHTLY, run_id).get(("discover", -1))
            assert ti is None or ti["state"] != "failed", (
                f"discover failed instead of retrying:\n{stack.tail()}"
            )
            return ti and ti["state"] == "up_for_retry"

        wait_until(discover_waits_for_a_retry, 300, "discover to fail on the busy lock and wait for a retry",
                   interval=0.5, on_timeout=stack.tail)  # fmt: skip
    finally:
        os.close(holder)  # the other run is done

    run = stack.wait_for_run(NIGHTLY, run_id)
    tis = _tis(stack, NIGHTLY, run_id)
    assert run["state"] == "success", {k: (t["state"], t["try_number"]) for k, t in tis.items()}
    assert run["run_type"] == "manual" and run["logical_date"] is None and run["data_interval_end"] is None
    assert tis[("discover", -1)]["try_number"] >= 2  # a transient error: retried, then it went through
    first = stack.task_log(NIGHTLY, run_id, "discover", try_number=1)
    assert "another costledger run holds" in first, first[-2000:]
    others = {k: t["try_number"] for k, t in tis.items() if k[0] != "discover"}
    assert set(others.values()) == {1}, others
    assert len([k for k in tis if k[0] == "load_source"]) == len(SOURCES)  # one mapped task per source
    assert _published_months(root) == MONTHS  # a manual run rebuilds every month


def test_airflow_dags_trigger_of_the_report_reports_the_month_before_it_was_triggered(
    deployment, smtp_catcher
):
    root, stack = deployment
    if not (root / "warehouse" / "costledger.duckdb").is_file():
        pytest.skip("needs the ledger the nightly run above publishes")
    _, caught = smtp_catcher
    caught.received.clear()
    done = stack.cli("dags", "trigger", REPORT, "--output", "json")  # the command that crashed in Airflow 3
    assert done.returncode == 0, done.stderr[-3000:]
    printed = [ln for ln in done.stdout.splitlines() if ln.startswith("[{")]  # after any log lines
    assert printed, done.stdout[-3000:]
    run_id = json.loads(printed[-1])[0]["dag_run_id"]

    run = stack.wait_for_run(REPORT, run_id)
    tis = _tis(stack, REPORT, run_id)
    assert run["state"] == "success", {k: (t["state"], t["try_number"]) for k, t in tis.items()}
    assert (
        run["logical_date"] is None and run["data_interval_end"] is None
    )  # no interval to read a month from
    expected = month_before(datetime.fromisoformat(run["run_after"]))
    assert expected in MONTHS[1:]
    assert stack.xcom(REPORT, run_id, "report_month") == expected
    assert {t["try_number"] for t in tis.values()} == {1}
    assert len(caught.received) == 1
    mail = caught.received[0]
    assert mail.mail_from == "ledger@example.com" and mail.rcpt_tos == ["finance-ai-costs@example.com"]
    subject = re.search(rb"^Subject: (.*)$", mail.original_content, re.M).group(1).decode()
    assert expected in subject or datetime.strptime(expected, "%Y-%m").strftime("%B %Y") in subject, subject
    assert {".html", ".eml"} <= {p.suffix for p in (root / "reports" / expected).iterdir()}


def test_a_month_param_is_used_and_a_refusal_fails_at_once_without_retry(deployment, smtp_catcher):
    root, stack = deployment
    if not (root / "warehouse" / "costledger.duckdb").is_file():
        pytest.skip("needs the ledger the nightly run above publishes")
    _, caught = smtp_catcher
    caught.received.clear()
    caught.rcpt_reply = (
        "550 5.1.1 <finance-ai-costs@example.com>: mailbox unavailable"  # a person must fix this
    )
    try:
        run_id = stack.trigger(REPORT, {"month": MONTHS[0]})
        run = stack.wait_for_run(REPORT, run_id)
    finally:
        caught.rcpt_reply = None
    tis = _tis(stack, REPORT, run_id)
    assert run["state"] == "failed"
    assert stack.xcom(REPORT, run_id, "report_month") == MONTHS[0]
    assert tis[("save_report", -1)]["state"] == "success"
    assert (root / "reports" / MONTHS[0]).is_dir()  # the archive copy of the month asked for
    send = tis[("send_report", -1)]
    assert (send["state"], send["try_number"], send["max_tries"]) == (
        "failed",
        1,
        RETRIES,
    )  # no retry, none pending
    log = stack.task_log(REPORT, run_id, "send_report", try_number=1)
    assert "550" in log and "mailbox unavailable" in log, log[-2000:]
    assert caught.received == []


def test_a_month_that_is_not_a_month_is_refused_when_triggered(deployment):
    _, stack = deployment
    resp = stack.request(
        "POST", f"/api/v2/dags/{REPORT}/dagRuns", {"logical_date": None, "conf": {"month": "2026-13"}}
    )
    assert resp.status_code == 400, resp.text
    assert "2026-13" in resp.text
