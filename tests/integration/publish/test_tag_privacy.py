"""Names and e-mails in cloud tags and resource names never leave raw (docs/privacy.md): a FOCUS line
with an `owner` tag, an e-mail in a tag and in its resource name is published, reported and
explained with those values '(redacted)', while the rule that matches the raw `owner` tag still
places it."""

from __future__ import annotations

import email
import shutil
import zipfile
from decimal import Decimal

import duckdb
import pytest
import yaml

from pipeline.config.settings import DEMO_CONFIG
from tests.fixtures.cli import cli

SEPT = "2026-09"
OWNER, OWNER_EMAIL = "Ana Lopez", "ana.lopez@example.com"
CREATOR, CREATOR_EMAIL = "Bob Stone", "bob.stone@example.org"
SECRETS = (OWNER, OWNER_EMAIL, CREATOR, CREATOR_EMAIL, "ana.lopez", "bob.stone")
HEAD = (
    "111122223333,Shop Payer,USD,2026-09-01T00:00:00Z,2026-10-01T00:00:00Z,Usage,,{desc},Usage-Based,"
    "2026-09-20T00:00:00Z,2026-09-21T00:00:00Z,{cost},{cost},{cost},{cost},AWS,AWS,AWS,us-east-1,{rid},{rname},"
    "{category},{service},SKU9,1,Hours,444455556666,{tags}"
)


def _tags(**kv: str) -> str:
    import json

    return '"' + json.dumps(kv).replace('"', '""') + '"'


@pytest.fixture
def ran(small_landing, tmp_path):
    focus = small_landing / "focus" / "acme-cloud" / "focus-2026-09.csv"
    lines = [
        # placed by the rule below, which matches the raw owner tag
        HEAD.format(
            desc=f"Notebook of {OWNER_EMAIL}",
            cost="33.00",
            rid="nb-ana",
            rname=f"notebook/{OWNER_EMAIL}",
            category="AI and Machine Learning",
            service="Amazon SageMaker",
            tags=_tags(Owner=OWNER, contact=f"mail {OWNER_EMAIL}", project="tagged-notebooks"),
        ),
        # placed by no rule: it joins the untagged storage group that explain lists
        HEAD.format(
            desc="Bucket storage",
            cost="4.00",
            rid="bucket-bob",
            rname=f"bucket/{CREATOR_EMAIL}",
            category="Storage",
            service="Amazon Simple Storage Service",
            tags=_tags(**{"aws:createdBy": CREATOR, "user:Email": CREATOR_EMAIL, "tier": "cold"}),
        ),
    ]
    focus.write_text(focus.read_text().rstrip("\n") + "\n" + "\n".join(lines) + "\n")
    config = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, config)
    rules_file = config / "cost_rules.yaml"
    rules = yaml.safe_load(rules_file.read_text())
    rules["rules"].insert(
        0,
        {
            "id": "ana-notebooks",
            "description": "Notebooks owned by one person (matched on the raw tag)",
            "match": {"tag.Owner": OWNER},
            "set": {"leaf": "tuning_resources", "model_id": "reco-llm"},
        },
    )
    rules_file.write_text(yaml.safe_dump(rules, sort_keys=False))
    warehouse = tmp_path / "warehouse"
    res = cli("run", "--quiet", landing=small_landing, warehouse=warehouse, config=config)
    assert res.returncode == 0, res.stderr
    return small_landing, warehouse, config


def _all_text(db) -> str:
    """Every value of every table in a DuckDB file, as text."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = []
        for schema, table in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
        ).fetchall():
            out += [repr(r) for r in con.execute(f'select * from "{schema}"."{table}"').fetchall()]
        return "\n".join(out)
    finally:
        con.close()


def _missing(text: str) -> list[str]:
    return [s for s in SECRETS if s.lower() in text.lower()]


def test_names_and_emails_in_tags_are_redacted_and_the_rule_still_places_the_line(ran, tmp_path):
    landing, warehouse, config = ran
    published = warehouse / "costledger.duckdb"
    assert _missing(_all_text(published)) == []

    con = duckdb.connect(str(published), read_only=True)
    try:
        placed = con.execute(
            "select rule_id, leaf, model_id, cost, tags, resource_name, charge_description "
            "from marts.cost_line_items where resource_id = 'nb-ana'"
        ).fetchall()
        bucket = con.execute(
            "select leaf, tags, resource_name from marts.cost_line_items where resource_id = 'bucket-bob'"
        ).fetchall()
    finally:
        con.close()
    # the rule matched the raw owner tag: the line is placed as it says
    assert [(r[0], r[1], r[2]) for r in placed] == [("ana-notebooks", "tuning_resources", "reco-llm")]
    assert placed[0][3] > 0
    tags = yaml.safe_load(placed[0][4])
    assert tags == {"Owner": "(redacted)", "contact": "(redacted)", "project": "tagged-notebooks"}
    assert placed[0][5] == "notebook/(redacted)" and placed[0][6] == "Notebook of (redacted)"
    assert bucket[0][0] == "unallocated"
    assert yaml.safe_load(bucket[0][1]) == {
        "aws:createdBy": "(redacted)",
        "user:Email": "(redacted)",
        "tier": "cold",
    }
    assert bucket[0][2] == "bucket/(redacted)"

    # the work database keeps the raw tags (what the rule matched)
    work = duckdb.connect(str(warehouse / "work.duckdb"), read_only=True)
    try:
        raw = work.execute("select tags from core.line_items where resource_id = 'nb-ana'").fetchone()
    finally:
        work.close()
    assert OWNER in raw[0]

    res = cli("explain", "--month", SEPT, landing=landing, warehouse=warehouse, config=config)
    assert res.returncode == 0, res.stderr
    assert "bucket/(redacted)" in res.stdout  # the group with the bucket is listed
    assert _missing(res.stdout) == []

    out = tmp_path / "report"
    res = cli(
        "report", "--month", SEPT, "--out", str(out), landing=landing, warehouse=warehouse, config=config
    )
    assert res.returncode == 0, res.stderr
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert files
    for path in files:
        if path.suffix == ".eml":  # parts may be base64: read them decoded
            msg = email.message_from_bytes(path.read_bytes())
            text = "\n".join(
                (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
                for part in msg.walk()
                if not part.is_multipart()
            ) + str(msg)
        elif path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                text = "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        else:
            text = path.read_bytes().decode("utf-8", "replace")
        assert _missing(text) == [], path.name
    assert _missing(res.stdout + res.stderr) == []
    assert Decimal(placed[0][3]) > 0
