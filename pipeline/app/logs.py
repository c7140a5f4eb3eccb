"""Where costledger writes what it did: warehouse/logs/costledger.log, and stderr with --debug.

The log keeps what the one-line error leaves out: the traceback, which step ran how long, what
a run cleaned up. It rotates (5 MiB x 3 old files), so it never fills the warehouse on its own;
and a log that cannot be written (a full disk) is skipped silently, so the user still sees the
one-line error, never a logging traceback.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

LOGGER = "pipeline"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)-7s %(name)s [pid %(process)d] %(message)s"

log = logging.getLogger(LOGGER)
_handlers: list[logging.Handler] = []


def log_file(warehouse: Path) -> Path:
    return Path(warehouse) / "logs" / "costledger.log"


class _QuietRotatingFile(logging.handlers.RotatingFileHandler):
    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        pass  # no space left for the log: the one-line error on stderr still tells the user


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"costledger: {record.levelname.lower()}: {record.getMessage()}"


class _NotFileOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "file_only", False)


def start(debug: bool = False) -> None:
    """Route the package's log: everything to stderr with --debug, else warnings only."""
    stop()
    log.setLevel(logging.DEBUG if debug else logging.INFO)
    err = logging.StreamHandler(sys.stderr)
    if debug:
        err.setLevel(logging.DEBUG)
        err.setFormatter(logging.Formatter(FORMAT))
    else:
        err.setLevel(logging.WARNING)
        err.setFormatter(_OneLine())
        err.addFilter(_NotFileOnly())  # the failure's traceback: the user gets one line instead
    _add(err)


def to_file(warehouse: Path) -> Path | None:
    """Also log to warehouse/logs/costledger.log (once per warehouse). None if it cannot be made."""
    path = log_file(warehouse)
    for h in _handlers:
        if isinstance(h, _QuietRotatingFile) and Path(h.baseFilename) == path:
            return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = _QuietRotatingFile(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, delay=True, encoding="utf-8"
        )
    except OSError:
        return None
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(FORMAT))
    _add(handler)
    return path


def current_file() -> Path | None:
    for h in _handlers:
        if isinstance(h, _QuietRotatingFile):
            return Path(h.baseFilename)
    return None


def failure(exc: BaseException, message: str) -> None:
    """Log a failure with its traceback: to the file (and stderr with --debug), never as more
    than the one line on a normal stderr."""
    log.error(message, exc_info=(type(exc), exc, exc.__traceback__), extra={"file_only": True})


def _add(handler: logging.Handler) -> None:
    log.addHandler(handler)
    _handlers.append(handler)


def stop() -> None:
    """Detach and close what start()/to_file() attached (the CLI calls it on the way out)."""
    while _handlers:
        h = _handlers.pop()
        log.removeHandler(h)
        try:
            h.close()
        except OSError:
            pass
    log.setLevel(logging.NOTSET)
