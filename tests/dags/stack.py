"""Helpers for the Airflow tests that run real processes: a FOCUS landing tree, a throwaway
PostgreSQL cluster, and an Airflow 3 deployment's processes (api-server, scheduler, dag-processor).

Imported by tests/dags/conftest.py (fixtures) and the tests; it never imports Airflow itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.fixtures.focus.make_fixtures import AWS_FOCUS_1_0, write_csv
from tests.fixtures.net import free_port


def write_focus_month(path: Path, month: str, rows) -> None:
    """One AWS FOCUS 1.0 export file for `month` (YYYY-MM), in the column set of AWS Data Exports
    declared once in tests/fixtures/focus/make_fixtures.py: rows of (day, service, billed,
    effective, tags); amounts in USD."""
    year, mon = (int(x) for x in month.split("-"))
    period_end = f"{year + mon // 12:04d}-{mon % 12 + 1:02d}-01T00:00:00Z"
    write_csv(
        path,
        AWS_FOCUS_1_0,
        [
            {
                "BillingAccountId": "111122223333",
                "SubAccountId": "444455556666",
                "ProviderName": "AWS",
                "PublisherName": "AWS",
                "InvoiceIssuerName": "AWS",
                "BillingPeriodStart": f"{month}-01T00:00:00Z",
                "BillingPeriodEnd": period_end,
                "ChargePeriodStart": f"{day}T00:00:00Z",
                "ChargePeriodEnd": f"{day}T01:00:00Z",
                "ChargeCategory": "Usage",
                "ChargeClass": "",
                "ChargeDescription": f"{service} usage",
                "ServiceCategory": "Compute",
                "ServiceName": service,
                "ResourceId": f"arn:aws:test:::resource/{i}",
                "RegionId": "us-east-1",
                "SkuId": f"SKU{i}",
                "PricingQuantity": "1",
                "PricingUnit": "Hours",
                "ListCost": billed,
                "ContractedCost": billed,
                "BilledCost": billed,
                "EffectiveCost": effective,
                "BillingCurrency": "USD",
                "Tags": json.dumps(tags),
            }  # fmt: skip
            for i, (day, service, billed, effective, tags) in enumerate(rows)
        ],
    )


def write_fx_rate(landing: Path, rate_date: str, usd_cny) -> None:
    fx = landing / "fx_rates" / "usd_cny.csv"
    fx.parent.mkdir(parents=True, exist_ok=True)
    fx.write_text(
        f"rate_date,from_currency,to_currency,rate\n{rate_date},USD,CNY,{usd_cny}\n", encoding="utf-8"
    )


def wait_until(check, timeout: float, what: str, interval: float = 1.0, on_timeout=lambda: ""):
    """Poll `check()` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{on_timeout()}")
        time.sleep(interval)


PG_BIN = Path(os.environ.get("COSTLEDGER_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


@dataclass
class Postgres:
    url: str  # SQLAlchemy URL of an empty database `airflow`, for AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
    port: int
    root: Path


@contextlib.contextmanager
def postgres_cluster() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster: initdb into a tmp dir, pg_ctl start on a free port (unix socket
    in the same dir), an empty database `airflow`; stopped and removed when the module is done.

    PostgreSQL refuses to run as root: as root (CI) the cluster belongs to and runs as the `postgres`
    user (runuser), in a directory under /tmp that user owns; otherwise it runs as the current user.
    """
    initdb, pg_ctl = PG_BIN / "initdb", PG_BIN / "pg_ctl"
    if not (initdb.is_file() and pg_ctl.is_file()):
        pytest.skip(
            f"PostgreSQL server binaries not found in {PG_BIN} (need initdb and pg_ctl; Debian: "
            "apt-get install postgresql-15, or set COSTLEDGER_TEST_PG_BIN to their folder)"
        )
    # Not under pytest's tmp dir: as root that is root-only, and the `postgres` user must reach it.
    root = Path(tempfile.mkdtemp(prefix="costledger-pg-", dir="/tmp" if os.geteuid() == 0 else None))
    as_owner: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root)
            pytest.skip("running as root and there is no `postgres` user to run the PostgreSQL server as")
        if not shutil.which("runuser"):
            shutil.rmtree(root)
            pytest.skip("running as root and `runuser` is missing: cannot start PostgreSQL as `postgres`")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        as_owner = ["runuser", "-u", "postgres", "--"]
    os.chmod(root, 0o700)
    data, port = root / "data", free_port()

    def run(*cmd, timeout=180):
        done = subprocess.run(
            [*as_owner, *map(str, cmd)],
            cwd=root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, (
            f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stderr[-3000:]}"
        )
        return done

    started = False
    try:
        run(
            initdb,
            "-D",
            data,
            "-U",
            "airflow",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-instructions",
            "--no-sync",
        )
        opts = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        run(pg_ctl, "-D", data, "-l", root / "server.log", "-o", opts, "-w", "-t", "120", "start")
        started = True
        import psycopg2

        con = psycopg2.connect(host="127.0.0.1", port=port, user="airflow", dbname="postgres")
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute("create database airflow")
        con.close()
        yield Postgres(url=f"postgresql+psycopg2://airflow@127.0.0.1:{port}/airflow", port=port, root=root)
    finally:
        if started:
            subprocess.run(
                [*as_owner, str(pg_ctl), "-D", str(data), "-m", "immediate", "-w", "-t", "60", "stop"],
                cwd=root,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=120,
            )
        shutil.rmtree(root, ignore_errors=True)


class AirflowStack:
    """api-server + scheduler + dag-processor with the LocalExecutor: the processes an Airflow 3
    deployment runs (docker-compose.yml), on the metadata DB and AIRFLOW_HOME that `env` names.
    Tasks run in the scheduler's LocalExecutor workers and report to the api-server's execution API.
    """

    def __init__(self, env: dict[str, str], airflow_bin: Path, cwd: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cwd = cwd
        self.airflow_bin = airflow_bin
        self.logs = cwd / "stack-logs"
        self.env = {
            **env,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",  # the REST API without a login
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        }
        self.procs: dict[str, subprocess.Popen] = {}

    def cli(self, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(self.airflow_bin), *args],
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return done

    def start(self) -> None:
        """`airflow db migrate`, then the three processes; returns when the api-server answers."""
        done = self.cli("db", "migrate", timeout=600)
        assert done.returncode == 0, f"airflow db migrate exited {done.returncode}:\n{done.stderr[-3000:]}"
        self.logs.mkdir(exist_ok=True)
        for name, args in {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.port)],
            "dag-processor": ["dag-processor"],
            "scheduler": ["scheduler"],
        }.items():
            out = (self.logs / f"{name}.log").open("wb")
            self.procs[name] = subprocess.Popen(
                [str(self.airflow_bin), *args],
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() ends its children too
            )
            out.close()
        wait_until(self._api_ready, 240, "the api-server to answer", interval=2, on_timeout=self.tail)

    def _api_ready(self) -> bool:
        self.check_alive()
        import httpx

        try:
            return self.get("/api/v2/version") is not None
        except httpx.TransportError:  # not listening yet
            return False

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                pytest.fail(f"airflow {name} exited with {proc.returncode}\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    def stop(self, grace: float = 20) -> None:
        """SIGTERM to each process group; whatever still runs after `grace` seconds gets SIGKILL
        (the scheduler can take a minute to wind down its LocalExecutor workers)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.procs.values():
            if proc.poll() is None:  # still running, so its group id is still its own
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: its task processes too
                proc.wait(timeout=30)

    # -- the REST API (the UI's "Trigger" button uses the same endpoint) --

    def request(self, method: str, path: str, body=None):
        import httpx

        resp = httpx.request(method, self.url + path, json=body, timeout=30)
        return resp

    def get(self, path: str):
        resp = self.request("GET", path)
        return resp.json() if resp.status_code == 200 else None

    def wait_for_dag(self, dag_id: str, timeout: float = 240) -> None:
        wait_until(lambda: self.get(f"/api/v2/dags/{dag_id}"), timeout, f"the dag-processor to parse {dag_id}",
                   interval=2, on_timeout=self.tail)  # fmt: skip

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        resp = self.request(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}}
        )
        assert resp.status_code == 200, f"trigger {dag_id}: {resp.status_code} {resp.text}"
        return resp.json()["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        found = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances?limit=100")
        return found["task_instances"] if found else []

    def xcom(self, dag_id: str, run_id: str, task_id: str):
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/xcomEntries/return_value"
        found = self.get(path)
        return found["value"] if found else None

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 420) -> dict:
        """Poll until the run has finished (success or failed); return it."""

        def finished():
            self.check_alive()
            run = self.run(dag_id, run_id)
            return run if run and run["state"] in ("success", "failed") else None

        return wait_until(finished, timeout, f"{dag_id} run {run_id} to finish", interval=2,
                          on_timeout=lambda: f"{self.task_instances(dag_id, run_id)}\n{self.tail()}")  # fmt: skip

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> str:
        base = (
            Path(self.env["AIRFLOW_HOME"])
            / "logs"
            / f"dag_id={dag_id}"
            / f"run_id={run_id}"
            / f"task_id={task_id}"
        )
        if map_index >= 0:
            base = base / f"map_index={map_index}"
        log = base / f"attempt={try_number}.log"
        return log.read_text(errors="replace") if log.is_file() else ""


# For a test deployment: no scheduled run may start beside the triggered ones (with catchup=False
# the scheduler starts the latest complete interval at once). Feb 29 after the DAGs' start date is
# in 2028, and that interval ends in 2032.
NO_SCHEDULED_RUNS = {"COSTLEDGER_NIGHTLY_CRON": "0 0 29 2 *", "COSTLEDGER_REPORT_CRON": "0 0 29 2 *"}
