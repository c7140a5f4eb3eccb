"""# cost_ledger_monthly_report

Sends the cost report of the month before, on the 3rd of each month at 08:00 UTC
(`COSTLEDGER_REPORT_CRON` overrides the cron). Months are UTC calendar months.

`report_month` (from the data interval) -> `wait_for_published` (pokes every 30 min, up to 3 days,
until the published database holds that month) -> `save_report` (files under `reports/<month>/`)
and `send_report`.

* Exactly once: the report function records what it sent, so a retry or a rerun does not mail
  twice; trigger with conf `{"force": true}` to send again on purpose.
* SMTP comes from the Airflow connection `smtp_default` when it exists, else `COSTLEDGER_SMTP_*`.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from airflow.sdk import CronDataIntervalTimetable, Param, PokeReturnValue, dag, task

CRON = os.environ.get("COSTLEDGER_REPORT_CRON", "0 8 3 * *")
RETRIES = int(os.environ.get("COSTLEDGER_TASK_RETRIES", "3"))


@dag(
    schedule=CronDataIntervalTimetable(CRON, timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": RETRIES,
        "retry_delay": timedelta(minutes=10),
        "retry_exponential_backoff": True,
    },
    params={"force": Param(False, type="boolean", description="send again even if already sent")},
    tags=["costledger", "report", "finops"],
    doc_md=__doc__,
)
def cost_ledger_monthly_report():
    @task
    def report_month(data_interval_end=None) -> str:
        # The month before the one the run is due in: a run due on 2026-04-03 reports 2026-03.
        return (data_interval_end.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")

    @task.sensor(poke_interval=30 * 60, timeout=3 * 24 * 3600, mode="reschedule")
    def wait_for_published(month: str) -> PokeReturnValue:
        from pipeline import steps
        from pipeline.settings import load_settings

        return PokeReturnValue(is_done=month in steps.published_months(load_settings()))

    @task
    def save_report(month: str) -> list[str]:
        from pipeline.report import build_report, write_report
        from pipeline.settings import load_settings

        settings = load_settings()  # an archive copy: reports/<month>/ (HTML, text, .eml, CSV, XLSX, charts)
        return [str(p) for p in write_report(build_report(settings, month), settings.reports / month)]

    @task
    def send_report(month: str, params=None) -> dict:
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

        from pipeline.airflow_smtp import smtp_from_connection
        from pipeline.errors import CostledgerError
        from pipeline.report import SmtpDeliveryError, send_monthly_report
        from pipeline.settings import load_settings

        settings = load_settings()
        try:
            smtp = smtp_from_connection(Connection.get("smtp_default"))
        except AirflowNotFoundException:
            smtp = None  # COSTLEDGER_SMTP_* apply
        try:
            return send_monthly_report(settings, month, smtp=smtp, force=bool(params.get("force")))
        except SmtpDeliveryError as exc:
            if not exc.permanent:
                raise  # the server was unreachable: retry later
            raise AirflowFailException(str(exc)) from None
        except CostledgerError as exc:  # bad config, no recipients, an interrupted earlier send
            raise AirflowFailException(str(exc)) from None

    month = report_month()
    wait_for_published(month) >> [save_report(month), send_report(month)]


cost_ledger_monthly_report()
