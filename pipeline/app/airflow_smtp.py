"""SMTP settings from an Airflow connection (`smtp_default`), read the way Airflow's SMTP provider reads it.

Airflow itself is not imported here: the DAG task looks the connection up and hands it over, so the
CLI and the tests use this module without a scheduler.
"""

from __future__ import annotations

from typing import Any

from pipeline.config.settings import SmtpSettings


def _flag(value: Any) -> bool:
    # Extras set through a connection URI arrive as strings; bool("false") would be True.
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def smtp_from_connection(conn: Any) -> SmtpSettings:
    """Turn an Airflow SMTP connection into SmtpSettings.

    Same meaning as Airflow's SMTP provider: SSL unless the extra `disable_ssl` is set, STARTTLS
    unless `disable_tls` is set (and only without SSL), the sender from the extra `from_email`
    (none: the report's configured sender), port 465 with SSL and 25 without when none is given.
    """
    extra = conn.extra_dejson or {}
    ssl = not _flag(extra.get("disable_ssl", False))
    return SmtpSettings(
        host=conn.host or None,
        port=int(conn.port or (465 if ssl else 25)),
        user=conn.login or None,
        password=conn.password or None,
        from_address=extra.get("from_email") or None,
        starttls=not ssl and not _flag(extra.get("disable_tls", False)),
        ssl=ssl,
    )
