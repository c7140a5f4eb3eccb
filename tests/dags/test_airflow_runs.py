"""Real Airflow runs, as a developer runs them: `airflow db migrate` on SQLite in a fresh AIRFLOW_HOME,
then `airflow dags test` on a tiny landing tree, and the published DuckDB file checked."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.dags.stack import write_focus_month, write_fx_rate

pytestmark = pytest.mark.slow

USD_CNY = Decimal("7.10")
FOCUS_ROWS = [
    # (day, service, billed, effective, tags)
    (
        "2026-02-03",
        "Amazon SageMaker",
        "120.50",
        "100.25",
        {"cl-model": "search-rerank-bert", "cl-leaf": "hardware"},
    ),
    ("2026-02-10", "Amazon EC2", "80.00", "80.00", {"cl-model": "reco-llm", "cl-leaf": "tuning_resources"}),
    ("2026-02-11", "Amazon RDS", "40.00", "40.00", {"cl-workload": "webshop"}),
]
ALLOCATED_USD = Decimal("180.25")  # the two tagged lines, effective cost
OUT_OF_SCOPE_USD = Decimal("40.00")  # the web shop's database


def _write_landing(landing: Path) -> None:
    write_focus_month(landing / "focus" / "aws-focus" / "2026-02.csv", "2026-02", FOCUS_ROWS)
    write_fx_rate(landing, "2026-01-01", USD_CNY)


def _run(cmd: list, env: dict, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(c) for c in cmd],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
    return done


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, airflow_env, airflow_bin):
    """A migrated SQLite AIRFLOW_HOME and COSTLEDGER_* folders for the runs in this module."""
    root = tmp_path_factory.mktemp("airflow-run")
    _write_landing(root / "landing")
    env = {
        **os.environ,
        **airflow_env(root / "airflow_home"),
        "COSTLEDGER_LANDING": str(root / "landing"),
        "COSTLEDGER_WAREHOUSE": str(root / "warehouse"),
        "COSTLEDGER_REPORTS": str(root / "reports"),
        "COSTLEDGER_REPORTING_CURRENCY": "CNY",
        "COSTLEDGER_PII_KEY": "test-pii-key",
        "COSTLEDGER_TASK_RETRIES": "0",  # a failure shows at once instead of after minutes of retry delay
    }
    env.pop("AIRFLOW_CONN_SMTP_DEFAULT", None)
    (root / "airflow_home").mkdir()
    _run([airflow_bin, "db", "migrate"], env, root)
    return root, env


def _finished_ok(log: str) -> bool:
    return any("DagRun Finished" in line and "state=success" in line for line in log.splitlines())


def _failures(log: str) -> str:
    keep = ("error", "failed", "dagrun finished")
    return "\n".join(ln[:400] for ln in log.splitlines() if any(k in ln.lower() for k in keep))[-4000:]


def test_nightly_dag_test_publishes_the_marts(deployment, airflow_bin):
    import duckdb

    root, env = deployment
    done = _run([airflow_bin, "dags", "test", "cost_ledger_nightly", "2026-03-02"], env, root)
    log = done.stdout + done.stderr
    assert _finished_ok(log), _failures(log)
    published = root / "warehouse" / "costledger.duckdb"
    assert published.is_file()
    con = duckdb.connect(str(published), read_only=True)
    try:
        months, total, out_of_scope, unallocated = con.execute(
            "select list(distinct strftime(month, '%Y-%m')), sum(c_total), sum(c_out_of_scope), sum(c_unallocated)"
            " from marts.monthly_cost_rollup"
        ).fetchone()
    finally:
        con.close()
    assert months == ["2026-02"]
    assert total == ALLOCATED_USD * USD_CNY
    assert out_of_scope == OUT_OF_SCOPE_USD * USD_CNY
    assert unallocated == 0


def test_monthly_report_dag_sends_last_month_once_through_smtp_default(deployment, airflow_bin, smtp_catcher):
    root, env = deployment
    if not (root / "warehouse" / "costledger.duckdb").is_file():
        pytest.skip("needs the marts the nightly test publishes")
    controller, caught = smtp_catcher
    conn = {"conn_type": "smtp", "host": "127.0.0.1", "port": controller.port,
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "ledger@example.com"}}  # fmt: skip
    env = {**env, "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(conn)}
    # `dags test` takes the time a run is due: the run due 2026-03-03 08:00 reports February.
    for _ in range(2):  # a rerun must not mail again
        cmd = [airflow_bin, "dags", "test", "cost_ledger_monthly_report", "2026-03-03T08:00:00+00:00"]
        done = _run(cmd, env, root, timeout=300)
        assert _finished_ok(done.stdout + done.stderr), _failures(done.stdout + done.stderr)
    assert len(caught.received) == 1
    mail = caught.received[0]
    assert mail.mail_from == "ledger@example.com"
    assert "finance-ai-costs@example.com" in mail.rcpt_tos
    assert b"2026-02" in mail.original_content or b"February 2026" in mail.original_content
    saved = {p.suffix for p in (root / "reports" / "2026-02").iterdir()}
    assert {".html", ".eml"} <= saved  # the archive copy next to the e-mail


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2026, 2, 27, 2, tzinfo=UTC), datetime(2026, 2, 28, 2, tzinfo=UTC)),  # February itself
        (datetime(2026, 4, 10, 2, tzinfo=UTC), datetime(2026, 4, 11, 2, tzinfo=UTC)),  # a quiet day in April
    ],
)
def test_a_backfill_run_replaces_its_months_and_keeps_the_others(deployment, dagbag, monkeypatch, start, end):
    root, env = deployment
    for key, value in env.items():
        if key.startswith("COSTLEDGER_"):
            monkeypatch.setenv(key, value)
    transform = dagbag.dags["cost_ledger_nightly"].get_task("transform").python_callable
    backfill = SimpleNamespace(run_type="backfill")
    no_range = {"month_from": None, "month_to": None}
    result = transform(
        run_id="backfill-test",
        dag_run=backfill,
        params=no_range,
        data_interval_start=start,
        data_interval_end=end,
    )
    # Idempotent: February is rebuilt to the same three lines, or left alone by April's backfill.
    # The transform says what it recomputed: a backfill is a month range, never an incremental guess.
    assert result == {
        "months": ["2026-02"],
        "lines": len(FOCUS_ROWS),
        "scope": "recomputed the range 2026-02 .. 2026-02",
    }
