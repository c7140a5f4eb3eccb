"""`pull:` config and the rules pull applies before it copies anything (no server needed)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from pipeline.config.settings import DEMO_CONFIG, load_settings
from pipeline.errors import ConfigError, InputError
from pipeline.landing.pull import adhoc_source, check_key, version_token


@pytest.fixture
def cfg(tmp_path) -> Path:
    dest = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, dest)
    return dest


def set_pull(cfg: Path, entries) -> None:
    path = cfg / "costledger.yaml"
    data = yaml.safe_load(path.read_text())
    data["pull"] = entries
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_shipped_config_pulls_nothing():
    assert load_settings().pull == ()


def test_pull_entries_are_read(cfg):
    set_pull(
        cfg,
        [
            {"url": "s3://acme-billing/cur2/acme-cur/", "to": "aws_cur/acme-cur"},
            {"url": "gs://acme-gcp-billing/extract/", "to": "gcp_billing/detailed/"},
            {"url": "az://cost-exports/ea/", "to": "azure_cost/ea"},
            {"url": "abfs://cost-exports/mca/", "to": "azure_cost/mca"},
            {"url": "file:///srv/exports/focus/", "to": "focus/onprem"},
        ],
    )
    s = load_settings(config=cfg)
    assert [(p.url, p.to) for p in s.pull] == [
        ("s3://acme-billing/cur2/acme-cur/", "aws_cur/acme-cur"),
        ("gs://acme-gcp-billing/extract/", "gcp_billing/detailed"),  # trailing slash normalised
        ("az://cost-exports/ea/", "azure_cost/ea"),
        ("abfs://cost-exports/mca/", "azure_cost/mca"),
        ("file:///srv/exports/focus/", "focus/onprem"),
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"url": "s3://b/p/", "to": "../outside"}, "pull[0].to: '../outside' must stay inside landing/"),
        ({"url": "s3://b/p/", "to": "aws_cur/../../etc"}, "pull[0].to: 'aws_cur/../../etc' must stay inside"),
        (
            {"url": "s3://b/p/", "to": "/etc/cron.d"},
            "pull[0].to: '/etc/cron.d' must be a folder under landing/",
        ),
        (
            {"url": "s3://b/p/", "to": ".pull"},
            "pull[0].to: '.pull': landing/ skips names that start with '.'",
        ),
        ({"url": "s3://b/p/", "to": ""}, "pull[0].to: '' must be a folder under landing/"),
        ({"url": "https://b.example/p/", "to": "aws_cur/x"}, "pull[0].url: 'https://b.example/p/' is not an"),
        ({"url": "s3:///p/", "to": "aws_cur/x"}, "pull[0].url: 's3:///p/' names no bucket or container"),
        (
            {"url": "file://exports/", "to": "focus/x"},
            "pull[0].url: 'file://exports/': a file URL needs an absolute",
        ),
        ({"url": "s3://b/p/", "to": "aws_cur/x", "endpoint": "http://x"}, "pull[0].endpoint: Extra inputs"),
        ({"to": "aws_cur/x"}, "pull[0].url: Field required"),
    ],
)
def test_a_bad_pull_entry_fails_in_one_line_naming_file_key_and_value(cfg, entry, message):
    set_pull(cfg, [entry])
    with pytest.raises(ConfigError) as err:
        load_settings(config=cfg)
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith(str(cfg / "costledger.yaml") + ": ")
    assert message in text


def test_the_same_url_twice_is_refused(cfg):
    set_pull(cfg, [{"url": "s3://b/p/", "to": "aws_cur/a"}, {"url": "s3://b/p", "to": "aws_cur/b"}])
    with pytest.raises(ConfigError, match=r"pull\[1\]\.url: 's3://b/p' is already pulled by pull\[0\]"):
        load_settings(config=cfg)


def test_an_adhoc_pull_is_validated_like_config():
    assert adhoc_source("s3://b/p/", "aws_cur/x/").to == "aws_cur/x"
    with pytest.raises(ConfigError, match=r"^--to: 'a/\.\./\.\./b' must stay inside landing/"):
        adhoc_source("s3://b/p/", "a/../../b")
    with pytest.raises(ConfigError, match=r"^pull URL: 'ftp://h/p' is not an object-store URL"):
        adhoc_source("ftp://h/p", "aws_cur/x")


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("../../etc/passwd", "has an empty, '.' or '..' part"),
        ("data/../../../x.csv", "has an empty, '.' or '..' part"),
        ("/etc/passwd", "is absolute"),
        ("data//x.csv", "has an empty, '.' or '..' part"),
        ("data/./x.csv", "has an empty, '.' or '..' part"),
        ("data/x\n.csv", "contains a control character"),
        ("data/x\x00.csv", "contains a control character"),
        ("", "is empty"),
    ],
)
def test_keys_that_would_escape_the_target_are_refused(key, why):
    with pytest.raises(InputError) as err:
        check_key("s3://b/cur/", key, "aws_cur/x")
    text = str(err.value)
    assert why in text and "nothing was pulled" in text and "landing/aws_cur/x" in text
    assert "\n" not in text  # the key is shown with repr(): a newline in it cannot break the line


@pytest.mark.parametrize(
    "key", ["data/BILLING_PERIOD=2026-10/x-00001.snappy.parquet", "a..b/c.csv", "é/ü.csv"]
)
def test_ordinary_keys_pass(key):
    check_key("s3://b/cur/", key, "aws_cur/x")


def test_version_tokens_use_each_stores_change_marker():
    when = datetime(2026, 10, 3, 4, 5, 6, tzinfo=UTC)
    s3 = version_token("s3", {"ETag": '"abc"', "size": 10, "LastModified": when})
    assert s3 == 'etag="abc";size=10'
    assert version_token("s3", {"ETag": '"abd"', "size": 10}) != s3
    gcs = version_token("gs", {"generation": "171", "md5Hash": "RYj/N5e3", "size": 10, "updated": when})
    assert gcs == "generation=171;md5=RYj/N5e3"
    az = version_token("az", {"etag": '"0x1D6"', "last_modified": when, "size": 10})
    assert az == 'etag="0x1D6";last_modified=2026-10-03T04:05:06+00:00'
    assert version_token("abfs", {"etag": '"0x1D6"', "last_modified": when}) == az
    assert version_token("file", {"size": 10, "mtime": 1.5}) == "size=10;mtime=1.5"
    # a store without ETag or generation falls back to size and modification time
    assert (
        version_token("s3", {"size": 10, "LastModified": when})
        == "size=10;modified=2026-10-03T04:05:06+00:00"
    )
