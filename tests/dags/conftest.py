"""Airflow set-up for the DAG tests: a throwaway AIRFLOW_HOME, set before Airflow is first imported.

Airflow reads its configuration once, at import; so this runs at collection time, and every test
here imports Airflow inside the test or fixture.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.dags import stack

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
VENV_BIN = Path(sys.executable).parent

if "airflow" in sys.modules:  # pragma: no cover - a guard for whoever reorders the test suite
    raise RuntimeError("tests/dags: Airflow was imported before its test AIRFLOW_HOME was set")

_HOME = Path(tempfile.mkdtemp(prefix="costledger-airflow-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)


def _airflow_env(home: Path) -> dict[str, str]:
    """The variables that make Airflow use `home`, SQLite and only this repository's DAGs."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
    }


os.environ.update(_airflow_env(_HOME))


@pytest.fixture(scope="session")
def airflow_env():
    """Builds the Airflow variables for a subprocess with its own AIRFLOW_HOME (SQLite in it)."""
    return _airflow_env


@pytest.fixture(scope="session")
def airflow_bin() -> Path:
    """The `airflow` command of the interpreter running the tests (the repository's .venv)."""
    return VENV_BIN / "airflow"


@pytest.fixture(scope="session")
def dagbag():
    """Both DAG files parsed once, as the dag-processor parses them."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


@pytest.fixture(scope="session")
def docker_compose() -> str:
    """Debian's docker-compose (v1) binary, installed with apt-get when missing and we are root (CI)."""
    found = shutil.which("docker-compose")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("docker-compose is not installed (as root: apt-get install docker-compose)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "docker-compose"]):
        done = subprocess.run(
            cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}"
    found = shutil.which("docker-compose")
    assert found, "apt-get installed docker-compose but it is not on PATH"
    return found


@pytest.fixture(scope="module")
def postgres_cluster():
    """A throwaway PostgreSQL cluster for the module (tests.dags.stack.postgres_cluster); skips without one."""
    with stack.postgres_cluster() as pg:
        yield pg


@pytest.fixture(scope="module")
def smtp_catcher():
    """A real SMTP server on 127.0.0.1 (tests/fixtures/report/smtp_server.py) that keeps every
    message it receives: `(controller, recorder)`; `recorder.received` holds the envelopes.

    Set `recorder.rcpt_reply` to a reply such as "550 5.1.1 mailbox unavailable" to refuse every recipient.
    """
    from tests.fixtures.report.smtp_server import Recorder, SmtpServer

    with SmtpServer(Recorder()) as server:
        yield server.controller, server.handler


@pytest.fixture(scope="module")
def airflow_stack():
    """Starts stack.AirflowStack(env, airflow_bin, cwd) objects; stops every one of them at the end."""
    started: list[stack.AirflowStack] = []

    def start(env: dict[str, str], airflow_bin: Path, cwd: Path) -> stack.AirflowStack:
        deployment = stack.AirflowStack(env, airflow_bin, cwd)
        started.append(deployment)
        deployment.start()
        return deployment

    yield start
    for deployment in started:
        deployment.stop()
