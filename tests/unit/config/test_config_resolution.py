"""Which config folder a command uses (README "Which config folder"): --config, COSTLEDGER_CONFIG,
the folder recorded in the warehouse, then in the landing folder, then the shipped config/."""

from __future__ import annotations

import shutil

import pytest

from pipeline.config.settings import (
    CONFIG_POINTER,
    DEMO_CONFIG,
    SHIPPED_CONFIG,
    load_settings,
    record_config,
    resolve_config_dir,
)
from pipeline.errors import ConfigError


@pytest.fixture
def folders(tmp_path, monkeypatch):
    monkeypatch.delenv("COSTLEDGER_CONFIG", raising=False)
    a, b, c = (tmp_path / n for n in ("a", "b", "c"))
    for d in (a, b, c):
        shutil.copytree(DEMO_CONFIG, d)
    wh, landing = tmp_path / "warehouse", tmp_path / "landing"
    wh.mkdir()
    landing.mkdir()
    (wh / CONFIG_POINTER).write_text(f"{b}\n")
    (landing / CONFIG_POINTER).write_text(f"{c}\n")
    return a, b, c, wh, landing


def test_the_order_is_flag_env_warehouse_landing_shipped(folders, monkeypatch):
    a, b, c, wh, landing = folders
    env_cfg = a.parent / "env"
    shutil.copytree(DEMO_CONFIG, env_cfg)
    monkeypatch.setenv("COSTLEDGER_CONFIG", str(env_cfg))
    assert resolve_config_dir(a, landing, wh) == a
    assert resolve_config_dir(None, landing, wh) == env_cfg
    monkeypatch.delenv("COSTLEDGER_CONFIG")
    assert resolve_config_dir(None, landing, wh) == b
    assert resolve_config_dir(None, landing, None) == c
    assert resolve_config_dir(None, None, None) == SHIPPED_CONFIG
    assert (
        resolve_config_dir(None, a.parent / "plain-landing", a.parent / "plain-warehouse") == SHIPPED_CONFIG
    )


def test_the_environment_names_the_folders_too(folders, monkeypatch):
    _, b, c, wh, landing = folders
    monkeypatch.setenv("COSTLEDGER_LANDING", str(landing))
    assert load_settings().config_dir == c
    monkeypatch.setenv("COSTLEDGER_WAREHOUSE", str(wh))
    assert load_settings().config_dir == b


def test_a_relative_warehouse_is_relative_to_the_current_folder(folders, monkeypatch):
    _, b, _, wh, _ = folders
    monkeypatch.chdir(wh.parent)
    s = load_settings(warehouse="warehouse")
    assert s.config_dir == b and s.warehouse == wh


def test_a_recorded_folder_that_is_gone_is_one_line_naming_the_file(folders):
    _, b, _, wh, landing = folders
    shutil.rmtree(b)
    with pytest.raises(ConfigError) as err:
        load_settings(landing=landing, warehouse=wh)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{wh / CONFIG_POINTER}: names '{b}'"), msg
    assert "--config" in msg


def test_record_config_writes_the_folder_into_warehouse_and_landing(tmp_path, monkeypatch):
    monkeypatch.delenv("COSTLEDGER_CONFIG", raising=False)
    s = load_settings(config=DEMO_CONFIG, landing=tmp_path / "l", warehouse=tmp_path / "w")
    record_config(s)
    for folder in (tmp_path / "l", tmp_path / "w"):
        assert (folder / CONFIG_POINTER).read_text().strip() == str(DEMO_CONFIG)
    assert load_settings(warehouse=tmp_path / "w").config_dir == DEMO_CONFIG
