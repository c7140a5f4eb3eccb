"""The nightly DAG refuses a night on which most booked files are gone (an unmounted share) unless
its `allow_missing` param says they are really gone; a landing folder that does not exist fails
the task at once (issue 8, point 9)."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import SMALL_LANDING

pytestmark = pytest.mark.slow


@pytest.fixture
def booked(tmp_path, monkeypatch):
    """The small company booked once; then its landing folder emptied, as an unmounted share looks."""
    from pipeline.app.steps import run_all
    from pipeline.config.settings import load_settings

    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse"
    shutil.copytree(SMALL_LANDING, landing)
    monkeypatch.setenv("COSTLEDGER_LANDING", str(landing))
    monkeypatch.setenv("COSTLEDGER_WAREHOUSE", str(warehouse))
    run_all(load_settings())
    shutil.rmtree(landing)
    landing.mkdir()
    return landing


def test_the_param_exists_and_defaults_to_false(dagbag):
    dag = dagbag.dags["cost_ledger_nightly"]
    assert dag.params["allow_missing"] is False


def test_discover_refuses_a_mostly_missing_landing_unless_allowed(dagbag, booked):
    from airflow.sdk.exceptions import AirflowFailException

    discover = dagbag.dags["cost_ledger_nightly"].get_task("discover").python_callable
    with pytest.raises(AirflowFailException, match=r"8 of 8 booked files \(100%\) are missing"):
        discover(params={"allow_missing": False})
    assert "focus" in discover(params={"allow_missing": True})


def test_discover_fails_at_once_when_the_landing_folder_does_not_exist(dagbag, booked):
    from airflow.sdk.exceptions import AirflowFailException

    booked.rmdir()
    discover = dagbag.dags["cost_ledger_nightly"].get_task("discover").python_callable
    with pytest.raises(AirflowFailException, match="the landing folder does not exist"):
        discover(params={"allow_missing": True})
