"""Time-log exports under landing/timesheets/ (docs/formats.md): costledger's own time-log CSV,
and the trackers' own exports -- Jira Tempo, Harvest, Toggl Track, Clockify -- read without
editing under the profile their header is recognised by (config/profiles/,
pipeline/ingest/documents/timelogs.py).

Names and e-mails stay in raw.timesheet_entries. Each person's identity -- the employee id, else
the e-mail, else the full name, as the profile says (`identity_source`) -- gets a keyed pseudonym
(HMAC-SHA256 with COSTLEDGER_PII_KEY) in raw.employee_keys; nothing downstream sees it.
Reasons for rejected rows never quote names, e-mails or ids.

An activity with no mapping in activities.yaml is booked, not rejected: staging leaves its leaf
empty, so the cost goes to `unallocated`, and `costledger explain` lists the value to map.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
from pathlib import Path

from pipeline.errors import ConfigError, InputError
from pipeline.ingest.common import (
    Column,
    Incoming,
    _csv_header,
    _first_line,
    _resolve_columns,
    read_table_file,
)
from pipeline.ingest.rules import rules_for

RAW_TABLE = "raw.timesheet_entries"
FORMAT = "time-log CSV"
CONFIG_PARTS = ("profiles",)

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
# what a tracker's export adds (pipeline/ingest/documents/timelogs.py ENTRY_COLUMNS)
TRACKER_COLUMNS = (
    "identity_source",
    "project",
    "task",
    "tags",
    "issue_key",
    "account",
    "client",
    "billable",
    "cost_rate",
    "currency",
    "source_profile",
)
RAW_COLUMNS = tuple(c.name for c in COLUMNS) + TRACKER_COLUMNS

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
    if _is_own_csv(f):
        extra = "".join(f", cast(null as varchar) as {c}" for c in TRACKER_COLUMNS)
        incoming = read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS, extra_select=extra)
    else:
        incoming = _read_tracker_export(con, settings, f)
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


def _is_own_csv(f) -> bool:
    """A CSV whose header holds costledger's own time-log columns."""
    if not f.path.name.lower().endswith((".csv", ".csv.gz")):
        return False
    try:
        _resolve_columns(_csv_header(f), COLUMNS, f, FORMAT)
    except InputError:
        return False
    return True


def _header_cells(f) -> list[str]:
    """The header line's cells, as a tracker writes them (Tempo repeats `External issue ID`)."""
    line = _first_line(f, f.caps.max_line_bytes if f.caps else 1 << 20)
    return next(csv.reader([line.decode("utf-8-sig", errors="replace").rstrip("\r")]), [])


def _read_tracker_export(con, settings, f) -> Incoming:
    """A tracker's own export, under the profile its header is recognised by."""
    from pipeline.ingest.documents import read_time_export, recognise

    if not f.path.name.lower().endswith(".csv"):
        raise InputError(f"{f.rel}: unsupported file type (time logs are read from CSV exports)")
    profile = recognise(_header_cells(f), settings.profiles, "timesheet", "csv", f.rel)
    path = Path(f.reader_path) if f.reader_path and f.reader_path.startswith("/proc/") else f.path
    workdir = settings.warehouse / ".tmp"
    workdir.mkdir(parents=True, exist_ok=True)
    got = read_time_export(con, path, f.rel, profile, workdir)
    # the shape load_file inserts rejects from; what a rejected time row carried is never kept
    # (a person's hours times their rate)
    con.execute("alter table _rejects add column cost decimal(38,10)")
    con.execute("alter table _rejects add column currency varchar")
    first = con.execute("select arg_min(reason, source_row) from _rejects").fetchone()[0]
    return Incoming(rows_in_file=got.rows_in_file, rows_rejected=got.rows_rejected, first_reject=first)
