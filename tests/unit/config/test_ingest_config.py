"""The `ingest:` section of costledger.yaml: defaults, sizes with units, and one-line errors."""

from __future__ import annotations

import shutil

import pytest
import yaml

from pipeline.config.settings import DEMO_CONFIG, load_settings
from pipeline.errors import ConfigError


def config_with(tmp_path, ingest):
    dest = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, dest)
    main = yaml.safe_load((dest / "costledger.yaml").read_text())
    if ingest is None:
        main.pop("ingest", None)
    else:
        main["ingest"] = ingest
    (dest / "costledger.yaml").write_text(yaml.safe_dump(main))
    return dest


def test_defaults_apply_without_the_section(tmp_path):
    ingest = load_settings(config=config_with(tmp_path, None)).ingest
    assert (ingest.max_reject_share, ingest.max_missing_share) == (0.01, 0.5)
    assert (ingest.max_line_bytes, ingest.max_decompressed_bytes) == (8 * 1024**2, 16 * 1024**3)


def test_sizes_take_units(tmp_path):
    ingest = load_settings(
        config=config_with(tmp_path, {"max_line_bytes": "2MiB", "max_decompressed_bytes": "1 GiB"})
    ).ingest
    assert (ingest.max_line_bytes, ingest.max_decompressed_bytes) == (2 * 1024**2, 1024**3)


@pytest.mark.parametrize(
    "ingest, says",
    [
        (
            {"max_reject_share": 1.5},
            "ingest.max_reject_share: Input should be less than or equal to 1 (value: 1.5)",
        ),
        ({"max_missing_share": -0.1}, "ingest.max_missing_share: Input should be greater than or equal to 0"),
        (
            {"max_line_bytes": "lots"},
            "ingest.max_line_bytes: could not parse value and unit from byte string",
        ),
        ({"max_line_bytes": 10}, "ingest.max_line_bytes: Input should be greater than or equal to 1024"),
        ({"max_rejects": 3}, "ingest.max_rejects: Extra inputs are not permitted"),
    ],
)
def test_a_bad_ingest_key_is_a_one_line_config_error(tmp_path, ingest, says):
    with pytest.raises(ConfigError) as err:
        load_settings(config=config_with(tmp_path, ingest))
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{tmp_path / 'config' / 'costledger.yaml'}: {says}"), msg
