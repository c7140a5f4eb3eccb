"""The shipped config/ is a commented starting point for a real company: it loads, it shows the
defaults, and every key says what it means."""

from __future__ import annotations

import re

import yaml

from pipeline.config.settings import SHIPPED_CONFIG, MainCfg, load_settings
from pipeline.ingest.documents.profiles import load_profiles


def test_the_shipped_config_validates_and_declares_nothing_of_the_demo_company():
    s = load_settings(config=SHIPPED_CONFIG)
    assert s.config_dir == SHIPPED_CONFIG
    assert (s.models, s.vendors, s.activities, s.rules) == ((), (), {}, ())
    assert s.reporting_currency == "USD" and s.pull == ()
    assert load_profiles(SHIPPED_CONFIG)  # the format profiles ship with it


def test_the_shipped_costledger_yaml_shows_every_default():
    data = yaml.safe_load((SHIPPED_CONFIG / "costledger.yaml").read_text(encoding="utf-8"))
    # every setting is written out, and the value written is the default
    assert set(data) == set(MainCfg.model_fields)
    assert MainCfg.model_validate(data) == MainCfg()


def _keys_without_a_comment(path) -> list[str]:
    """Keys (mapping lines) with neither an inline comment nor a comment in the lines just above."""
    lines = path.read_text(encoding="utf-8").splitlines()
    bare = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)([A-Za-z_][\w.-]*):", line)
        if not m or line.lstrip().startswith("#"):
            continue
        if "#" in line:
            continue
        above = [x for x in lines[max(0, i - 3) : i] if x.strip()]
        if above and above[-1].lstrip().startswith("#"):
            continue
        bare.append(m.group(2))
    return bare


def test_every_key_of_the_shipped_config_is_commented():
    for name in ("costledger.yaml", "models.yaml", "vendors.yaml", "activities.yaml", "cost_rules.yaml"):
        path = SHIPPED_CONFIG / name
        # a section heading (`paths:`, `quality:` ...) is explained by the comment above it or by its keys
        bare = [
            k for k in _keys_without_a_comment(path) if k not in ("paths", "quality", "privacy", "report")
        ]
        assert bare == [], f"{path}: keys without a comment: {bare}"
