"""The docker-compose deployment: the file validates, holds the services docs/deploy.md promises,
and every variable it reads is documented in .env.example."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
}


def _compose(binary: str, env_file: Path, *args: str) -> subprocess.CompletedProcess:
    # A clean environment: values must come from the env file, not from whoever runs the tests.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [binary, "-f", str(COMPOSE), "--env-file", str(env_file), *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def resolved(docker_compose) -> dict:
    done = _compose(docker_compose, ENV_EXAMPLE, "config")
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_compose_file_validates_with_the_example_env(docker_compose):
    done = _compose(docker_compose, ENV_EXAMPLE, "config", "-q")
    assert done.returncode == 0, done.stderr


def test_compose_refuses_to_start_without_a_required_secret(docker_compose, tmp_path):
    env_file = tmp_path / "env"
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    env_file.write_text("\n".join(ln for ln in lines if not ln.startswith("POSTGRES_PASSWORD=")) + "\n")
    done = _compose(docker_compose, env_file, "config", "-q")
    assert done.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in done.stderr


def test_services_of_a_real_deployment(resolved):
    services = resolved["services"]
    assert set(services) == {"postgres", "mailpit", *AIRFLOW_SERVICES}
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert "build" in services[name], f"{name} must run the image built from ./Dockerfile"
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES - {"airflow-init"}}
    commands = {name: " ".join(c) if isinstance(c, list) else c for name, c in commands.items()}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }
    assert services["airflow-init"]["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    assert 8025 in {p["target"] for p in services["mailpit"]["ports"]}  # Mailpit's web UI


def test_long_running_services_have_healthchecks(resolved):
    for name, svc in resolved["services"].items():
        if name != "airflow-init":
            assert svc.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    started_after_init = {
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    }
    for name in started_after_init:
        deps = resolved["services"][name]["depends_on"]
        assert deps["airflow-init"]["condition"] == "service_completed_successfully"
        assert deps["postgres"]["condition"] == "service_healthy"


def test_airflow_containers_see_landing_warehouse_and_config(resolved):
    for name in AIRFLOW_SERVICES:
        svc = resolved["services"][name]
        targets = {v.split(":")[1] if isinstance(v, str) else v["target"] for v in svc["volumes"]}
        assert {"/opt/costledger/landing", "/opt/costledger/warehouse", "/opt/costledger/config"} <= targets
        env = svc["environment"]
        assert env["COSTLEDGER_LANDING"] == "/opt/costledger/landing"
        assert env["COSTLEDGER_WAREHOUSE"] == "/opt/costledger/warehouse"
        assert env["COSTLEDGER_CONFIG"] == "/opt/costledger/config"
        assert env["COSTLEDGER_SMTP_HOST"] == "mailpit"  # reports land in Mailpit unless .env says otherwise


def test_every_compose_variable_is_documented_in_env_example():
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", COMPOSE.read_text(encoding="utf-8")))
    documented = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M))
    assert used - documented == set(), "add these to .env.example with a comment"
    assert documented - used == set(), "documented in .env.example but docker-compose.yml never reads them"


def test_image_installs_the_same_pins_as_make_install():
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    pin = re.search(
        r"^apache-airflow==(\S+)$", (REPO / "requirements.lock").read_text(encoding="utf-8"), re.M
    )
    assert pin, "requirements.lock pins apache-airflow"
    assert re.search(rf"^FROM apache/airflow:{re.escape(pin.group(1))}-python3\.11$", dockerfile, re.M)
    assert "-r requirements.lock" in dockerfile
    assert "--no-deps" in dockerfile and "-e ." in dockerfile
