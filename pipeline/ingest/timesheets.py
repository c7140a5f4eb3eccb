"""Time-log exports under landing/timesheets/ (docs/formats.md).

Names and e-mails stay in raw.timesheet_entries. Each employee id gets a keyed pseudonym
(HMAC-SHA256 with COSTLEDGER_PII_KEY) in raw.employee_keys; nothing downstream sees the id.
Reasons for rejected rows never quote names, e-mails or ids.
"""

from __future__ import annotations

import hashlib
import hmac

from pipeline.errors import ConfigError
from pipeline.ingest.common import Column, read_table_file
from pipeline.ingest.rules import rules_for

RAW_TABLE = "raw.timesheet_entries"
FORMAT = "time-log CSV"
CONFIG_PARTS = ("activities",)

COLUMNS = (
    Column("employee_id", required=True),
    Column("employee_name"),
    Column("employee_email"),
    Column("role"),
    Column("work_date", required=True, aliases=("date",)),
    Column("hours", required=True),
    Column("activity", required=True),
    Column("model_or_project", aliases=("model", "project")),
    Column("exported_at"),
)
RAW_COLUMNS = tuple(c.name for c in COLUMNS)

# What a valid row is: pipeline/ingest/timesheets.rules.yml (used at ingest and by the raw gate).
CHECKS = rules_for("timesheets").rules


def pseudonym(key: bytes, employee_id: str) -> str:
    """The keyed pseudonym of an employee: stable for one key, meaningless without it."""
    return hmac.new(key, employee_id.strip().encode(), hashlib.sha256).hexdigest()[:16]


def read(con, settings, f, load_id):
    if settings.pii_key is None:
        raise ConfigError(
            f"{f.rel}: COSTLEDGER_PII_KEY is not set; time logs need it to pseudonymise employees"
        )
    incoming = read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS)
    ids = [r[0] for r in con.execute("select distinct trim(employee_id) from _incoming").fetchall()]
    # One HMAC per person (tens of rows), not per line.
    con.execute(
        "create table if not exists raw.employee_keys (employee_id varchar primary key, employee_key varchar)"
    )
    if ids:
        con.executemany(
            "insert or replace into raw.employee_keys values (?, ?)",
            [[i, pseudonym(settings.pii_key, i)] for i in ids],
        )
    return incoming
