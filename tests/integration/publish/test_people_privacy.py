"""Nobody's pay rate can be read off the published file (issue 8, point 11; docs/privacy.md).

The fixture company (tests/fixtures/people) logs time in one-hour lines, so on a line-level
publication a line's cost is its person's rate. The attack, as an analyst holding only the
published file would run it:

- the GCD of each pseudonym's costs in a month (and the cost of any one line);
- every published amount, the GCD of every amount over the months of its row (same table, same
  descriptive columns), the GCD of a column over a month, and every amount divided by every count
  in its row (cost per line, per file row);
- numbers written into texts (quality results, run messages); ids (line ids, source rows, load
  ids, file hashes) are not quantities and are left out.

It must find no employee's exact rate, no pseudonym, no one's monthly pay, in any published
table, in `costledger query` output or in the report and its attachments.

The attack has teeth: on the work database's line-level table (core.people_cost_lines, the time
lines of core.allocated_line_items with their pseudonym: what marts.cost_line_items published on
main before this change) the same GCD
recovers all 17 rates, and the published-file attack run on that old line-level shape finds all
17 too. Run on main itself (00afbce) with this company, by hand: its published file carried the
840 time lines with employee_key; the GCD per pseudonym and month gave the exact rate for 51 of
51 (pseudonym, month) pairs; all 17 rates were among the published-file candidates; and
audit.reconciliation showed E04's rate outright as the October export's superseded_cost
(341.90) and as the one-person correction file's cost per row (683.80 / 2).
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal

import duckdb
import pytest

from pipeline.app import steps
from pipeline.config.settings import DEMO_CONFIG, REPO_ROOT, load_settings
from tests.conftest import TEST_PII_KEY
from tests.fixtures.people import company

pytestmark = pytest.mark.slow

EMAILS = [f"{e.lower()}@example.com" for e in company.RATES]
SCALE = 10**10  # DECIMAL(38,10): every amount is an integer number of 1e-10
NUMBER = re.compile(r"-?\d[\d,]*\.\d+|-?\d+")
# text columns that name a row rather than describe it: left out of the key a row recurs under
ROW_NAMES = {
    "line_id",
    "source_file",
    "load_id",
    "run_id",
    "message",
    "observed",
    "file_sha256",
    "timings",
    "booked_sha256",
    "delivery",
    "duplicate_of",
}
# identifiers, not quantities: no figure is divided by them, and their digits are no figure
# (audit.files' booked_sha256, delivery and duplicate_of are hashes and landing paths)
IDS = {
    "line_id",
    "source_file",
    "source_row",
    "load_id",
    "run_id",
    "file_sha256",
    "booked_sha256",
    "delivery",
    "duplicate_of",
}


def _units(d: Decimal) -> int:
    return int(d * SCALE)


def gcd_of(values) -> Decimal | None:
    g = 0
    for v in values:
        if v:
            g = math.gcd(g, abs(_units(Decimal(v))))
    return Decimal(g) / SCALE if g else None


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    root = tmp_path_factory.mktemp("people")
    landing = company.write_landing(root / "landing")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COSTLEDGER_PII_KEY", TEST_PII_KEY)
        settings = load_settings(landing=landing, warehouse=root / "warehouse")
        summary = steps.run_all(settings)
    assert summary.status == "succeeded"
    return settings


@pytest.fixture(scope="module")
def work(ledger):
    con = duckdb.connect(str(ledger.work_db), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def pub(ledger):
    con = duckdb.connect(str(ledger.published_db), read_only=True)
    yield con
    con.close()


def rates_by_key(work) -> dict[str, Decimal]:
    keys = dict(work.execute("select employee_id, employee_key from raw.employee_keys").fetchall())
    return {keys[e]: r for e, r in company.RATES.items()}


def gcd_per_pseudonym_and_month(con, table: str) -> dict[tuple, Decimal]:
    """The attack on a line-level table: GCD of each pseudonym's costs in each month."""
    got: dict[tuple, list] = defaultdict(list)
    for key, month, cost in con.execute(
        f"select employee_key, month, cost from {table} where employee_key is not null"
    ).fetchall():
        got[(key, month)].append(cost)
    return {k: gcd_of(v) for k, v in got.items()}


def published_candidates(con, tables: list[str]) -> tuple[set[Decimal], list[str]]:
    """Every figure the attacker can derive by GCD or quotient, and every text, of `tables`."""
    figures: set[Decimal] = set()
    texts: list[str] = []
    for table in tables:
        cur = con.execute(f"select * from {table}")
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
        kinds = {r[0]: r[1] for r in con.execute(f"describe select * from {table}").fetchall()}
        money = [c for c in cols if kinds[c].startswith("DECIMAL") or kinds[c] in ("DOUBLE", "FLOAT")]
        counts = [c for c in cols if kinds[c] in ("BIGINT", "INTEGER", "HUGEINT") and c not in IDS]
        text = [c for c in cols if kinds[c] == "VARCHAR"]
        key_cols = [c for c in text if c not in ROW_NAMES]
        by_row_key: dict[tuple, list[dict]] = defaultdict(list)
        by_month: dict[tuple, list[dict]] = defaultdict(list)
        for row in rows:
            r = dict(zip(cols, row, strict=True))
            texts += [str(r[c]) for c in text if r[c] is not None]
            for c in money:
                if r[c] is not None:
                    figures.add(Decimal(r[c]))
            for c in text:  # a figure written into a text: a check's observed value, a run message
                if r[c] is not None and c not in IDS:
                    figures.update(Decimal(n.replace(",", "")) for n in NUMBER.findall(str(r[c])))
            for c in money:  # a figure per count in its row: cost per line, per file row
                for n in counts:
                    if r[c] is not None and r[n]:
                        figures.add(Decimal(r[c]) / Decimal(r[n]))
            by_row_key[tuple(r[c] for c in key_cols)].append(r)
            by_month[(r.get("month"),)].append(r)
        for groups in (by_row_key, by_month):
            for members in groups.values():
                for c in money:
                    g = gcd_of(m[c] for m in members if m[c] is not None)
                    if g is not None:
                        figures.add(g)
    return figures, texts


def published_tables(con) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables order by 1"
        ).fetchall()
    ]


def test_the_attack_recovers_every_rate_from_the_line_level_table_in_the_work_database(work):
    """Teeth: what main published (one row per time line, pseudonym beside the cost) gives every rate away."""
    rates = rates_by_key(work)
    found = gcd_per_pseudonym_and_month(work, "core.people_cost_lines")
    assert len(found) == 51  # 17 people x 3 months
    assert all(g == rates[key] for (key, _month), g in found.items())
    # and the published-file attack itself, on main's line-level shape, finds all 17 rates
    work.execute(
        "create or replace temp table old_cost_line_items as "
        "select share_id as line_id, month, leaf, model_id, activity, employee_key, cost, source_file, source_row "
        "from core.people_cost_lines"
    )
    figures, _ = published_candidates(work, ["old_cost_line_items"])
    assert set(company.RATES.values()) <= figures


def test_no_rate_no_pseudonym_and_no_ones_pay_can_be_read_off_the_published_file(work, pub):
    tables = published_tables(pub)
    assert {"marts.cost_line_items", "marts.monthly_leaf_cost", "audit.reconciliation"} <= set(tables)
    figures, texts = published_candidates(pub, tables)
    # the attack did look at the people rows (and everything else)
    people = pub.execute(
        "select cost from marts.cost_line_items where source_system = 'timesheet'"
    ).fetchall()
    assert len(people) >= 10 and {c for (c,) in people} <= figures
    leaked = {e: r for e, r in company.RATES.items() if r in figures}
    assert leaked == {}, f"rates recoverable from the published file: {leaked}"
    # no column a pseudonym could hide in, no pseudonym, id, name or e-mail in any text
    columns = {r[0] for r in pub.execute("select column_name from information_schema.columns").fetchall()}
    assert not {"employee_key", "employee_id", "hours", "hourly_rate"} & columns
    # pricing/consumed quantity is published for cloud and invoice lines (FOCUS export); a time
    # line's quantity is its hours, so no people row carries one
    assert (
        pub.execute(
            "select count(*) from marts.cost_line_items where source_system = 'timesheet' "
            "and (pricing_quantity is not null or consumed_quantity is not null)"
        ).fetchone()[0]
        == 0
    )
    keys = [k for (k,) in work.execute("select employee_key from raw.employee_keys").fetchall()]
    blob = "\n".join(texts)
    for secret in [*keys, *EMAILS, "Person E"]:
        assert secret not in blob, secret
    assert not re.search(r"\b(E\d\d|A[123])\b", blob)
    # nobody's pay in a month, on a leaf or on a model's leaf, is a published figure
    for grain in ("month", "month, leaf", "month, leaf, model_id"):
        pay = work.execute(
            f"select sum(cost) from core.people_cost_lines group by employee_key, {grain}"
        ).fetchall()
        assert not {p for (p,) in pay} & figures, grain


def test_every_published_people_row_holds_at_least_three_people(work, pub):
    sizes = dict(
        work.execute(
            "select 'people/' || c.row_id, count(distinct l.employee_key) from core.people_cost_cells c "
            "join core.people_cost_lines l on l.g1 = c.cell_id group by 1"
        ).fetchall()
    )
    published = [
        r[0]
        for r in pub.execute(
            "select line_id from marts.cost_line_items where source_system = 'timesheet'"
        ).fetchall()
    ]
    assert sorted(published) == sorted(sizes)
    assert min(sizes.values()) >= 3
    # every level of the rule was needed by this company
    grains = {g for (g,) in pub.execute("select distinct people_grain from marts.cost_line_items").fetchall()}
    assert {"activity_team", "model", "leaf", "month"} <= grains
    # the conservation checks hold and nothing was published below the threshold
    failed = pub.execute(
        "select check_name, observed from audit.quality_results where not success"
    ).fetchall()
    assert failed == []


def test_totals_are_conserved_to_the_cent(work, pub):
    people = work.execute(
        "select month, sum(billed_cost), sum(effective_cost) from core.allocated_line_items "
        "where source_system = 'timesheet' group by 1 order by 1"
    ).fetchall()
    published = pub.execute(
        "select month, sum(billed_cost), sum(effective_cost) from marts.cost_line_items "
        "where source_system = 'timesheet' group by 1 order by 1"
    ).fetchall()
    assert published == people
    totals = pub.execute(
        "select month, sum(c_total) from marts.monthly_cost_rollup group by 1 order by 1"
    ).fetchall()
    assert totals == [(m, e) for m, _b, e in people]
    rec = pub.execute(
        "select month, source_file, input_cost, superseded_cost, leaves_cost, difference, rows_in_file "
        "from audit.reconciliation order by 1"
    ).fetchall()
    # time logs: one row a month for all their files, the cost in force, nothing superseded shown
    assert [(r[0], r[1], r[3]) for r in rec] == [(m, None, None) for m, _b, _e in people]
    assert [r[2] for r in rec] == [r[4] for r in rec] == [e for _m, _b, e in people]
    assert all(r[5] == 0 for r in rec)
    assert rec[-1][6] == 279 + 2  # October's export and the correction, counted together


def test_costledger_query_and_the_report_carry_no_rate_or_pseudonym(ledger, work, tmp_path):
    env = {"COSTLEDGER_PII_KEY": TEST_PII_KEY, "COSTLEDGER_CONFIG": str(DEMO_CONFIG), "PATH": "/usr/bin:/bin"}
    args = ["--warehouse", str(ledger.warehouse), "--landing", str(ledger.landing)]
    cli = (
        [str(REPO_ROOT / ".venv" / "bin" / "costledger")]
        if (REPO_ROOT / ".venv").exists()
        else [
            sys.executable,
            "-m",
            "pipeline.app.cli",
        ]
    )
    out = subprocess.run(
        [
            *cli,
            "query",
            "select * from marts.cost_line_items where source_system = 'timesheet'",
            "--format",
            "csv",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    rep = subprocess.run(
        [*cli, "report", "--month", "2026-10", "--out", str(tmp_path / "report"), *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    keys = [k for (k,) in work.execute("select employee_key from raw.employee_keys").fetchall()]
    bodies = [out, rep.stdout] + [
        p.read_bytes().decode("utf-8", errors="replace")
        for p in (tmp_path / "report").iterdir()
        if p.suffix in (".csv", ".txt", ".html", ".eml")
    ]
    assert len(bodies) >= 6
    rates = {format(r, "f") for r in company.RATES.values()} | {f"{r:,.2f}" for r in company.RATES.values()}
    for body in bodies:
        for secret in [*keys, *rates, *EMAILS, "Person E"]:
            assert secret not in body, secret
