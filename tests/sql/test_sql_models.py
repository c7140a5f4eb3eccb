"""Each SQL model on tiny inline fixtures: raw rows in, the model's rows out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import duckdb
import pytest

from pipeline import ingest
from pipeline.config.settings import load_settings
from pipeline.config.tables import sync_config
from pipeline.db import SCHEMAS, SQL_DIR, run_sql_script
from pipeline.errors import MissingRateError
from pipeline.ingest.common import q
from pipeline.transform import build_views, run_transform

FOCUS_COLS = (
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ProviderName",
    "ServiceName",
    "ResourceId",
    "Tags",
)


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("set python_enable_replacements = false")
    c.execute("set TimeZone = 'UTC'")
    for s in SCHEMAS:
        c.execute(f"create schema {s}")
    run_sql_script(c, SQL_DIR / "audit" / "create_audit_tables.sql")
    ingest.ensure_raw_tables(c)
    sync_config(c, settings())
    yield c
    c.close()


SETTINGS = None


def settings():
    global SETTINGS
    SETTINGS = SETTINGS or load_settings()
    return SETTINGS


def insert(con, table: str, rows: list[dict], file: str = "f.csv") -> None:
    for i, row in enumerate(rows, start=2):
        cols = [*row, "load_id", "source_file", "source_row", "file_sha256"]
        vals = [*row.values(), 1, file, i, "sha"]
        con.execute(
            f"insert into {table} ({', '.join(q(c) for c in cols)}) values ({', '.join('?' for _ in cols)})",
            vals,
        )


def focus_row(cost, start="2026-09-10T00:00:00Z", ccy="CNY", tags="{}", service="EC2", resource="r1"):
    return dict(
        zip(
            FOCUS_COLS,
            [cost, cost, ccy, start, "2026-09-11T00:00:00Z", "Usage", "AWS", service, resource, tags],
            strict=True,
        )
    )


def rows(con, sql, params=None):
    return con.execute(sql, params or []).fetchall()


def test_stg_invoices_prorates_by_days_and_parts_sum_exactly(con):
    insert(
        con,
        "raw.invoice_lines",
        [
            dict(
                vendor="annotate-pro",
                invoice_number="I1",
                invoice_date="2026-03-31",
                line_number="1",
                service_period_start="2026-01-15",
                service_period_end="2026-03-14",
                amount="100.00",
                currency="CNY",
            )
        ],
    )
    build_views(con)
    parts = rows(
        con, "select strftime(month, '%Y-%m'), billed_cost_original from staging.stg_invoices order by month"
    )
    # 59 days: 17 in January, 28 in February, 14 in March; the remainder goes to March
    assert parts == [
        ("2026-01", D("28.8135593220")),
        ("2026-02", D("47.4576271186")),
        ("2026-03", D("23.7288135594")),
    ]
    assert sum(p[1] for p in parts) == D("100.00")


def test_stg_invoices_revisions_and_credit_notes(con):
    base = dict(
        vendor="annotate-pro",
        invoice_number="I1",
        invoice_date="2026-03-31",
        line_number="1",
        service_period_start="2026-03-01",
        service_period_end="2026-03-31",
        currency="CNY",
    )
    insert(con, "raw.invoice_lines", [{**base, "revision": "1", "amount": "100"}], file="a.csv")
    insert(con, "raw.invoice_lines", [{**base, "revision": "2", "amount": "90"}], file="b.csv")
    insert(
        con,
        "raw.invoice_lines",
        [{**base, "invoice_number": "C1", "document_type": "credit_note", "amount": "15"}],
        file="c.csv",
    )
    build_views(con)
    got = rows(
        con,
        "select source_file, billed_cost_original, is_superseded, charge_category from staging.stg_invoices order by 1",
    )
    assert got == [
        ("a.csv", D("100"), True, "Usage"),
        ("b.csv", D("90"), False, "Usage"),
        ("c.csv", D("-15"), False, "Credit"),
    ]


def test_stg_timesheets_prices_at_the_rate_in_force(con):
    insert(
        con,
        "raw.hr_rates",
        [
            dict(role="ml_engineer", effective_from="2026-01-01", hourly_rate="300", currency="CNY"),
            dict(role="ml_engineer", effective_from="2026-09-15", hourly_rate="320", currency="CNY"),
            dict(employee_id="E9", effective_from="2026-09-01", hourly_rate="500", currency="CNY"),
        ],
    )
    con.execute("insert into raw.employee_keys values ('E1', 'k1'), ('E9', 'k9')")
    insert(
        con,
        "raw.timesheet_entries",
        [
            dict(
                employee_id="E1",
                role="ml_engineer",
                work_date="2026-09-14",
                hours="2",
                activity="fine_tuning",
            ),
            dict(
                employee_id="E1",
                role="ml_engineer",
                work_date="2026-09-15",
                hours="2",
                activity="fine_tuning",
            ),
            dict(employee_id="E9", role="ml_engineer", work_date="2026-09-15", hours="1", activity="on_call"),
        ],
    )
    build_views(con)
    got = rows(
        con,
        "select employee_key, billed_cost_original, leaf_hint from staging.stg_timesheets order by source_row",
    )
    assert got == [
        ("k1", D("600"), "tuning_time"),
        ("k1", D("640"), "tuning_time"),
        ("k9", D("500"), "maintenance_time"),
    ]


def test_stg_timesheets_newer_export_supersedes_the_same_days(con):
    con.execute("insert into raw.employee_keys values ('E1', 'k1')")
    day = dict(employee_id="E1", role="r", work_date="2026-09-14", hours="2", activity="fine_tuning")
    insert(con, "raw.timesheet_entries", [{**day, "exported_at": "2026-10-01T00:00:00Z"}], file="old.csv")
    insert(
        con,
        "raw.timesheet_entries",
        [
            {**day, "hours": "3", "exported_at": "2026-10-02T00:00:00Z"},
            {**day, "work_date": "2026-09-15", "exported_at": "2026-10-02T00:00:00Z"},
        ],
        file="new.csv",
    )
    build_views(con)
    got = rows(
        con,
        "select source_file, cast(work_day as varchar), is_superseded from (select *, cast(charge_period_start as date) as work_day from staging.stg_timesheets) order by 1, 2",
    )
    assert got == [
        ("new.csv", "2026-09-14", False),
        ("new.csv", "2026-09-15", False),
        ("old.csv", "2026-09-14", True),
    ]


def test_stg_fx_rates_adds_the_inverse_pair(con):
    insert(
        con, "raw.fx_rates", [dict(rate_date="2026-09-01", from_currency="USD", to_currency="CNY", rate="8")]
    )
    build_views(con)
    got = rows(
        con,
        "select from_currency, to_currency, rate, is_inverse from staging.stg_fx_rates order by is_inverse",
    )
    assert got == [("USD", "CNY", D("8"), False), ("CNY", "USD", D("0.125"), True)]


def test_conversion_uses_the_latest_rate_on_or_before_the_charge(con):
    insert(
        con,
        "raw.fx_rates",
        [
            dict(rate_date="2026-09-01", from_currency="USD", to_currency="CNY", rate="7"),
            dict(rate_date="2026-09-10", from_currency="USD", to_currency="CNY", rate="7.5"),
        ],
    )
    insert(
        con,
        "raw.focus_line_items",
        [focus_row("10", "2026-09-09T23:00:00Z", "USD"), focus_row("10", "2026-09-10T00:00:00Z", "USD")],
    )
    run_transform(con, settings())
    assert rows(con, "select fx_rate, effective_cost from core.line_items order by source_row") == [
        (D("7"), D("70")),
        (D("7.5"), D("75")),
    ]


def test_all_four_amounts_convert_exactly_at_rate_1_and_at_any_other_rate(con):
    """A line in the reporting currency keeps its amounts to the last of ten decimals (rate 1 is
    not multiplied out); a line in another currency gets amount x rate rounded to ten decimals."""
    from decimal import ROUND_HALF_UP

    insert(
        con,
        "raw.fx_rates",
        [dict(rate_date="2026-09-01", from_currency="USD", to_currency="CNY", rate="7.123456789")],
    )
    amounts = {"ListCost": "-0.0000000001", "ContractedCost": "99999999.9999999999"}
    insert(
        con,
        "raw.focus_line_items",
        [
            {**focus_row("123456789.1234567891", ccy="CNY"), **amounts},
            {**focus_row("1.2345678901", ccy="USD"), **amounts},
        ],
    )
    run_transform(con, settings())
    got = rows(
        con,
        "select fx_rate, billed_cost, effective_cost, list_cost, contracted_cost from core.line_items "
        "order by source_row",
    )

    def conv(x, rate):
        return (D(x) * D(rate)).quantize(D("1e-10"), rounding=ROUND_HALF_UP)

    assert got == [
        (
            D("1"),
            D("123456789.1234567891"),
            D("123456789.1234567891"),
            D("-0.0000000001"),
            D("99999999.9999999999"),
        ),
        (
            D("7.123456789"),
            conv("1.2345678901", "7.123456789"),
            conv("1.2345678901", "7.123456789"),
            conv("-0.0000000001", "7.123456789"),
            conv("99999999.9999999999", "7.123456789"),
        ),
    ]


def test_a_missing_rate_is_a_named_error(con):
    insert(con, "raw.focus_line_items", [focus_row("10", ccy="JPY")])
    with pytest.raises(
        MissingRateError, match="no FX rate from JPY to CNY for charges 2026-09-10 .. 2026-09-10"
    ):
        run_transform(con, settings())


def test_rules_first_match_wins_and_values_come_from_tags(con):
    insert(
        con,
        "raw.focus_line_items",
        [
            focus_row(
                "10", tags='{"cl-model": "PRJ-ADS-CTR", "cl-leaf": "C_Hardware"}'
            ),  # alias + symbol-style leaf
            focus_row(
                "20", tags='{"cl-model": "reco-llm", "cl-leaf": "hardware", "cl-workload": "webshop"}'
            ),  # rule 1 first
            focus_row(
                "30", tags='{"user:cl-model": "reco-llm", "user:cl-leaf": "software"}'
            ),  # AWS user: prefix
            focus_row("40", tags='{"cl-model": "gpt-17", "cl-leaf": "hardware"}'),
            focus_row("50", tags='{"cl-model": "reco-llm", "cl-leaf": "gpu"}'),
            focus_row("60", tags="{}"),
        ],
    )
    run_transform(con, settings())
    got = rows(
        con,
        "select billed_cost, leaf, model_id, rule_id, unallocated_reason from core.allocated_line_items order by source_row",
    )
    assert got == [
        (D("10"), "hardware", "ads-ctr-dcn", "tagged-cloud-resources", None),
        (D("20"), "out_of_scope", None, "webshop-out-of-scope", None),
        (D("30"), "software", "reco-llm", "tagged-cloud-resources", None),
        (
            D("40"),
            "unallocated",
            None,
            "tagged-cloud-resources",
            "rule tagged-cloud-resources: model 'gpt-17' is not in models.yaml",
        ),
        (
            D("50"),
            "unallocated",
            None,
            "tagged-cloud-resources",
            "rule tagged-cloud-resources: 'gpu' is not a leaf",
        ),
        (D("60"), "unallocated", None, None, "no rule matched"),
    ]


def test_even_split_shares_sum_exactly(con):
    insert(con, "raw.focus_line_items", [focus_row("100.00", service="AWS Support (Business)")])
    run_transform(con, settings())
    shares = rows(con, "select model_id, billed_cost from core.allocated_line_items order by model_id")
    assert len(shares) == 5
    assert sum(s[1] for s in shares) == D("100.00")
    assert {s[1] for s in shares} == {D("20")}
    insert(con, "raw.focus_line_items", [focus_row("1.00", service="AWS Support (Developer)")], file="g.csv")
    run_transform(con, settings())
    cents = rows(
        con, "select billed_cost from core.allocated_line_items where source_file = 'g.csv' order by model_id"
    )
    assert sum(c[0] for c in cents) == D("1.00") and len({c[0] for c in cents}) == 1  # 0.2 each: exact
    assert all(c[0].as_tuple().exponent >= -10 for c in cents)


def test_cost_proportional_split_follows_allocated_cost(con):
    insert(
        con,
        "raw.focus_line_items",
        [
            focus_row("300", tags='{"cl-model": "reco-llm", "cl-leaf": "hardware"}', resource="a"),
            focus_row("100", tags='{"cl-model": "ads-ctr-dcn", "cl-leaf": "hardware"}', resource="b"),
            focus_row("10", tags='{"cl-pool": "shared-serving"}', resource="lb"),
        ],
    )
    run_transform(con, settings())
    got = dict(
        rows(
            con,
            "select model_id, billed_cost from core.allocated_line_items where rule_id = 'shared-serving-network'",
        )
    )
    assert got == {"reco-llm": D("7.5"), "ads-ctr-dcn": D("2.5")}


def test_metric_split_without_metrics_stays_unallocated_visibly(con):
    insert(con, "raw.focus_line_items", [focus_row("10", tags='{"cl-pool": "shared-gpu"}')])
    run_transform(con, settings())
    got = rows(con, "select leaf, billed_cost, unallocated_reason from core.allocated_line_items")
    assert got == [
        ("unallocated", D("10"), "rule shared-gpu-pool: split by metric gpu_hours has no weights for 2026-09")
    ]


def test_marts_every_month_has_all_nine_leaves_and_stages_add_up(con):
    insert(
        con, "raw.focus_line_items", [focus_row("10", tags='{"cl-model": "reco-llm", "cl-leaf": "training"}')]
    )
    run_transform(con, settings())
    leaves = rows(con, "select leaf, cost from marts.monthly_leaf_cost order by leaf")
    assert len(leaves) == 9 and dict(leaves)["training"] == D("10") and dict(leaves)["data"] == 0
    roll = rows(con, "select c_pretrain, c_total from marts.monthly_cost_rollup where model_id = 'reco-llm'")
    assert roll == [(D("10"), D("10"))]


def test_a_month_range_replaces_only_its_partition(con):
    insert(
        con,
        "raw.focus_line_items",
        [focus_row("10", "2026-08-05T00:00:00Z"), focus_row("20", "2026-09-05T00:00:00Z")],
    )
    run_transform(con, settings())
    con.execute("update raw.focus_line_items set BilledCost = '99', EffectiveCost = '99'")
    run_transform(con, settings(), month_from=date(2026, 9, 1), month_to=date(2026, 9, 1))
    got = rows(con, "select strftime(month, '%Y-%m'), billed_cost from core.line_items order by 1")
    assert got == [("2026-08", D("10")), ("2026-09", D("99"))]


def test_a_currency_without_a_pair_converts_through_the_pivot_and_records_the_path(con):
    """A EUR charge in a CNY ledger with only EUR->USD and USD->CNY rates (costledger.yaml
    fx.pivots: [USD]): the rate is the product of the legs in force on the day."""
    import dataclasses

    s = dataclasses.replace(settings(), fx_pivots=("USD",))
    sync_config(con, s)
    insert(
        con,
        "raw.fx_rates",
        [
            dict(rate_date="2026-09-01", from_currency="EUR", to_currency="USD", rate="1.1"),
            dict(rate_date="2026-09-05", from_currency="USD", to_currency="CNY", rate="7.2"),
            dict(rate_date="2026-09-12", from_currency="EUR", to_currency="USD", rate="1.2"),
            dict(rate_date="2026-09-01", from_currency="JPY", to_currency="CNY", rate="0.05"),
        ],
    )
    insert(
        con,
        "raw.focus_line_items",
        [
            focus_row("10", "2026-09-10T00:00:00Z", "EUR"),
            focus_row("10", "2026-09-12T00:00:00Z", "EUR"),
            focus_row("1000", "2026-09-12T00:00:00Z", "JPY"),
            focus_row("3", "2026-09-12T00:00:00Z", "USD"),
        ],
    )
    run_transform(con, s)
    assert rows(
        con,
        "select billing_currency, fx_rate, fx_path, effective_cost from core.line_items order by source_row",
    ) == [
        ("EUR", D("1.1") * D("7.2"), "EUR>USD>CNY", D("10") * D("1.1") * D("7.2")),
        ("EUR", D("1.2") * D("7.2"), "EUR>USD>CNY", D("10") * D("1.2") * D("7.2")),
        ("JPY", D("0.05"), "JPY>CNY", D("50")),  # a pair of its own wins over the pivot
        ("USD", D("7.2"), "USD>CNY", D("21.6")),
    ]


def test_a_currency_with_no_path_names_the_pairs_tried(con):
    import dataclasses

    s = dataclasses.replace(settings(), fx_pivots=("USD",))
    sync_config(con, s)
    insert(
        con, "raw.fx_rates", [dict(rate_date="2026-09-01", from_currency="USD", to_currency="CNY", rate="7")]
    )
    insert(con, "raw.focus_line_items", [focus_row("10", ccy="EUR")])
    with pytest.raises(
        MissingRateError, match="tried EUR→CNY, CNY→EUR, EUR→USD \\+ USD→CNY; add EUR,CNY rates"
    ):
        run_transform(con, s)


def test_loaded_labour_cost_is_the_sum_of_its_components(con):
    """hr_loadings/: a percentage of the rate (everyone 20 %, annotators 10 %), an amount per hour
    (E1's benefits) and an amount per person-month (overhead 1,000 CNY, spread by hours, the
    remainder on the person's last entry). Expected figures worked by hand."""
    insert(
        con,
        "raw.hr_rates",
        [
            dict(employee_id="E1", effective_from="2026-01-01", hourly_rate="100", currency="CNY"),
            dict(role="annotator", effective_from="2026-01-01", hourly_rate="50", currency="CNY"),
            dict(employee_id="E3", effective_from="2026-01-01", hourly_rate="10", currency="CNY"),
        ],
    )
    loading = dict(employee_id=None, role=None, effective_from="2026-01-01", currency=None)
    insert(
        con,
        "raw.hr_loadings",
        [
            {**loading, "component": "social_insurance", "basis": "percent", "value": "20"},
            {
                **loading,
                "role": "annotator",
                "component": "social_insurance",
                "basis": "percent",
                "value": "10",
            },
            {
                **loading,
                "employee_id": "E1",
                "component": "benefits",
                "basis": "per_hour",
                "value": "5",
                "currency": "CNY",
            },
            {**loading, "component": "overhead", "basis": "per_month", "value": "1000", "currency": "CNY"},
            # later than the month's first day: not in force for September's per-month amount
            {
                **loading,
                "effective_from": "2026-09-02",
                "component": "overhead",
                "basis": "per_month",
                "value": "9999",
                "currency": "CNY",
            },
        ],
        file="hr_loadings/l.csv",
    )
    con.execute("insert into raw.employee_keys values ('E1', 'k1'), ('E2', 'k2'), ('E3', 'k3')")
    entry = dict(activity="fine_tuning")
    insert(
        con,
        "raw.timesheet_entries",
        [
            {**entry, "employee_id": "E1", "role": "ml_engineer", "work_date": "2026-09-02", "hours": "8"},
            {**entry, "employee_id": "E1", "role": "ml_engineer", "work_date": "2026-09-03", "hours": "2"},
            {**entry, "employee_id": "E2", "role": "annotator", "work_date": "2026-09-02", "hours": "3"},
            {**entry, "employee_id": "E3", "role": "x", "work_date": "2026-09-01", "hours": "3"},
            {**entry, "employee_id": "E3", "role": "x", "work_date": "2026-09-02", "hours": "3"},
            {**entry, "employee_id": "E3", "role": "x", "work_date": "2026-09-03", "hours": "1"},
        ],
    )
    build_views(con)
    got = rows(con, "select source_row, billed_cost_original from staging.stg_timesheets order by source_row")
    third = D("428.5714285714")  # 1000 x 3 / 7, rounded down at 10 places
    assert got == [
        (2, D("800") + D("160") + D("40") + D("800")),
        (3, D("200") + D("40") + D("10") + D("200")),
        (4, D("150") + D("15") + D("1000")),
        (5, D("30") + D("6") + third),
        (6, D("30") + D("6") + third),
        (7, D("10") + D("2") + (D("1000") - 2 * third)),
    ]
    components = rows(
        con,
        "select component, sum(amount_original) from staging.stg_time_cost_components group by 1 order by 1",
    )
    assert components == [
        ("base", D("1220")),
        ("benefits", D("50")),
        ("overhead", D("3000")),  # exactly 1,000 for each of the three people
        ("social_insurance", D("160") + D("40") + D("15") + D("6") + D("6") + D("2")),
    ]
    # the components carry the pseudonym, never the employee id
    assert "employee_id" not in {r[0] for r in rows(con, "describe staging.stg_time_cost_components")}
