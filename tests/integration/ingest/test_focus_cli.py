"""The `costledger` command on an AWS FOCUS export, as an operator runs it."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.config.settings import DEMO_CONFIG
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "focus"
EXPECTED = json.loads((FIXTURES / "expected_totals.json").read_text())
USD_CNY = Decimal(EXPECTED["fx_to_cny"]["USD"])
CLI = Path(sys.executable).with_name("costledger")

pytestmark = pytest.mark.slow


def costledger(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSTLEDGER_")}
    env["COSTLEDGER_PII_KEY"] = "focus-fixture-test-key"
    env["COSTLEDGER_CONFIG"] = str(DEMO_CONFIG)
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture
def aws_landing(tmp_path) -> Path:
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES / "aws", landing / "focus" / "aws")
    (landing / "fx_rates").mkdir()
    shutil.copy(FIXTURES / "fx_rates" / "rates.csv", landing / "fx_rates" / "rates.csv")
    return landing


def test_run_then_query_gives_the_monthly_cloud_cost_of_the_export(aws_landing, tmp_path):
    wh = str(tmp_path / "warehouse")
    run = costledger("run", "--landing", str(aws_landing), "--warehouse", wh, "--quiet")
    assert run.returncode == 0, run.stderr or run.stdout

    out = costledger(
        "query",
        "--warehouse",
        wh,
        "--format",
        "csv",
        "select strftime(month, '%Y-%m') as month, sum(effective_cost) as cny from marts.cost_line_items "
        "where source_system = 'focus' group by 1 order by 1",
    )
    assert out.returncode == 0, out.stderr
    got = {r["month"]: Decimal(r["cny"]) for r in csv.DictReader(io.StringIO(out.stdout))}
    want: dict[str, Decimal] = {}
    for rel, months in EXPECTED["files"].items():
        if rel.startswith("aws/"):
            for month, t in months.items():
                want[month] = want.get(month, Decimal(0)) + Decimal(t["effective_cost"]) * USD_CNY
    assert got == {m: v.quantize(Decimal("0.01")) for m, v in want.items()}


def test_a_file_without_billedcost_stops_the_run_with_one_line_and_exit_code(aws_landing, tmp_path):
    bad = aws_landing / "focus" / "manual" / "no_billedcost.csv"
    bad.parent.mkdir(parents=True)
    shutil.copy(FIXTURES / "bad" / "missing_required_column" / "no_billedcost.csv", bad)
    run = costledger(
        "run", "--landing", str(aws_landing), "--warehouse", str(tmp_path / "warehouse"), "--quiet"
    )
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if "focus/manual/no_billedcost.csv" in line]
    assert len(errors) == 1 and "BilledCost" in errors[0], run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "warehouse" / "costledger.duckdb").exists(), "a refused run published a ledger"
