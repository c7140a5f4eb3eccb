"""# cost_ledger_nightly

Every night at 02:00 UTC (`COSTLEDGER_NIGHTLY_CRON`): `pull` new exports from the object stores in
`pull:` (a no-op without any) -> `discover` new and changed landing files -> `load_source` (one mapped
task per source) -> `check_raw` -> `transform` -> `check_marts` -> `publish` (updates the asset
`costledger_marts`). Scheduled and manual runs rebuild every month (a re-delivered file may restate any
month); a backfill run the months its data interval touches; conf `{"month_from": "YYYY-MM",
"month_to": "YYYY-MM"}` that range. Only transient errors retry (a busy lock, an I/O error, a full
disk, an unreachable object store); one a person must fix fails at once, the published file untouched.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

MARTS = Asset(name="costledger_marts", uri="costledger://marts/")
CRON = os.environ.get("COSTLEDGER_NIGHTLY_CRON", "0 2 * * *")
RETRIES = int(os.environ.get("COSTLEDGER_TASK_RETRIES", "3"))
RETRY_DELAY = timedelta(seconds=float(os.environ.get("COSTLEDGER_TASK_RETRY_DELAY_SECONDS", "300")))
MONTH = Param(None, type=["null", "string"], pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")


def _step(name: str, *args) -> dict:  # pipeline.app.steps.<name>(settings, ...); only transient errors retry
    from pipeline.app import steps
    from pipeline.config.settings import load_settings
    from pipeline.errors import run_task

    return run_task(AirflowFailException, name, lambda: getattr(steps, name)(load_settings(), *args))


@dag(
    schedule=CronDataIntervalTimetable(CRON, timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=6),
    default_args={"retries": RETRIES, "retry_delay": RETRY_DELAY, "retry_exponential_backoff": True},
    params={"month_from": MONTH, "month_to": MONTH, "allow_missing": Param(False, type="boolean")},
    tags=["costledger", "nightly", "finops"],
    doc_md=__doc__,
)
def cost_ledger_nightly():
    @task
    def pull() -> dict:
        return _step("pull")

    @task
    def discover(params=None) -> list[str]:
        from pipeline.ingest import SOURCES

        found = _step("discover", bool(params.get("allow_missing")))
        print("new or changed files:", {s: len(f) for s, f in found["sources"].items()}, found["missing"])
        return list(SOURCES)  # every source gets its task, so one source's bad file fails on its own

    @task(map_index_template="{{ source_name }}", max_active_tis_per_dag=1)  # one writer on work.duckdb
    def load_source(source: str, run_id=None) -> dict:
        get_current_context()["source_name"] = source
        return _step("load_source", source, run_id)

    @task
    def check_raw(run_id=None) -> dict:
        return _step("check_raw", run_id)

    @task
    def transform(run_id=None, dag_run=None, params=None, data_interval_start=None, data_interval_end=None):
        lo, hi = params.get("month_from"), params.get("month_to")  # None, None: every month
        if not lo and dag_run.run_type == "backfill":  # the months the interval touches; its end is exclusive
            lo, hi = data_interval_start, data_interval_end - timedelta(microseconds=1)
        return _step("transform", run_id, lo, hi)

    @task
    def check_marts(run_id=None) -> dict:
        return _step("check_marts", run_id)

    @task(outlets=[MARTS])
    def publish(run_id=None) -> dict:
        return _step("publish", run_id)

    loaded = load_source.expand(source=pull() >> discover())  # pull fills landing/ before discovery
    loaded >> check_raw() >> transform() >> check_marts() >> publish()


cost_ledger_nightly()
