"""One definition of valid input (pipeline/ingest/<source>.rules.yml): every rule of every source
yields both its ingest reject and its raw-gate count, and the two agree on a crafted bad row.

For each rule: a file with one good row and one row broken for that rule only is read by the
source's real reader (rejected there, with the line and the rule's own reason naming the field);
the same two rows put straight into raw (as if ingest had let them through) are counted by the
gate's per-file frame under that rule, and nowhere else.
"""

from __future__ import annotations

import csv
import io
import os

import duckdb
import pytest

from pipeline import ingest
from pipeline.config.settings import DEMO_CONFIG, load_settings
from pipeline.config.tables import sync_config
from pipeline.ingest.rules import make_rule, parse_rules, rules_for
from pipeline.landing.prescan import Caps, open_fd, prescan_fd
from pipeline.landing.walk import LandingFile

CAPS = Caps(1024 * 1024, 1024**3)

# One valid row per source, in the demo company's config (vendors, activities, models).
GOOD = {
    "focus": {
        "BilledCost": "12.50",
        "EffectiveCost": "10.00",
        "BillingCurrency": "USD",
        "ChargePeriodStart": "2026-05-03T00:00:00Z",
        "ChargePeriodEnd": "2026-05-04T00:00:00Z",
        "ChargeCategory": "Usage",
        "ChargeClass": "",
        "ProviderName": "AWS",
        "Tags": '{"team": "search"}',
    },
    "invoices": {
        "vendor": "annotate-pro",
        "invoice_number": "INV-7",
        "invoice_date": "2026-05-31",
        "revision": "1",
        "document_type": "invoice",
        "line_number": "1",
        "service_period_start": "2026-05-01",
        "service_period_end": "2026-05-31",
        "quantity": "2",
        "unit_price": "350.00",
        "amount": "700.00",
        "currency": "CNY",
    },
    "timesheets": {
        "employee_id": "E001",
        "work_date": "2026-05-04",
        "hours": "2",
        "activity": "fine_tuning",
        "exported_at": "2026-06-01T06:00:00Z",
    },
    "hr_rates": {
        "employee_id": "E001",
        "role": "",
        "effective_from": "2026-01-01",
        "hourly_rate": "400.00",
        "currency": "CNY",
    },
    "hr_loadings": {
        "effective_from": "2026-01-01",
        "employee_id": "",
        "role": "ml_engineer",
        "component": "overhead",
        "basis": "per_month",
        "value": "1000",
        "currency": "CNY",
    },
    "fx_rates": {"rate_date": "2026-05-01", "from_currency": "USD", "to_currency": "CNY", "rate": "7.1"},
    "budgets": {
        "month": "2026-05",
        "stage": "tuning",
        "leaf": "tuning_time",
        "model_id": "reco-llm",
        "currency": "CNY",
        "amount": "5000",
    },
    "metrics": {"month": "2026-05", "model_id": "reco-llm", "metric": "gpu_hours", "value": "12.5"},
    "assets": {
        "asset_id": "GPU-1",
        "description": "inference server",
        "purchase_date": "2026-04-01",
        "in_service_date": "2026-05-01",
        "cost": "1000.00",
        "currency": "CNY",
        "useful_life_months": "36",
        "salvage_value": "100.00",
        "serves": "reco-llm",
        "leaf": "hardware",
        "effective_month": "2026-07",
        "disposal_date": "2026-09-01",
        "disposal_proceeds": "10.00",
        "contract_id": "",
        "contract_start": "2026-05-01",
        "contract_end": "2026-06-30",
        "contract_amount": "",
    },
    "business_metrics": {
        "month": "2026-05",
        "model_or_scenario": "reco-llm",
        "metric": "orders",
        "value": "100",
        "currency": "CNY",
    },
    "aws_cur": {
        "bill_payer_account_id": "111122223333",
        "line_item_line_item_type": "Usage",
        "line_item_usage_start_date": "2026-05-01T00:00:00.000Z",
        "line_item_currency_code": "USD",
        "line_item_unblended_cost": "3.2e-05",
        "line_item_net_unblended_cost": "3.104e-05",
        "reservation_effective_cost": "",
        "reservation_unused_amortized_upfront_fee_for_billing_period": "",
        "reservation_unused_recurring_fee": "",
        "savings_plan_savings_plan_effective_cost": "",
        "savings_plan_total_commitment_to_date": "",
        "savings_plan_used_commitment": "",
        "resource_tags": '{"user_team": "search"}',
        "cost_category": "",
    },
    "gcp_billing": {
        "billing_account_id": "01A2B3-C4D5E6-F7A8B9",
        "cost": "12.5",
        "currency": "USD",
        "usage_start_time": "2026-05-01 00:00:00 UTC",
        "credits_amount": "-1.25",
        "credits": '[{"name": "Sustained usage discount", "amount": -1.25}]',
    },
    "azure_cost": {
        "Date": "05/03/2026",
        "CostInBillingCurrency": "12.5",
        "BillingCurrencyCode": "EUR",
        "BillingProfileId": "87654321",
        "BillingAccountId": "87654321",
        "Tags": '"team": "search"',
    },
    "focus_commitments": {
        "ContractId": "CTR-1",
        "ContractCommitmentId": "CTR-1-SPEND",
        "ContractCommitmentPeriodStart": "2026-01-01T00:00:00Z",
        "ContractCommitmentPeriodEnd": "2027-01-01T00:00:00Z",
        "ContractCommitmentCost": "120000",
        "ContractCommitmentQuantity": "",
        "BillingCurrency": "USD",
    },
}

# A bad value per rule type (what a person would plausibly send).
BAD_VALUE = {
    "required": "",
    "money": "12,50",
    "number": "n/a",
    "integer": "2b",
    "date": "31/05/2026",
    "month": "2026-13",
    "timestamp": "next tuesday",
    "currency": "RMB",
    "one_of": "Refund",
    "in_config": "nobody-known",
    "json_object": "[1, 2]",
}
# Rules across columns say themselves how a row breaks them.
_CONTRACT = {
    "contract_id": "MC-1",
    "contract_start": "2026-05-01",
    "contract_end": "2026-06-30",
    "contract_amount": "10",
}
SQL_EXAMPLES = {
    ("budgets", "leaf__sql"): {"leaf": "hardware", "stage": "tuning"},
    # the asset register: register rows (no contract_id) and maintenance rows (contract_id set)
    ("assets", "in_service_date__sql"): {"in_service_date": "soon"},
    ("assets", "cost__sql"): {"cost": "lots"},
    ("assets", "useful_life_months__sql"): {"useful_life_months": "0"},
    ("assets", "salvage_value__sql"): {"salvage_value": "5000.00"},
    ("assets", "serves__sql"): {"serves": "nobody-known"},
    ("assets", "leaf__sql"): {"leaf": "gpu"},
    ("assets", "contract_start__sql"): {**_CONTRACT, "contract_start": "soon"},
    ("assets", "contract_end__sql"): {**_CONTRACT, "contract_end": "later"},
    ("assets", "contract_amount__sql"): {**_CONTRACT, "contract_amount": "lots"},
    ("business_metrics", "model_or_scenario__sql"): {"model_or_scenario": "nobody-known"},
    ("hr_loadings", "component__sql"): {"component": "base"},
    ("hr_loadings", "currency__sql"): {"currency": ""},
    ("gcp_billing", "credits__sql"): {"credits": '[{"amount": "a lot"}]'},
    ("azure_cost", "Date__sql"): {"Date": "13/05/2026"},
    ("azure_cost", "Tags__sql"): {"Tags": "team=search"},
}


def broken(source: str, rule) -> dict:
    """The good row of `source`, changed so that it breaks `rule`."""
    row = dict(GOOD[source])
    spec = rule
    if rule.type in BAD_VALUE:
        row[rule.field] = BAD_VALUE[rule.type]
    elif rule.type == "range":
        # the value just outside the bound the rule declares first (range rules: gt/ge/lt/le)
        bound = next(b for b in ("gt", "ge", "lt", "le") if f"{b}" in RANGES[(source, spec.name)])
        x = RANGES[(source, spec.name)][bound]
        row[rule.field] = str({"gt": x, "ge": x - 1, "lt": x, "le": x + 1}[bound])
    elif rule.type == "not_before":
        row[rule.field] = "2000-01-01" + ("T00:00:00Z" if "T" in row[rule.field] else "")
    elif rule.type == "any_filled":
        for col in rule.reads:
            row[col] = ""
    else:
        row.update(SQL_EXAMPLES[(source, rule.name)])
    return row


def _declared_ranges() -> dict:
    import yaml

    out = {}
    for source in ingest.SOURCES:
        for spec, rule in zip(
            yaml.safe_load(rules_for(source).path.read_text())["rules"], rules_for(source).rules, strict=True
        ):
            if spec["type"] == "range":
                out[(source, rule.name)] = spec
    return out


RANGES = _declared_ranges()
CASES = [(source, rule) for source in ingest.SOURCES for rule in rules_for(source).rules]


@pytest.fixture(scope="module")
def settings():
    return load_settings(config=DEMO_CONFIG)


@pytest.fixture(scope="module")
def database(settings):
    c = duckdb.connect()
    for schema in ("raw", "config", "staging", "core", "marts", "audit"):
        c.execute(f"create schema {schema}")
    sync_config(c, settings)
    ingest.ensure_raw_tables(c)
    yield c
    c.close()


@pytest.fixture()
def con(database):
    for mod in ingest.MODULES.values():
        database.execute(f"delete from {mod.RAW_TABLE}")
    return database


def csv_bytes(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def read_with_ingest(con, settings, tmp_path, source: str, rows: list[dict]):
    """The source's real reader over a real CSV file: the rejects it leaves behind."""
    path = tmp_path / f"{source}.csv"
    path.write_bytes(csv_bytes(rows))
    fd = open_fd(path)
    try:
        scan = prescan_fd(fd, path.name, "csv", CAPS)
        f = LandingFile(
            source,
            f"{source}/{path.name}",
            path,
            scan.sha256,
            scan.size,
            scan=scan,
            fd=fd,
            caps=CAPS,
            reader_path=f"/proc/self/fd/{fd}",  # as pipeline.landing.walk.opened hands it to readers
        )
        incoming = ingest.MODULES[source].read(con, settings, f, 1)
    finally:
        os.close(fd)
    rejects = con.execute("select source_row, field, reason from _rejects order by source_row").fetchall()
    return incoming, rejects


def expected_reason(con, rule, row: dict) -> str:
    """The rule's own reason SQL evaluated on the row (so a reject by another rule does not pass)."""
    cols = ", ".join(f"? as {ingest.q(k)}" for k in row)
    return con.execute(f"select {rule.reason} from (select {cols})", list(row.values())).fetchone()[0]


@pytest.mark.parametrize("source, rule", CASES, ids=[f"{s}-{r.name}" for s, r in CASES])
def test_every_rule_rejects_at_ingest_and_is_counted_by_the_gate(con, settings, tmp_path, source, rule):
    from pipeline.quality import suites

    good, bad = GOOD[source], broken(source, rule)
    # ingest: the bad row (line 3) is rejected for this rule, naming its field; the good row is read
    incoming, rejects = read_with_ingest(con, settings, tmp_path, source, [good, bad])
    reason = expected_reason(con, rule, bad)
    assert reason.startswith(f"{rule.field}") and reason, reason
    assert rejects == [(3, rule.field, f"line 3: {reason}")]
    assert (incoming.rows_in_file, incoming.rows_rejected) == (2, 1)
    if source in ("hr_rates", "hr_loadings"):  # pay and who earns it: no reason quotes them
        for col in ("employee_id", "role", "hourly_rate", "value", "effective_from"):
            assert (
                col not in bad
                or not bad[col]
                or f"'{bad[col]}'" not in reason
                and f" {bad[col]} " not in reason
            )

    # gate: had the row got through, the per-file count of this rule (and of no other) is 1
    mod = ingest.MODULES[source]
    cols = [c for c in bad if c in mod.RAW_COLUMNS]
    # a source read in one pass (FOCUS) has already written its good row into raw: start clean
    con.execute(f"delete from {mod.RAW_TABLE}")
    con.execute(
        f"insert into {mod.RAW_TABLE} ({', '.join(ingest.q(c) for c in cols)}, source_file, source_row) "
        f"values ({', '.join('?' for _ in cols)}, 'f.csv', 2), ({', '.join('?' for _ in cols)}, 'f.csv', 3)",
        [good[c] for c in cols] + [bad[c] for c in cols],
    )
    probes = suites.raw_input_rules(source)(con, settings)
    per_file = next(p for p in probes if p.name == "per_file").frame
    assert len(per_file) == 1
    counts = {r.name: int(per_file.iloc[0][r.name]) for r in rules_for(source).rules}
    assert counts[rule.name] == 1
    # the gate's check of that count names the field, and the rule is the one ingest applied
    check = next(c for p in probes for c in p.checks if getattr(c.expectation, "column", None) == rule.name)
    assert check.severity == "critical" and check.column == rule.field
    explained = check.explain(per_file)
    assert explained.startswith(f"{rule.says}: 1 rows in f.csv")
    if rules_for(source).people:  # people tables: counts only, never a value
        assert explained == f"{rule.says}: 1 rows in f.csv"


def test_the_good_rows_break_no_rule(con, settings, tmp_path):
    from pipeline.quality import suites

    for source, row in GOOD.items():
        _, rejects = read_with_ingest(con, settings, tmp_path, source, [row])
        assert rejects == [], (source, rejects)
        mod = ingest.MODULES[source]
        cols = [c for c in row if c in mod.RAW_COLUMNS]
        con.execute(
            f"insert into {mod.RAW_TABLE} ({', '.join(ingest.q(c) for c in cols)}, source_file, source_row) "
            f"values ({', '.join('?' for _ in cols)}, 'f.csv', 2)",
            [row[c] for c in cols],
        )
        per_file = next(
            p for p in suites.raw_input_rules(source)(con, settings) if p.name == "per_file"
        ).frame
        assert all(int(per_file.iloc[0][r.name]) == 0 for r in rules_for(source).rules), source


def test_every_source_declares_its_rules_once_and_ingest_uses_them():
    for source, mod in ingest.MODULES.items():
        assert mod.CHECKS == rules_for(source).rules, source
        assert rules_for(source).path.name == f"{source}.rules.yml"
        # every column a rule reads is a raw column of its source
        for r in rules_for(source).rules:
            assert set(r.reads) <= set(mod.RAW_COLUMNS), (source, r.name)


def test_currencies_come_from_one_list(con):
    from pipeline.config.currencies import iso_currencies

    listed = {r[0] for r in con.execute("select code from config.currencies").fetchall()}
    assert listed == set(iso_currencies())
    assert {"CNY", "USD", "EUR", "JPY"} <= listed and not {"RMB", "XBT", "EURO"} & listed


@pytest.mark.parametrize(
    "text, message",
    [
        ("rules: [{field: x, type: weird}]", "x.rules.yml: rules[0] (x): type: 'weird' is not one of"),
        ("rules: [{field: x, type: money, gt: 0}]", "rules[0] (x): gt: not a key of a money rule"),
        ("rules: [{field: x, type: range}]", "rules[0] (x): a range needs gt, ge, lt or le"),
        ("rules: [{field: x, type: one_of}]", "rules[0] (x): values: missing"),
        ("rules: [{type: money}]", "rules[0] (None): field: missing"),
        ("rules: [{field: x, type: sql, invalid: 'x is null'}]", "says: an sql rule needs"),
        ("nothing: here", "expected a mapping with a `rules:` list"),
        ("peopel: true\nrules: []", "x.rules.yml: peopel: not a key of a rules file"),
    ],
)
def test_a_bad_rules_file_names_the_rule_and_the_key(text, message):
    with pytest.raises(ValueError) as err:
        parse_rules("x", text)
    assert message in str(err.value)


def test_reasons_read_plainly():
    hours = make_rule({"field": "hours", "type": "range", "gt": 0, "le": 24})
    rate = make_rule({"field": "hourly_rate", "type": "range", "gt": 0}, never_quote=["hourly_rate"])
    ccy = make_rule({"field": "currency", "type": "currency"})
    con = duckdb.connect()
    con.execute("create schema config; create table config.currencies as select 'CNY' as code")

    def reason(rule, **row):
        cols = ", ".join(f"? as {k}" for k in row)
        sql = f"select case when {rule.invalid} then {rule.reason} end from (select {cols})"
        return con.execute(sql, list(row.values())).fetchone()[0]

    assert reason(hours, hours="0") == "hours: 0 is outside (0, 24]"
    assert (
        reason(hours, hours="24") is None and reason(hours, hours="x") is None
    )  # not a number: another rule
    assert reason(rate, hourly_rate="0") == "hourly_rate: not above 0"
    assert reason(ccy, currency="RMB") == "currency: 'RMB' is not an ISO-4217 currency code"
    assert reason(ccy, currency=" ") == "currency: missing"
    assert reason(ccy, currency="CNY") is None
    assert (hours.says, rate.says, ccy.says) == (
        "hours: outside (0, 24]",
        "hourly_rate: not above 0",
        "currency: missing or not an ISO-4217 currency code",
    )
    assert "decimal(38,10)" in hours.invalid  # money and ranges compare as DECIMAL, never float
