"""Which month an orchestrated run covers. No Airflow here: the DAG hands over what its run knows.

Months are UTC calendar months, written YYYY-MM.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from pipeline.errors import CostledgerError

# The DAGs' `month` params use the same pattern (tests/dags checks they agree).
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
_MONTH = re.compile(MONTH_PATTERN)


def check_month(value: object, name: str = "month") -> str | None:
    """A YYYY-MM string as given, None for None or ''; anything else is a one-line error."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _MONTH.fullmatch(value):
        raise CostledgerError(f"{name}: {value!r} is not a month; write it as YYYY-MM, e.g. 2026-10")
    return value


def month_before(when: datetime) -> str:
    """The UTC calendar month before the one `when` falls in: 2026-04-03 08:00 UTC -> '2026-03'."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    first = date(when.year, when.month, 1)
    k = first.year * 12 + first.month - 2  # months since year 0, minus one month
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def report_month(
    month: str | None = None, data_interval_end: datetime | None = None, run_after: datetime | None = None
) -> str:
    """The month a report run covers.

    `month` (YYYY-MM) when the run was given one; else the month before the run was due: the end
    of its data interval when it has one (scheduled and backfill runs, and manual runs given a
    logical date), else its `run_after` (an Airflow 3 manual run without a logical date, or an
    asset-triggered run, has no data interval; run_after is when it was triggered).
    """
    given = check_month(month)
    if given:
        return given
    due = data_interval_end or run_after
    if due is None:
        raise CostledgerError("the run has neither a month, a data interval nor a run_after date")
    return month_before(due)
