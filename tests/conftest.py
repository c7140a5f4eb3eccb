"""Shared test helpers: a small landing zone in the real formats, and settings pointing at tmp dirs."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.fixtures.disk import tmpfs  # noqa: F401  (a fixture for every test: a small tmpfs to fill)

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SMALL_LANDING = FIXTURES / "ledger" / "landing"
TEST_PII_KEY = "test-pii-key"


# The fixtures describe the demo company (its models, vendors, activities and rules).
DEMO_CONFIG = REPO / "examples" / "demo" / "config"


def isolated_env(mp: pytest.MonkeyPatch, pii_key: str = TEST_PII_KEY) -> None:
    """No COSTLEDGER_* setting of the developer's; the demo company's config; a PII key."""
    for var in (
        "COSTLEDGER_LANDING",
        "COSTLEDGER_WAREHOUSE",
        "COSTLEDGER_REPORTING_CURRENCY",
        "COSTLEDGER_DUCKDB_MEMORY_LIMIT",
        "COSTLEDGER_DUCKDB_MAX_TEMP_DIRECTORY_SIZE",
        "COSTLEDGER_DUCKDB_THREADS",
        "COSTLEDGER_DUCKDB_PRESERVE_INSERTION_ORDER",
    ):
        mp.delenv(var, raising=False)
    mp.setenv("COSTLEDGER_CONFIG", str(DEMO_CONFIG))
    mp.setenv("COSTLEDGER_PII_KEY", pii_key)


@pytest.fixture(autouse=True, scope="session")
def _isolated_session_env():
    """The same for module- and session-scoped fixtures, which are set up before _isolated_env."""
    with pytest.MonkeyPatch.context() as mp:
        isolated_env(mp)
        yield


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    """Tests never read the developer's COSTLEDGER_* settings, and always have a PII key.

    They run against the demo company's config (COSTLEDGER_CONFIG, inherited by the CLI
    subprocesses they start) unless they pass another or remove it.
    """
    isolated_env(monkeypatch)


@pytest.fixture
def small_landing(tmp_path) -> Path:
    """A copy of tests/fixtures/ledger/landing (a tiny company: every source, every leaf)."""
    dest = tmp_path / "landing"
    shutil.copytree(SMALL_LANDING, dest)
    return dest


@pytest.fixture
def settings_for(tmp_path):
    from pipeline.config.settings import load_settings

    def make(landing: Path, warehouse: Path | None = None, **kw):
        return load_settings(landing=landing, warehouse=warehouse or tmp_path / "warehouse", **kw)

    return make


def sha(path: Path) -> str:
    """The sha256 of a file's bytes (a published file that must not change, a landing file)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
