"""The `duckdb:` section of costledger.yaml (docs/scaling.md): bounded memory by default, the
environment over the file, one-line errors, and the settings a work-database connection gets."""

from __future__ import annotations

import shutil

import pytest
import yaml

from pipeline.config.settings import DEMO_CONFIG, load_settings
from pipeline.db import connect_work, in_file_order
from pipeline.errors import ConfigError


def config_with(tmp_path, section):
    dest = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, dest)
    main = yaml.safe_load((dest / "costledger.yaml").read_text())
    main.pop("duckdb", None)
    if section is not None:
        main["duckdb"] = section
    (dest / "costledger.yaml").write_text(yaml.safe_dump(main))
    return dest


def setting(con, name):
    return con.execute("select current_setting(?)", [name]).fetchone()[0]


def test_defaults_fit_a_4_gib_worker_and_spill_into_the_warehouse(tmp_path):
    settings = load_settings(config=config_with(tmp_path, None), warehouse=tmp_path / "wh")
    assert settings.duckdb.memory_limit <= 2 * 1024**3  # with Python on top, under 4 GiB
    con = connect_work(settings)
    try:
        # DuckDB reports sizes in its own units: compare what it parsed back to bytes
        limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
        assert (
            limit.endswith(("GiB", "MiB"))
            and float(limit[:-3]) * (1024 if limit.endswith("GiB") else 1) <= 2048
        )
        assert setting(con, "temp_directory") == str(tmp_path / "wh" / ".tmp")
        assert setting(con, "max_temp_directory_size") != ""
        assert setting(con, "preserve_insertion_order") is False
    finally:
        con.close()


def test_the_environment_wins_over_the_file(tmp_path, monkeypatch):
    cfg = config_with(tmp_path, {"memory_limit": "3GiB", "threads": 2})
    monkeypatch.setenv("COSTLEDGER_DUCKDB_MEMORY_LIMIT", "700MiB")
    monkeypatch.setenv("COSTLEDGER_DUCKDB_THREADS", "1")
    monkeypatch.setenv("COSTLEDGER_DUCKDB_PRESERVE_INSERTION_ORDER", "true")
    settings = load_settings(config=cfg, warehouse=tmp_path / "wh")
    assert (settings.duckdb.memory_limit, settings.duckdb.threads) == (700 * 1024**2, 1)
    con = connect_work(settings)
    try:
        assert setting(con, "memory_limit") == "700.0 MiB"
        assert setting(con, "threads") == 1
        assert setting(con, "preserve_insertion_order") is True
    finally:
        con.close()


def test_a_reader_that_numbers_lines_gets_insertion_order_back_for_its_statement(tmp_path):
    con = connect_work(load_settings(config=config_with(tmp_path, None), warehouse=tmp_path / "wh"))
    try:
        with in_file_order(con):
            assert setting(con, "preserve_insertion_order") is True
        assert setting(con, "preserve_insertion_order") is False
    finally:
        con.close()


@pytest.mark.parametrize(
    "section, env, says",
    [
        ({"memory_limit": "lots"}, None, "duckdb.memory_limit"),
        ({"threads": 0}, None, "duckdb.threads"),
        ({"swap": "yes"}, None, "duckdb.swap"),
        (None, ("COSTLEDGER_DUCKDB_MEMORY_LIMIT", "lots"), "COSTLEDGER_DUCKDB_MEMORY_LIMIT: 'lots'"),
        (None, ("COSTLEDGER_DUCKDB_THREADS", "-1"), "COSTLEDGER_DUCKDB_THREADS: '-1'"),
    ],
)
def test_a_bad_value_is_a_one_line_error_naming_it(tmp_path, monkeypatch, section, env, says):
    if env:
        monkeypatch.setenv(*env)
    with pytest.raises(ConfigError) as err:
        load_settings(config=config_with(tmp_path, section))
    assert says in str(err.value) and "\n" not in str(err.value)
