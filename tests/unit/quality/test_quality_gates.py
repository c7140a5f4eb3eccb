"""Quality gates on a tiny warehouse: every critical check trips on a fixture and passes on the
healthy one; warnings are recorded without blocking; people data never reaches a result.

The warehouse is tests/fixtures/quality/healthy.sql; each case breaks one thing with SQL.
"""

from __future__ import annotations

import dataclasses
import re

import duckdb
import pytest

from pipeline.config.settings import DEMO_CONFIG, load_settings
from pipeline.config.tables import sync_config
from pipeline.errors import QualityGateError
from tests.conftest import REPO
from tests.fixtures.contract_tables import create_contract_tables

HEALTHY_SQL = (REPO / "tests" / "fixtures" / "quality" / "healthy.sql").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def settings():
    return load_settings(config=DEMO_CONFIG)


@pytest.fixture(scope="module")
def gate():
    """run_gate with GX imported once for the module (the import costs seconds)."""
    import great_expectations  # noqa: F401

    from pipeline.quality import run_gate

    return run_gate


@pytest.fixture()
def con(settings):
    c = duckdb.connect()
    c.execute("set TimeZone = 'UTC'")
    create_contract_tables(c)
    c.execute(HEALTHY_SQL)
    sync_config(c, settings)  # the config.* tables the input rules join to (vendors, currencies, ...)
    yield c
    c.close()


def results(con, stage=None):
    sql = "select table_name, check_name, severity, success, observed from audit.quality_results"
    rows = con.execute(sql + (" where stage = ?" if stage else ""), [stage] if stage else []).fetchall()
    return [
        dict(zip(("table_name", "check_name", "severity", "success", "observed"), r, strict=True))
        for r in rows
    ]


def test_healthy_warehouse_passes_both_gates_and_records_every_check(con, settings, gate):
    raw = gate(con, settings, "run-1", "raw")
    marts = gate(con, settings, "run-1", "marts")
    assert all(r["success"] for r in raw + marts), [r for r in raw + marts if not r["success"]]
    recorded = results(con)
    assert len(recorded) == len(raw) + len(marts)
    names = {r["check_name"] for r in recorded}
    # GX expectation types, the contracts' generic tests and SQL file names
    assert {
        "not_null",
        "unique",
        "accepted_values",
        "relationships",
        "sum_equals",
        "expect_column_values_to_be_in_set",
        "expect_table_columns_to_match_set",
        "expect_column_pair_values_to_be_equal",
        "assert_cost_conserved_per_file_month.sql",
        "assert_no_duplicate_lines.sql",
    } <= names
    tables = {r["table_name"] for r in recorded}
    assert {
        "raw.focus_line_items",
        "raw.invoice_lines",
        "raw.timesheet_entries",
        "raw.hr_rates",
        "raw.fx_rates",
        "raw.budgets",
        "staging.stg_focus",
        "core.line_items",
        "core.allocated_line_items",
        "marts.monthly_cost_rollup",
        "marts.monthly_leaf_cost",
        "audit.reconciliation",
    } <= tables
    assert {r["severity"] for r in recorded} == {"critical", "warning"}


def test_rerun_of_a_gate_replaces_its_rows(con, settings, gate):
    gate(con, settings, "run-1", "marts")
    n = len(results(con))
    gate(con, settings, "run-1", "marts")
    assert len(results(con)) == n


# (id, stage, SQL that breaks the healthy warehouse, substrings the one-line message must hold)
CRITICAL_CASES = [
    # FX: a currency with no rate to the reporting currency, named with its dates
    (
        "fx_no_rate",
        "raw",
        "update staging.stg_focus set billing_currency = 'JPY' where source_row = 2",
        [
            "expect_column_values_to_be_in_set on staging.stg_focus.billing_currency",
            "no FX rate to CNY for currency 'JPY' (2026-05-03 .. 2026-05-03",
            "focus/aws/2026-05.csv",
        ],
    ),
    (
        "fx_rate_starts_too_late",
        "raw",
        "update staging.stg_fx_rates set rate_date = date '2026-05-05' where from_currency = 'USD'",
        [
            "expect_column_pair_values_a_to_be_greater_than_b on staging.stg_focus.billing_currency",
            "no FX rate to CNY for currency 'USD' before 2026-05-05 (2026-05-03 .. 2026-05-03",
        ],
    ),
    (
        "fx_no_rate_before_staging_exists",
        "raw",
        "drop table staging.stg_focus; drop table staging.stg_invoices; drop table staging.stg_timesheets; "
        "drop table staging.stg_fx_rates; update raw.invoice_lines set currency = 'EUR'; "
        "delete from raw.fx_rates where from_currency = 'EUR'",
        ["on raw.invoice_lines.currency", "no FX rate to CNY for currency 'EUR' (2026-05-01 .. 2026-05-01"],
    ),
    (
        "fx_inverse_pair_missing",
        "raw",
        "update staging.stg_invoices set billing_currency = 'GBP'",
        ["staging.stg_invoices.billing_currency", "currency 'GBP'"],
    ),
    # FOCUS allowed values
    (
        "focus_charge_category",
        "raw",
        "update raw.focus_line_items set ChargeCategory = 'Refund' where source_row = 3",
        [
            "expect_column_values_to_be_between on raw.focus_line_items.ChargeCategory",
            "ChargeCategory: missing or not Adjustment, Credit, Purchase, Tax or Usage: 1 rows in focus/aws/2026-05.csv, e.g. 'Refund'",
        ],
    ),
    (
        "focus_charge_class",
        "raw",
        "update raw.focus_line_items set ChargeClass = 'Regular' where source_row = 2",
        [
            "on raw.focus_line_items.ChargeClass",
            "ChargeClass: not Correction",
            "e.g. 'Regular'",
        ],
    ),
    (
        "focus_currency_not_iso",
        "raw",
        "update raw.focus_line_items set BillingCurrency = 'XBT' where source_row = 2",
        [
            "on raw.focus_line_items.BillingCurrency",
            "not an ISO-4217 currency code",
            "e.g. 'XBT'",
        ],
    ),
    # keys, types, uniqueness (duplicate lines)
    (
        "focus_duplicate_line",
        "raw",
        "insert into raw.focus_line_items select * from raw.focus_line_items where source_row = 2",
        [
            "expect_column_pair_values_to_be_equal on raw.focus_line_items.source_row",
            "1 duplicate (source_file, source_row) lines in focus/aws/2026-05.csv",
        ],
    ),
    (
        "focus_null_key",
        "raw",
        "update raw.focus_line_items set ChargePeriodStart = null where source_row = 3",
        [
            "raw.focus_line_items.ChargePeriodStart",
            "ChargePeriodStart: missing or not an ISO 8601 timestamp: 1 rows in focus/aws/2026-05.csv",
        ],
    ),
    (
        "focus_money_unparsable",
        "raw",
        "update raw.focus_line_items set BilledCost = '12,50' where source_row = 2",
        [
            "raw.focus_line_items.BilledCost",
            "BilledCost: missing or not a number: 1 rows",
            "e.g. '12,50'",
        ],
    ),
    (
        "focus_period_unparsable",
        "raw",
        "update raw.focus_line_items set ChargePeriodEnd = 'next tuesday' where source_row = 2",
        [
            "raw.focus_line_items.ChargePeriodEnd",
            "not an ISO 8601 timestamp",
            "e.g. 'next tuesday'",
        ],
    ),
    (
        "focus_period_reversed",
        "raw",
        "update raw.focus_line_items set ChargePeriodEnd = '2026-05-01T00:00:00Z' where source_row = 2",
        [
            "raw.focus_line_items.ChargePeriodEnd",
            "ChargePeriodEnd: ends before ChargePeriodStart",
        ],
    ),
    (
        "focus_required_column_missing",
        "raw",
        "alter table raw.focus_line_items drop column EffectiveCost",
        ["expect_table_columns_to_match_set on raw.focus_line_items", "missing column(s) EffectiveCost"],
    ),
    (
        "invoice_duplicate_line",
        "raw",
        "insert into raw.invoice_lines select * from raw.invoice_lines",
        [
            "raw.invoice_lines.source_row",
            "duplicate (source_file, source_row) lines in invoices/labelco/inv7.csv",
        ],
    ),
    (
        "invoice_null_key",
        "raw",
        "update raw.invoice_lines set invoice_number = ''",
        [
            "raw.invoice_lines.invoice_number",
            "invoice_number: missing",
        ],
    ),
    (
        "invoice_amount_unparsable",
        "raw",
        "update raw.invoice_lines set amount = 'seven hundred'",
        [
            "raw.invoice_lines.amount",
            "amount: missing or not a number",
            "e.g. 'seven hundred'",
        ],
    ),
    (
        "invoice_date_unparsable",
        "raw",
        "update raw.invoice_lines set invoice_date = '31/05/2026'",
        [
            "raw.invoice_lines.invoice_date",
            "not a date (YYYY-MM-DD)",
            "e.g. '31/05/2026'",
        ],
    ),
    (
        "invoice_period_reversed",
        "raw",
        "update raw.invoice_lines set service_period_end = '2026-04-30'",
        [
            "raw.invoice_lines.service_period_end",
            "service_period_end: ends before service_period_start",
        ],
    ),
    (
        "invoice_currency_not_iso",
        "raw",
        "update raw.invoice_lines set currency = 'RMB'",
        [
            "raw.invoice_lines.currency",
            "not an ISO-4217 currency code",
            "e.g. 'RMB'",
        ],
    ),
    (
        "timesheet_duplicate_line",
        "raw",
        "insert into raw.timesheet_entries select * from raw.timesheet_entries",
        [
            "raw.timesheet_entries.source_row",
            "duplicate (source_file, source_row) lines in timesheets/2026-05.csv",
        ],
    ),
    (
        "timesheet_hours_out_of_range",
        "raw",
        "update raw.timesheet_entries set hours = '25' where source_row = 2",
        [
            "raw.timesheet_entries.hours",
            "hours: outside (0, 24]: 1 rows in timesheets/2026-05.csv",
        ],
    ),
    (
        "timesheet_null_key",
        "raw",
        "update raw.timesheet_entries set employee_id = null",
        [
            "raw.timesheet_entries.employee_id",
            "employee_id: missing",
        ],
    ),
    (
        "timesheet_unparsable",
        "raw",
        "update raw.timesheet_entries set work_date = 'May 4th'",
        [
            "raw.timesheet_entries.work_date",
            "work_date: missing or not a date",
        ],
    ),
    (
        "hr_rate_not_positive",
        "raw",
        "update raw.hr_rates set hourly_rate = '-400.00' where source_row = 2",
        [
            "raw.hr_rates.hourly_rate",
            "hourly_rate: not above 0: 1 rows in hr_rates/rates.csv",
        ],
    ),
    (
        "hr_rate_no_subject",
        "raw",
        "update raw.hr_rates set employee_id = null",
        [
            "raw.hr_rates.employee_id",
            "one of employee_id/role must be filled",
        ],
    ),
    (
        "hr_rate_unparsable",
        "raw",
        "update raw.hr_rates set effective_from = 'soon'",
        [
            "raw.hr_rates.effective_from",
            "missing or not a date",
        ],
    ),
    (
        "hr_rate_currency_not_iso",
        "raw",
        "update raw.hr_rates set currency = 'YUAN'",
        [
            "raw.hr_rates.currency",
            "currency: missing or not an ISO-4217 currency code",
        ],
    ),
    (
        "hr_rate_duplicate_line",
        "raw",
        "insert into raw.hr_rates select * from raw.hr_rates",
        ["raw.hr_rates.source_row", "duplicate"],
    ),
    (
        "fx_rate_not_positive",
        "raw",
        "update raw.fx_rates set rate = '0' where from_currency = 'EUR'",
        [
            "raw.fx_rates.rate",
            "rate: not above 0",
        ],
    ),
    (
        "fx_rate_unparsable",
        "raw",
        "update raw.fx_rates set rate = 'n/a' where from_currency = 'EUR'",
        [
            "raw.fx_rates.rate",
            "rate: missing or not a number",
            "e.g. 'n/a'",
        ],
    ),
    (
        "fx_rate_null_key",
        "raw",
        "update raw.fx_rates set to_currency = null where from_currency = 'EUR'",
        [
            "raw.fx_rates.to_currency",
            "to_currency: missing",
        ],
    ),
    (
        "fx_rate_duplicate_line",
        "raw",
        "insert into raw.fx_rates select * from raw.fx_rates",
        ["raw.fx_rates.source_row", "duplicate"],
    ),
    (
        "fx_rate_currency_not_iso",
        "raw",
        "update raw.fx_rates set from_currency = 'EURO' where from_currency = 'EUR'",
        [
            "raw.fx_rates.from_currency",
            "e.g. 'EURO'",
        ],
    ),
    (
        "budget_currency_not_iso",
        "raw",
        "update raw.budgets set currency = 'Y'",
        [
            "raw.budgets.currency",
            "e.g. 'Y'",
        ],
    ),
    (
        "budget_duplicate_line",
        "raw",
        "insert into raw.budgets select * from raw.budgets",
        ["raw.budgets.source_row", "duplicate (source_file, source_row) lines in budgets/2026.csv"],
    ),
    (
        "raw_table_columns_missing",
        "raw",
        "alter table raw.fx_rates drop column rate",
        ["expect_table_columns_to_match_set on raw.fx_rates", "missing column(s) rate"],
    ),
    # core: leaves, models, money
    (
        "unknown_leaf",
        "marts",
        "update core.allocated_line_items set leaf = 'gpu' where source_row = 2 and source_file like 'focus%'",
        ["accepted_values on core.allocated_line_items.leaf", "not one of the accepted values: 'gpu'"],
    ),
    (
        "missing_leaf",
        "marts",
        "update core.allocated_line_items set leaf = null where source_row = 2 and source_file like 'focus%'",
        ["not_null on core.allocated_line_items.leaf", "1 rows with leaf NULL"],
    ),
    (
        "leaf_under_wrong_stage",
        "marts",
        "update core.allocated_line_items set stage = 'deploy' where leaf = 'training'",
        [
            "expect_column_pair_values_to_be_in_set on core.allocated_line_items.stage",
            "leaf 'training' booked under stage 'deploy'",
        ],
    ),
    (
        "unknown_model",
        "marts",
        "update core.allocated_line_items set model_id = 'ghost-model' where leaf = 'labeled'",
        [
            "relationships on core.allocated_line_items.model_id",
            "not found in config.models.model_id: 'ghost-model'",
        ],
    ),
    (
        "allocated_without_model",
        "marts",
        "update core.allocated_line_items set model_id = null where leaf = 'labeled'",
        [
            "not_null on core.allocated_line_items.model_id",
            "1 rows with model_id NULL (first: invoices/labelco/inv7.csv",
        ],
    ),
    (
        "allocated_money_null",
        "marts",
        "update core.allocated_line_items set effective_cost = null where leaf = 'labeled'",
        ["not_null on core.allocated_line_items.effective_cost", "1 rows with effective_cost NULL"],
    ),
    (
        "line_money_null",
        "marts",
        "update core.line_items set fx_rate = null where billing_currency = 'USD'",
        [
            "not_null on core.line_items.fx_rate",
            "3 rows with fx_rate NULL",
            "focus/aws/2026-05.csv 2026-05",
        ],
    ),
    # marts: stage = sum of leaves, total = sum of stages, all nine leaves, nothing NULL
    (
        "stage_not_sum_of_leaves",
        "marts",
        "update marts.monthly_cost_rollup set c_pretrain = c_pretrain + 1 where model_id = 'search-rerank-bert'",
        [
            "marts.monthly_cost_rollup.c_pretrain",
            "c_pretrain vs c_data + c_labeled + c_training differs by 1.00",
            "2026-05 model search-rerank-bert",
        ],
    ),
    (
        "total_not_sum_of_stages",
        "marts",
        "update marts.monthly_cost_rollup set c_total = c_total - 0.02 where model_id = 'reco-llm'",
        [
            "marts.monthly_cost_rollup.c_total",
            "c_total vs c_pretrain + c_tuning + c_deploy + c_maintenance + c_people_merged differs by -0.02",
            "2026-05 model reco-llm",
        ],
    ),
    (
        "rollup_amount_null",
        "marts",
        "update marts.monthly_cost_rollup set c_software = null where model_id = 'reco-llm'",
        [
            "not_null on marts.monthly_cost_rollup.c_software",
            "1 rows with c_software NULL (first: 2026-05 model reco-llm)",
        ],
    ),
    (
        "month_missing_a_leaf",
        "marts",
        "delete from marts.monthly_leaf_cost where leaf = 'software'",
        ["marts.monthly_leaf_cost.leaf", "month 2026-05 has no row for leaf software"],
    ),
    (
        "mart_table_missing",
        "marts",
        "drop table marts.monthly_leaf_cost",
        ["marts.monthly_leaf_cost", "does not exist"],
    ),
    # SQL invariants
    (
        "conservation_broken",
        "marts",
        "update audit.reconciliation set leaves_cost = leaves_cost - 0.01 where source_file = 'invoices/labelco/inv7.csv'",
        [
            "assert_cost_conserved_per_file_month.sql on audit.reconciliation",
            "1 offending rows",
            "source_file=invoices/labelco/inv7.csv",
            "input_cost=700, superseded_cost=0, leaves_cost=699.99",
        ],
    ),
    (
        "invoice_lines_off_its_printed_total",
        "marts",
        "update audit.reconciliation set invoice_number = 'INV-7', printed_total = 700, "
        "invoice_lines_booked = 690, printed_total_difference = -10 where source_file = 'invoices/labelco/inv7.csv'",
        [
            "assert_invoices_match_printed_total.sql on audit.reconciliation",
            "invoice_number=INV-7",
            "printed_total_difference=-10",
        ],
    ),
    (
        "rows_not_conserved",
        "marts",
        "update audit.reconciliation set rows_rejected = 1 where source_file = 'invoices/labelco/inv7.csv'",
        ["assert_cost_conserved_per_file_month.sql", "rows_rejected=1"],
    ),
    (
        "line_counted_twice",
        "marts",
        "insert into core.line_items select * from core.line_items where source_file like 'timesheets%'",
        [
            "assert_no_duplicate_lines.sql on core.line_items",
            "source_file=timesheets/2026-05.csv",
            "copies=2",
        ],
    ),
    (
        "split_shares_do_not_sum_to_line",
        "marts",
        "update core.allocated_line_items set effective_cost = 20 where model_id = 'reco-llm'",
        ["assert_allocated_shares_sum_to_line.sql on core.allocated_line_items", "source_row=3"],
    ),
    (
        "line_dropped_by_allocation",
        "marts",
        "delete from core.allocated_line_items where leaf = 'labeled'",
        ["assert_allocated_shares_sum_to_line.sql", "n_shares=0"],
    ),
    (
        # a second delivery (another export of the same account) carries a line of the same period
        # and day: the same charges would be counted twice
        "same_charges_in_two_deliveries",
        "marts",
        "update core.line_items set source_file = 'focus/aws-reexport/2026-05.csv' "
        "where source_file = 'focus/aws/2026-05.csv' and source_row = 4; "
        "update core.allocated_line_items set source_file = 'focus/aws-reexport/2026-05.csv' "
        "where source_file = 'focus/aws/2026-05.csv' and source_row = 4; "
        "insert into audit.files (source_file, status, delivery) "
        "values ('focus/aws-reexport/2026-05.csv', 'loaded', 'focus/aws-reexport/2026-05.csv')",
        [
            "assert_no_overlapping_deliveries.sql on core.line_items",
            "file=focus/aws-reexport/2026-05.csv, other_file=focus/aws/2026-05.csv",
            "billing_account_id=111122223333, billing_period=2026-05",
        ],
    ),
    (
        "leaf_mart_disagrees_with_lines",
        "marts",
        "update marts.monthly_leaf_cost set cost = cost + 1 where leaf = 'training'",
        ["assert_leaf_cost_matches_line_items.sql on marts.monthly_leaf_cost", "leaf=training"],
    ),
    # people cost (docs/privacy.md): published whole, and only in groups that pass the rule
    (
        "people_cost_not_published",
        "marts",
        "delete from core.people_cost_rows",
        [
            "assert_people_cost_matches_time_lines.sql on marts.cost_line_items",
            "leaf=tuning_time, published_minus_lines=-2400",
        ],
    ),
    (
        "people_row_of_two",
        "marts",
        "update core.people_cost_lines set employee_key = 'k-ada' where employee_key = 'k-cy'",
        [
            "assert_people_rows_publishable.sql on marts.cost_line_items",
            "line_id=people/2026-05/tuning_time/search-rerank-bert/search_ranking/fine_tuning/search",
            "problem=fewer than 3 people",
        ],
    ),
    (
        "people_row_one_rate_divides_the_others",
        "marts",
        "update core.people_cost_lines set rate_units = case employee_key when 'k-bo' then 8000000000000 "
        "when 'k-cy' then 12000000000000 else rate_units end",
        ["assert_people_rows_publishable.sql", "problem=one hourly rate divides all the others"],
    ),
    (
        "people_cell_never_assigned",
        "marts",
        "update core.people_cost_cells set pending = true, row_id = null",
        ["assert_people_rows_publishable.sql", "problem=never assigned to a published row"],
    ),
    # owned hardware: a month lost from a depreciation schedule
    (
        "asset_depreciation_not_exact",
        "marts",
        "delete from staging.stg_asset_months where month = date '2026-06-01'",
        [
            "assert_asset_depreciation_exact.sql on marts.asset_register",
            "asset_id=GPU-1",
            "depreciation=666.67",
        ],
    ),
]


GUARDED = (
    "raw.focus_line_items",
    "raw.invoice_lines",
    "raw.timesheet_entries",
    "raw.hr_rates",
    "raw.fx_rates",
    "raw.budgets",
    "staging.stg_focus",
    "staging.stg_invoices",
    "staging.stg_timesheets",
    "core.line_items",
    "core.allocated_line_items",
    "marts.monthly_cost_rollup",
    "marts.monthly_leaf_cost",
    "marts.cost_line_items",
    "audit.reconciliation",
    "marts.asset_register",
)


@pytest.mark.parametrize(
    "stage, breakage, expected", [c[1:] for c in CRITICAL_CASES], ids=[c[0] for c in CRITICAL_CASES]
)
def test_critical_check_stops_the_run_with_one_line_naming_it(con, settings, gate, stage, breakage, expected):
    con.execute(breakage)
    # Only the broken table's checks (GX costs ~30 ms per expectation); the full gates run above
    # and in the end-to-end tests.
    named = {t for t in GUARDED if any(t in e for e in expected)}
    if "staging.stg_focus" in named or "raw.invoice_lines.currency" in " ".join(expected):
        named |= {"staging.stg_focus", "staging.stg_invoices", "staging.stg_timesheets"}
    with pytest.raises(QualityGateError) as err:
        gate(con, settings, "run-x", stage, tables=named or None)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("quality gate failed: ")
    for part in expected:
        assert part in message, message
    # the failure is recorded too, as a failed critical check
    failed = [r for r in results(con, stage) if not r["success"]]
    assert failed and all(r["severity"] in ("critical", "warning") for r in failed)
    assert any(r["severity"] == "critical" for r in failed)


def test_unallocated_share_above_threshold_is_a_warning_that_does_not_block(con, settings, gate):
    con.execute("update marts.monthly_cost_rollup set c_unallocated = 1000 where model_id is null")
    low = dataclasses.replace(settings, unallocated_warning_share=0.10)
    out = gate(con, low, "run-w", "marts")  # no raise
    warn = [r for r in out if r["table_name"] == "marts.monthly_cost_rollup" and not r["success"]]
    assert len(warn) == 1 and warn[0]["severity"] == "warning"
    assert "unallocated is 23.8% of in-scope cost in 2026-05 (threshold 10%)" in warn[0]["observed"]
    # the same data under a higher threshold passes
    assert all(
        r["success"]
        for r in gate(con, dataclasses.replace(settings, unallocated_warning_share=0.3), "run-w", "marts")
    )


def test_focus_values_in_another_case_pass_raw_and_are_checked_in_staging_spelling(con, settings, gate):
    # Google's FOCUS BigQuery view writes 'usage' and 'correction'; staging restores 'Usage'
    con.execute(
        "update raw.focus_line_items set ChargeCategory = lower(ChargeCategory), ChargeClass = lower(ChargeClass)"
    )
    out = gate(con, settings, "run-c", "raw", tables={"raw.focus_line_items", "staging.stg_focus"})
    assert all(r["success"] for r in out)
    # a staging model that forgot to restore the spelling is caught before the rules run
    con.execute("update staging.stg_focus set charge_category = lower(charge_category)")
    with pytest.raises(QualityGateError) as err:
        gate(con, settings, "run-c", "raw", tables={"staging.stg_focus"})
    assert "on staging.stg_focus.charge_category: charge_category not as FOCUS spells it: 'credit'" in str(
        err.value
    )


def test_people_row_published_below_the_threshold_is_a_warning_naming_the_row(con, settings, gate):
    # what the top level of the rule flags when even all of a month's people time cannot pass
    con.execute("update core.people_cost_cells set below_threshold = true")
    out = gate(con, settings, "run-w", "marts", tables={"marts.cost_line_items"})
    failed = [r for r in out if not r["success"]]
    assert [(r["check_name"], r["severity"]) for r in failed] == [
        ("assert_people_rows_above_threshold.sql", "warning")
    ]
    assert "line_id=people/2026-05/tuning_time/" in failed[0]["observed"]


def test_check_results_show_no_cost_of_a_time_line_or_time_log_file(con, settings, gate):
    # a time line's cost is one person's rate times hours; a time-log file's, its people's pay
    con.execute("delete from core.allocated_line_items where source_system = 'timesheet' and source_row = 3")
    con.execute(
        "update audit.reconciliation set leaves_cost = leaves_cost - 960 where source_file = 'timesheets/2026-05.csv'"
    )
    with pytest.raises(QualityGateError):
        gate(con, settings, "run-p", "marts")
    observed = {r["check_name"]: r["observed"] for r in results(con) if not r["success"]}
    shares = observed["assert_allocated_shares_sum_to_line.sql"]
    assert "source_file=timesheets/2026-05.csv, source_row=3" in shares
    assert "line_effective_cost=None" in shares and "960" not in shares
    conserved = observed["assert_cost_conserved_per_file_month.sql"]
    assert "source_file=timesheets/2026-05.csv" in conserved and "input_cost=None" in conserved
    for amount in ("2400", "1440", "960"):
        assert amount not in conserved


def test_charge_outside_its_billing_period_is_a_warning(con, settings, gate):
    con.execute(
        "update raw.focus_line_items set BillingPeriodStart = '2026-05-05T00:00:00Z' where source_row = 2"
    )
    out = gate(con, settings, "run-w", "raw")
    failed = [r for r in out if not r["success"]]
    assert [r["severity"] for r in failed] == ["warning"]
    assert (
        "charge period outside its billing period: 1 rows in focus/aws/2026-05.csv" in failed[0]["observed"]
    )


PII = ("Ada Example", "ada@example.com", "E001", "400")


def test_people_data_never_reaches_results_or_messages(con, settings, gate):
    # break both people tables so their checks fail and explain themselves
    con.execute("update raw.timesheet_entries set hours = '30'")
    con.execute("update raw.hr_rates set hourly_rate = '-400'")
    with pytest.raises(QualityGateError) as err:
        gate(con, settings, "run-p", "raw")
    text = str(err.value) + "\n".join(
        " ".join(str(v) for v in r) for r in con.execute("select * from audit.quality_results").fetchall()
    )
    for secret in PII[:3]:
        assert secret not in text
    # the rate as a number of its own: timestamps and durations may hold the digits 400
    assert not re.search(r"(?<![\d.])-?400(?![\d.])", text)
    people = [r for r in results(con) if r["table_name"] in ("raw.timesheet_entries", "raw.hr_rates")]
    assert any(not r["success"] for r in people)


def test_people_tables_are_validated_with_boolean_only_results(con, settings, gate):
    from pipeline.quality import suites

    probes = suites.raw_input_rules("timesheets")(con, settings) + suites.raw_input_rules("hr_rates")(
        con, settings
    )
    assert probes and all(p.people for p in probes)
    # the frames GX sees hold counts per file, never a person's column
    for p in probes:
        assert not {"employee_name", "employee_email", "hourly_rate", "employee_id"} & set(
            p.frame.columns if p.name != "columns" else []
        )


def test_warm_up_imports_gx_in_the_background_once():
    import sys

    from pipeline import quality

    quality.warm_up()
    first = quality._warm_up
    quality.warm_up()
    assert quality._warm_up is first
    first.join(timeout=60)
    assert "great_expectations.expectations" in sys.modules
