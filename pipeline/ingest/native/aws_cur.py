"""AWS Cost and Usage Reports: CUR 2.0 (AWS Data Exports; Parquet or CSV.gz) and legacy CUR
("CUR 1", CSV.gz with `category/Name` headers), under landing/aws_cur/<export>/.

Columns are matched by name, case-insensitively; a legacy header (`lineItem/UnblendedCost`) is
matched to the CUR 2.0 name (`line_item_unblended_cost`), and its `resourceTags/...` and
`costCategory/...` columns are folded into the `resource_tags` and `cost_category` JSON objects
that CUR 2.0 ships as maps (`resourceTags/user:team` -> key `user_team`, as CUR 2.0 names it).
Every value is kept as text; CUR 2.0 Parquet amounts are doubles, kept as their shortest
round-trip text and turned into DECIMAL(38,10) once, per row, in sql/staging/stg_aws_cur.sql.

Deliveries (never appended: every delivery restates its billing period):
- CUR 2.0 `<export>/data/BILLING_PERIOD=YYYY-MM/*` + `<export>/metadata/BILLING_PERIOD=YYYY-MM/*Manifest.json`:
  a period loads only when every data file the newest manifest lists is present; files the
  newest manifest does not list are dropped (the FOCUS exports' rule, `pipeline.ingest.focus.plan`).
- legacy `<report>/<YYYYMMDD-YYYYMMDD>/<assemblyId>/<report>-N.csv.gz` + `<report>/<YYYYMMDD-YYYYMMDD>/<report>-Manifest.json`:
  the manifest's `assemblyId` names the current delivery of the period; it loads once every file
  of its `reportKeys` is present, and the files of every other assembly of the period are dropped.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from pipeline.ingest import focus
from pipeline.ingest.common import Column, _csv_header, q, read_table_file, read_table_parts
from pipeline.ingest.rules import rules_for
from pipeline.landing.walk import unsafe_name

RAW_TABLE = "raw.aws_cur_line_items"
FORMAT = "AWS CUR"

# (CUR 2.0 name, legacy CUR name, required)
_COLUMNS = (
    ("bill_payer_account_id", "bill/PayerAccountId", True),
    ("bill_billing_period_start_date", "bill/BillingPeriodStartDate", False),
    ("bill_billing_period_end_date", "bill/BillingPeriodEndDate", False),
    ("bill_bill_type", "bill/BillType", False),
    ("bill_billing_entity", "bill/BillingEntity", False),
    ("bill_invoice_id", "bill/InvoiceId", False),
    ("bill_invoicing_entity", "bill/InvoicingEntity", False),
    ("identity_line_item_id", "identity/LineItemId", False),
    ("line_item_usage_account_id", "lineItem/UsageAccountId", False),
    ("line_item_line_item_type", "lineItem/LineItemType", True),
    ("line_item_usage_start_date", "lineItem/UsageStartDate", True),
    ("line_item_usage_end_date", "lineItem/UsageEndDate", False),
    ("line_item_product_code", "lineItem/ProductCode", False),
    ("line_item_usage_type", "lineItem/UsageType", False),
    ("line_item_operation", "lineItem/Operation", False),
    ("line_item_availability_zone", "lineItem/AvailabilityZone", False),
    ("line_item_resource_id", "lineItem/ResourceId", False),
    ("line_item_usage_amount", "lineItem/UsageAmount", False),
    ("line_item_currency_code", "lineItem/CurrencyCode", True),
    ("line_item_unblended_cost", "lineItem/UnblendedCost", True),
    ("line_item_net_unblended_cost", "lineItem/NetUnblendedCost", False),
    ("line_item_line_item_description", "lineItem/LineItemDescription", False),
    ("line_item_tax_type", "lineItem/TaxType", False),
    ("line_item_legal_entity", "lineItem/LegalEntity", False),
    ("product_servicecode", "product/servicecode", False),
    ("product_sku", "product/sku", False),
    ("product_region_code", "product/regionCode", False),
    ("pricing_unit", "pricing/unit", False),
    ("pricing_term", "pricing/term", False),
    ("reservation_reservation_a_r_n", "reservation/ReservationARN", False),
    ("reservation_effective_cost", "reservation/EffectiveCost", False),
    (
        "reservation_unused_amortized_upfront_fee_for_billing_period",
        "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
        False,
    ),
    ("reservation_unused_recurring_fee", "reservation/UnusedRecurringFee", False),
    ("savings_plan_savings_plan_a_r_n", "savingsPlan/SavingsPlanARN", False),
    ("savings_plan_savings_plan_effective_cost", "savingsPlan/SavingsPlanEffectiveCost", False),
    ("savings_plan_total_commitment_to_date", "savingsPlan/TotalCommitmentToDate", False),
    ("savings_plan_used_commitment", "savingsPlan/UsedCommitment", False),
)
_TAG_COLUMNS = ("resource_tags", "cost_category")  # CUR 2.0 maps; legacy: folded from columns
COLUMNS = tuple(Column(n, required=r, aliases=(legacy,)) for n, legacy, r in _COLUMNS) + tuple(
    Column(c) for c in _TAG_COLUMNS
)
RAW_COLUMNS = tuple(c.name for c in COLUMNS) + ("cur_version",)

CHECKS = rules_for("aws_cur").rules
# legacy CUR has no map columns: their rules apply to CUR 2.0 files only
_LEGACY_CHECKS = tuple(r for r in CHECKS if r.field not in _TAG_COLUMNS)


def _legacy_tags(columns: list[str], prefix: str, key) -> str:
    """SQL: a JSON object of the non-empty legacy tag columns (`resourceTags/user:team`)."""
    if not columns:
        return "'{}'"
    entries = ", ".join(f"struct_pack(k := '{key(c)}', v := {q(c)})" for c in columns)
    return (
        f"coalesce(cast(to_json(map_from_entries(list_filter([{entries}], "
        "lambda x: nullif(trim(x.v), '') is not null))) as varchar), '{}')"
    )


def _tag_key(header: str) -> str:
    # resourceTags/user:team -> user_team (CUR 2.0's key); costCategory/ai-stage -> ai-stage
    name = header.split("/", 1)[1]
    return (name.replace(":", "_") if header.lower().startswith("resourcetags/") else name).replace("'", "")


def _options(extra: str) -> dict:
    """How a CUR file is read, alone (read) or with the other parts of its export folder."""
    return {
        "extra_select": extra,
        "header_check": _check_header,
        "cost": _COST,
        # exports run to millions of lines: straight into raw in one pass, no copy in between
        "into": RAW_TABLE,
    }


def read(con, settings, f, load_id):
    columns, checks, extra = _shape(f)
    return read_table_file(con, f, columns, FORMAT, load_id, checks, **_options(extra))


def read_parts(con, settings, files, load_ids):
    """The CSV parts of one export folder in one statement (pipeline.ingest.load_parts); parts
    whose headers differ are read one by one (read_table_parts raises NotOneRead)."""
    columns, checks, extra = _shape(files[0])
    return read_table_parts(con, files, load_ids, columns, FORMAT, checks, **_options(extra))


_COST = (
    "coalesce(nullif(trim(line_item_net_unblended_cost), ''), trim(line_item_unblended_cost))",
    q("line_item_currency_code"),
)


def _shape(f):
    """(columns, checks, extra select) of a file: CUR 2.0, or legacy CUR by its header."""
    columns, checks, version = COLUMNS, CHECKS, "'2.0'"
    extra = ""
    if f.path.name.lower().endswith((".csv", ".csv.gz")):
        header = _csv_header(f)
        if any("/" in h for h in header):
            version = "'legacy'"
            rt = [h for h in header if h.lower().startswith("resourcetags/")]
            cc = [h for h in header if h.lower().startswith("costcategory/")]
            columns = tuple(c for c in COLUMNS if c.name not in _TAG_COLUMNS) + tuple(
                Column(h) for h in rt + cc
            )
            checks = _LEGACY_CHECKS
            extra = (
                f", {_legacy_tags(rt, 'resourcetags/', _tag_key)} as resource_tags"
                f", {_legacy_tags(cc, 'costcategory/', _tag_key)} as cost_category"
            )
    return columns, checks, f"{extra}, {version} as cur_version"


def _check_header(cols: set[str]) -> str | None:
    if not ({"line_item_unblended_cost", "lineitem/unblendedcost"} & cols):
        return (
            "missing column line_item_unblended_cost (CUR 2.0) or lineItem/UnblendedCost (legacy CUR); "
            "FOCUS exports go under landing/focus/"
        )
    return None


# --- deliveries ---------------------------------------------------------------------------------

_LEGACY = re.compile(r"^(?P<period>.+/\d{8}-\d{8})/(?:(?P<assembly>[^/]+)/)?(?P<name>[^/]+)$")


def _legacy_manifest(settings, period: str):
    folder = settings.landing / period
    found = sorted(
        (
            p
            for p in folder.glob("*-Manifest.json")
            if p.is_file() and not p.is_symlink() and not unsafe_name(p.name)
        ),
        key=lambda p: (p.lstat().st_mtime, p.name),
    )
    return found[-1] if found else None


def plan(settings, files, booked=()):
    """CUR 2.0 periods as FOCUS exports in the same layout; legacy periods by their manifest's
    assemblyId. Returns (loadable files, {rel: why pending}, {rel: why dropped})."""
    legacy: dict[str, list] = {}
    rest = []
    for f in files:
        m = _LEGACY.match(f.rel)
        if m and "/data/" not in f"/{f.rel}" and _legacy_manifest(settings, m["period"]) is not None:
            legacy.setdefault(m["period"], []).append((m["assembly"], m["name"], f))
        else:
            rest.append(f)
    loadable, pending, dropped = focus.plan(settings, rest, booked)
    for period, members in legacy.items():
        path = _legacy_manifest(settings, period)
        manifest = focus._read_manifest(settings, path) or {}
        assembly = manifest.get("assemblyId")
        keys = manifest.get("reportKeys")
        if not isinstance(keys, list) or not keys:
            for _, _, f in members:
                pending[f.rel] = f"manifest {path.name} lists no reportKeys"
            continue
        # reportKeys are full S3 keys: <prefix>/<report>/<range>/<assemblyId>/<name>
        listed = {
            (
                PurePosixPath(k).parent.name if PurePosixPath(k).parent.name == assembly else None,
                PurePosixPath(k).name,
            )
            for k in keys
            if isinstance(k, str)
        }
        current = f"the current delivery {assembly}" if assembly else "the current delivery"
        present = {(a, n) for a, n, _ in members}
        absent = sorted(n for a, n in listed - present)
        for a, n, f in members:
            if (a, n) not in listed:
                dropped[f.rel] = f"not in {current} named by {path.name}"
            elif absent:
                pending[f.rel] = (
                    f"manifest {path.name} lists {len(absent)} file(s) not yet delivered, e.g. {absent[0]}"
                )
            else:
                loadable.append(f)
        for rel in booked:
            m = _LEGACY.match(rel)
            if m and m["period"] == period and (m["assembly"], m["name"]) not in listed:
                dropped.setdefault(rel, f"not in {current} named by {path.name}")
    return loadable, pending, dropped
