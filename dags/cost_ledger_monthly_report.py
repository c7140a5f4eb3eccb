"""# cost_ledger_monthly_report

The cost report of a month, on the 3rd at 08:00 UTC (`COSTLEDGER_REPORT_CRON`): `report_month` ->
`wait_for_published` (every 30 min, up to 3 days, until the published file holds the month) ->
`save_report` (files under `reports/<month>/`) and `send_report` (once per month; conf `{"force": true}` resends).
The month: conf `{"month": "YYYY-MM"}`, else the month before the run is due (its data interval's end;
a manual run without a logical date has none: the month before it was triggered). Only transient
errors retry (docs/deploy.md). SMTP: the connection `smtp_default` if it exists, else `COSTLEDGER_SMTP_*`.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.sdk import Connection, CronDataIntervalTimetable, Param, PokeReturnValue, dag, task
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

CRON = os.environ.get("COSTLEDGER_REPORT_CRON", "0 8 3 * *")
RETRIES = int(os.environ.get("COSTLEDGER_TASK_RETRIES", "3"))
RETRY_DELAY = timedelta(seconds=float(os.environ.get("COSTLEDGER_TASK_RETRY_DELAY_SECONDS", "600")))
MONTH = Param(None, type=["null", "string"], pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")


def _run(step: str, fn, *args, **kwargs):
    """fn(settings, *args, **kwargs): a transient error retries, any other fails the task at once."""
    from pipeline.config.settings import load_settings
    from pipeline.errors import run_task

    return run_task(AirflowFailException, step, lambda: fn(load_settings(), *args, **kwargs))


@dag(
    schedule=CronDataIntervalTimetable(CRON, timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": RETRIES, "retry_delay": RETRY_DELAY, "retry_exponential_backoff": True},
    params={"month": MONTH, "force": Param(False, type="boolean", description="send again if already sent")},
    tags=["costledger", "report", "finops"],
    doc_md=__doc__,
)
def cost_ledger_monthly_report():
    @task(retries=0)  # reads nothing outside the run: waiting cannot change its answer
    def report_month(params=None, dag_run=None, data_interval_end=None) -> str:
        from pipeline.app.schedule import report_month as month_of
        from pipeline.errors import run_task

        month, run_after = params.get("month"), dag_run.run_after
        return run_task(AirflowFailException, "report_month", month_of, month, data_interval_end, run_after)

    @task.sensor(poke_interval=30 * 60, timeout=3 * 24 * 3600, mode="reschedule")
    def wait_for_published(month: str) -> PokeReturnValue:
        from pipeline.app.steps import published_months

        return PokeReturnValue(is_done=month in _run("wait_for_published", published_months))

    @task
    def save_report(month: str) -> list[str]:
        from pipeline.report import build_report, write_report

        def save(settings):  # an archive copy: reports/<month>/ (HTML, text, .eml, CSV, XLSX, charts)
            return [str(p) for p in write_report(build_report(settings, month), settings.reports / month)]

        return _run("save_report", save)

    @task
    def send_report(month: str, params=None) -> dict:
        from pipeline.app.airflow_smtp import smtp_from_connection
        from pipeline.report import send_monthly_report

        try:
            smtp = smtp_from_connection(Connection.get("smtp_default"))
        except AirflowNotFoundException:
            smtp = None  # COSTLEDGER_SMTP_* apply
        return _run("send_report", send_monthly_report, month, smtp=smtp, force=bool(params.get("force")))

    month = report_month()
    wait_for_published(month) >> [save_report(month), send_report(month)]


cost_ledger_monthly_report()
