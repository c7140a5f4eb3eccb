"""The nightly DAG on a PostgreSQL metadata database, as docker-compose.yml deploys it: a throwaway
PostgreSQL cluster, `airflow db migrate` on it, the api-server, scheduler (LocalExecutor) and
dag-processor, and a manual `airflow dags trigger` on the small company in tests/fixtures/ledger.

It needs the drivers requirements.lock pins: psycopg2 for Airflow's sync engine, asyncpg for the
async engine Airflow creates next to it in every process (without either, `db migrate` fails).
"""

from __future__ import annotations

import json
import os

import duckdb
import pytest

from pipeline.ingest import SOURCES
from tests.dags.stack import NO_SCHEDULED_RUNS

pytestmark = pytest.mark.slow

NIGHTLY = "cost_ledger_nightly"


def test_the_nightly_dag_runs_on_a_postgresql_metadata_database(
    postgres_cluster, airflow_env, airflow_bin, airflow_stack, small_landing, tmp_path
):
    import psycopg2

    home = tmp_path / "airflow_home"
    home.mkdir()
    env = {
        **os.environ,
        **airflow_env(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres_cluster.url,
        "COSTLEDGER_LANDING": str(small_landing),
        "COSTLEDGER_WAREHOUSE": str(tmp_path / "warehouse"),
        "COSTLEDGER_REPORTS": str(tmp_path / "reports"),
        "COSTLEDGER_PII_KEY": "test-pii-key",
        "COSTLEDGER_TASK_RETRIES": "0",  # a failure shows at once
        **NO_SCHEDULED_RUNS,
    }
    env.pop("AIRFLOW_CONN_SMTP_DEFAULT", None)
    stack = airflow_stack(
        env, airflow_bin, tmp_path
    )  # `airflow db migrate` on PostgreSQL, then the processes
    assert not (home / "airflow.db").exists()  # nothing fell back to SQLite
    stack.wait_for_dag(NIGHTLY)

    done = stack.cli("dags", "trigger", NIGHTLY, "--output", "json")
    assert done.returncode == 0, done.stderr[-3000:]
    printed = [ln for ln in done.stdout.splitlines() if ln.startswith("[{")]
    assert printed, done.stdout[-3000:]
    run_id = json.loads(printed[-1])[0]["dag_run_id"]
    run = stack.wait_for_run(NIGHTLY, run_id)
    tis = stack.task_instances(NIGHTLY, run_id)
    assert run["state"] == "success", [(t["task_id"], t["map_index"], t["state"]) for t in tis]
    # 6 tasks + one mapped load per source
    assert len(tis) == 6 + len(SOURCES) and {t["state"] for t in tis} == {"success"}

    # The run and its tasks are rows in PostgreSQL, written by the scheduler and the api-server.
    con = psycopg2.connect(host="127.0.0.1", port=postgres_cluster.port, user="airflow", dbname="airflow")
    try:
        with con.cursor() as cur:
            cur.execute(
                "select state, run_type from dag_run where dag_id = %s and run_id = %s", (NIGHTLY, run_id)
            )
            assert cur.fetchall() == [("success", "manual")]
            cur.execute(
                "select count(*) from task_instance where run_id = %s and state = 'success'", (run_id,)
            )
            assert cur.fetchone()[0] == 6 + len(SOURCES)
    finally:
        con.close()

    published = duckdb.connect(str(tmp_path / "warehouse" / "costledger.duckdb"), read_only=True)
    try:
        months = published.execute(
            "select distinct strftime(month, '%Y-%m') from marts.monthly_cost_rollup order by 1"
        ).fetchall()
        runs = published.execute("select run_id, status from audit.runs").fetchall()
    finally:
        published.close()
    assert months == [("2026-09",), ("2026-10",)]  # the small company's months (an invoice runs into October)
    assert run_id in {r[0] for r in runs}  # the Airflow run id is the ledger's run id
    work = duckdb.connect(str(tmp_path / "warehouse" / "work.duckdb"), read_only=True)
    try:
        status = work.execute("select status from audit.runs where run_id = ?", [run_id]).fetchall()
    finally:
        work.close()
    assert status == [("succeeded",)]  # recorded once the new file was swapped in
