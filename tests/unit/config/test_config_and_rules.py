"""Configuration is validated before any data is touched; errors name file, rule/key and value."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pipeline.config.rules import compile_rules, glob_to_ilike
from pipeline.config.settings import DEMO_CONFIG, load_settings
from pipeline.errors import ConfigError

CONFIG = DEMO_CONFIG


@pytest.fixture
def cfg(tmp_path) -> Path:
    dest = tmp_path / "config"
    shutil.copytree(CONFIG, dest)
    return dest


def edit(path: Path, fn) -> None:
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_the_shipped_config_is_valid():
    s = load_settings()
    assert s.reporting_currency == "CNY"
    assert len(s.models) >= 4 and {m.scenario for m in s.models} >= {"search_ranking", "ad_serving"}
    assert s.rules[0].rule_id == "webshop-out-of-scope" and s.rules[0].priority == 1


def test_environment_overrides_config(cfg, monkeypatch, tmp_path):
    monkeypatch.setenv("COSTLEDGER_CONFIG", str(cfg))
    monkeypatch.setenv("COSTLEDGER_REPORTING_CURRENCY", "EUR")
    monkeypatch.setenv("COSTLEDGER_LANDING", str(tmp_path / "elsewhere"))
    s = load_settings()
    assert s.reporting_currency == "EUR"
    assert s.landing == tmp_path / "elsewhere"
    assert s.warehouse == (cfg.parent / "warehouse").resolve()


def test_cli_arguments_beat_the_environment(cfg, monkeypatch, tmp_path):
    monkeypatch.setenv("COSTLEDGER_LANDING", str(tmp_path / "env"))
    s = load_settings(config=cfg, landing=tmp_path / "arg")
    assert s.landing == tmp_path / "arg"


@pytest.mark.parametrize(
    "file, change, message",
    [
        (
            "models.yaml",
            lambda d: d["models"][1].update(scenario="serch_ranking"),
            "models.yaml: models[1].scenario: 'serch_ranking' is not a known scenario",
        ),
        (
            "models.yaml",
            lambda d: d["models"][2].update(aliases=["PRJ-SEARCH-RR"]),
            "alias 'PRJ-SEARCH-RR' is already used by model 'search-rerank-bert'",
        ),
        (
            "costledger.yaml",
            lambda d: d.update(reporting_currency="yuan"),
            "costledger.yaml: reporting_currency: 'yuan' is not an ISO-4217 currency code",
        ),
        (
            "costledger.yaml",
            lambda d: d.update(cost_basis="list"),
            "costledger.yaml: cost_basis: 'list' is not a cost basis",
        ),
        (
            "costledger.yaml",
            lambda d: d.update(colour="blue"),
            "costledger.yaml: colour: Extra inputs are not permitted",
        ),
        (
            "costledger.yaml",
            lambda d: d["privacy"].update(min_people_per_row=2),
            "costledger.yaml: privacy.min_people_per_row: cannot be below 3: a published row of fewer "
            "people shows their pay (value: 2)",
        ),
        (
            "costledger.yaml",
            lambda d: d["privacy"].update(min_people_per_row="3 or so"),
            "costledger.yaml: privacy.min_people_per_row: must be a whole number of people (value: '3 or so')",
        ),
        (
            "costledger.yaml",
            lambda d: d["privacy"].update(min_people_per_row=True),
            "costledger.yaml: privacy.min_people_per_row: must be a whole number of people (value: True)",
        ),
        (
            "costledger.yaml",
            lambda d: d["privacy"].update(redact_tag_keys="owner"),
            "costledger.yaml: privacy.redact_tag_keys: must be a list of tag keys (non-empty strings) (value: 'owner')",
        ),
        (
            "models.yaml",
            lambda d: d["models"][0].update(team="(several)"),
            "models.yaml: models[0].team: '(several)' is reserved for merged people-cost rows",
        ),
        (
            "vendors.yaml",
            lambda d: d["vendors"][0].update(kind="catering"),
            "vendors.yaml: vendors[0].kind: 'catering' is not a vendor kind",
        ),
        (
            "activities.yaml",
            lambda d: d["activities"].update(knitting="hobby"),
            "activities.yaml: activities.knitting: 'hobby' is not a leaf",
        ),
        (
            "cost_rules.yaml",
            lambda d: d["rules"][4]["set"].update(leaf="gpu"),
            "cost_rules.yaml: rule 'tagged-cloud-resources': set.leaf: 'gpu' is not a leaf",
        ),
        (
            "cost_rules.yaml",
            lambda d: d["rules"][4]["match"].update(colour="red"),
            "rule 'tagged-cloud-resources': match.colour: unknown field",
        ),
        (
            "cost_rules.yaml",
            lambda d: d["rules"][5].update(id="time-logs"),
            "rule 'time-logs': id: used by an earlier rule",
        ),
        (
            "cost_rules.yaml",
            lambda d: d["rules"][1]["split"].pop("metric"),
            "rule 'shared-gpu-pool': split.metric: required when split.by is metric",
        ),
        (
            "cost_rules.yaml",
            lambda d: d["rules"][1]["split"].update(models=["gpt-17"]),
            "rule 'shared-gpu-pool': split.models: 'gpt-17' is not a model in models.yaml",
        ),
        (
            "cost_rules.yaml",
            lambda d: d["rules"][4]["set"].update(model_id={"tag": "x", "hint": "model"}),
            "rule 'tagged-cloud-resources': set.model_id",
        ),
        (
            "cost_rules.yaml",
            lambda d: d["rules"][0].update(set={"leaf": "data"}),
            "rule 'webshop-out-of-scope': out_of_scope: an out-of-scope rule cannot also set or split",
        ),
        (
            "cost_rules.yaml",
            lambda d: d["rules"][4]["match"].update(service={"regex": "(["}),
            "rule 'tagged-cloud-resources': match.service: bad regex",
        ),
        # Python's re accepts these; DuckDB's RE2, which runs the rules, does not
        (
            "cost_rules.yaml",
            lambda d: d["rules"][4]["match"].update(service={"regex": "^gpu-(?=a100)"}),
            "cost_rules.yaml: rule 'tagged-cloud-resources': match.service: bad regex '^gpu-(?=a100)': "
            "DuckDB (RE2) says: invalid perl operator: (?=",
        ),
        (
            "cost_rules.yaml",
            lambda d: d["rules"][4]["match"].update(sku={"regex": r"(ab)\1"}),
            "rule 'tagged-cloud-resources': match.sku: bad regex '(ab)\\\\1': DuckDB (RE2) says: "
            "invalid escape sequence: \\1",
        ),
    ],
)
def test_a_bad_config_names_file_key_and_value(cfg, file, change, message):
    edit(cfg / file, change)
    with pytest.raises(ConfigError) as err:
        load_settings(config=cfg)
    text = str(err.value)
    assert message in text
    assert "\n" not in text


def test_people_group_size_comes_from_config_three_by_default(cfg):
    assert load_settings(config=cfg).min_people_per_row == 3
    edit(cfg / "costledger.yaml", lambda d: d["privacy"].update(min_people_per_row=5))
    assert load_settings(config=cfg).min_people_per_row == 5
    edit(cfg / "costledger.yaml", lambda d: d.pop("privacy"))
    assert load_settings(config=cfg).min_people_per_row == 3


def test_invalid_yaml_names_the_line(cfg):
    (cfg / "models.yaml").write_text("models:\n  - id: a\n    name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"models.yaml: line \d+ is not valid YAML"):
        load_settings(config=cfg)


def test_missing_config_folder():
    with pytest.raises(ConfigError, match="config folder not found"):
        load_settings(config="/nonexistent/config")


def test_glob_patterns_compile_to_escaped_ilike():
    assert glob_to_ilike("*Support*") == "%Support%"
    assert glob_to_ilike("gpu_pool?") == "gpu\\_pool_"
    assert glob_to_ilike("100%") == "100\\%"


def test_rules_compile_to_conditions_and_set_values():
    s = load_settings()
    rules = compile_rules(
        {
            "rules": [
                {
                    "id": "r1",
                    "match": {"service": ["A*", "B"], "tag.cl-model": "*"},
                    "set": {"leaf": "hardware", "model_id": {"tag": "cl-model"}, "scenario": "ad_serving"},
                }
            ]
        },
        Path("x.yaml"),
        list(s.models),
        s.scenarios,
    )
    r = rules[0]
    assert [(c.field, c.pattern) for c in r.conditions] == [
        ("service_name", "A%"),
        ("service_name", "B"),
        ("tag.cl-model", "%"),
    ]
    row = r.as_row()
    assert row["n_fields"] == 2  # two values of one field are OR-ed: two fields to satisfy
    assert (row["leaf_kind"], row["leaf_value"]) == ("literal", "hardware")
    assert (row["model_id_kind"], row["model_id_value"]) == ("tag", "cl-model")


def test_pseudonyms_are_keyed_and_stable():
    from pipeline.ingest.timesheets import pseudonym

    a = pseudonym(b"k1", "E001")
    assert a == pseudonym(b"k1", " E001 ") and len(a) == 16
    assert a != pseudonym(b"k2", "E001") and a != pseudonym(b"k1", "E002")
    assert "E001" not in a


def test_redact_tag_keys_default_and_configured(cfg):
    from pipeline.config.settings import REDACT_TAG_KEYS

    assert load_settings(config=cfg).redact_tag_keys == REDACT_TAG_KEYS
    assert {"owner", "createdby", "created_by", "creator", "email", "user"} <= set(REDACT_TAG_KEYS)
    edit(cfg / "costledger.yaml", lambda d: d["privacy"].update(redact_tag_keys=[" Owner", "Requested_By"]))
    assert load_settings(config=cfg).redact_tag_keys == ("owner", "requested_by")
