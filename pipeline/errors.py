"""Errors a user sees: one line that names what failed, where, and what to do."""


class CostledgerError(Exception):
    """Base class: str(err) is the one-line message the CLI prints; exit_code is what it returns."""

    exit_code = 1


class ConfigError(CostledgerError):
    """A configuration file is wrong (names file, rule/key and value)."""

    exit_code = 2


class InputError(CostledgerError):
    """A landing file cannot be used as a whole (names file, and row/field where it can)."""

    exit_code = 3


class MissingRateError(CostledgerError):
    """A currency has no rate to the reporting currency for a charge date."""

    exit_code = 4


class QualityGateError(CostledgerError):
    """A critical quality check failed; nothing was published."""

    exit_code = 5


class LockBusyError(CostledgerError):
    """Another run holds the work database."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class PullFailedError(CostledgerError):
    """`costledger pull` could not list or copy (network, server, an object changed); landing unchanged."""

    exit_code = 74  # EX_IOERR: a retry may succeed
