"""Azure Cost Management cost details exports (CSV, CSV.gz) under landing/azure_cost/: Enterprise
Agreement (PascalCase header: `CostInBillingCurrency`, `Date` as MM/DD/YYYY, `Tags` as
`"key": "value"` pairs without braces) and Microsoft Customer Agreement (camelCase header,
`tags` as a JSON object), each as the actual-cost or the amortized-cost dataset.

Columns are matched by name, case-insensitively (MCA mixes camelCase with `ResourceId`,
`SubscriptionId`, ...); a UTF-8 byte-order mark is ignored. Which dataset a file holds comes from
its export run's `manifest.json` (`exportConfig.type`: ActualCost or AmortizedCost), else from a
folder named `...amortized...`; anything else is the actual cost. sql/staging/stg_azure_cost.sql
turns actual into billed cost and amortized into effective cost.

Deliveries: an export run is a folder `<export>/<YYYYMMDD-YYYYMMDD>/<run id>/` with its
`manifest.json`; the newest run of a date range (by `runInfo.submittedTime`) is loaded once every
blob it lists is there, and the files of older runs are dropped (`pipeline.ingest.focus.plan`),
so the same scope and month re-exported replaces the earlier rows.
"""

from __future__ import annotations

from pipeline.ingest import focus
from pipeline.ingest.common import Column, NotOneRead, lit, q, read_table_file, read_table_parts
from pipeline.ingest.rules import rules_for

RAW_TABLE = "raw.azure_cost_line_items"
FORMAT = "Azure cost details"

# (EA name, MCA spellings that differ beyond case, required)
_COLUMNS = (
    ("Date", (), True),
    ("CostInBillingCurrency", (), True),
    ("BillingCurrencyCode", ("billingCurrency", "BillingCurrency"), True),
    ("BillingAccountId", (), False),
    ("BillingAccountName", (), False),
    ("BillingProfileId", (), False),
    ("BillingProfileName", (), False),
    ("BillingPeriodStartDate", (), False),
    ("BillingPeriodEndDate", (), False),
    ("InvoiceId", (), False),
    ("SubscriptionId", (), False),
    ("SubscriptionName", (), False),
    ("ResourceGroup", ("resourceGroupName",), False),
    ("ResourceId", ("InstanceId",), False),
    ("ResourceName", (), False),
    ("ResourceLocation", (), False),
    ("MeterId", (), False),
    ("MeterCategory", (), False),
    ("MeterSubCategory", (), False),
    ("MeterName", (), False),
    ("ProductName", (), False),
    ("ConsumedService", (), False),
    ("ChargeType", (), False),
    ("PricingModel", (), False),
    ("Frequency", (), False),
    ("PublisherType", (), False),
    ("PublisherName", (), False),
    ("Quantity", (), False),
    ("UnitOfMeasure", (), False),
    ("Tags", (), False),
    ("ReservationId", (), False),
    ("ReservationName", (), False),
    ("BenefitId", (), False),
    ("BenefitName", (), False),
    ("CostCenter", (), False),
)
COLUMNS = tuple(Column(n, required=r, aliases=a) for n, a, r in _COLUMNS)
RAW_COLUMNS = tuple(c.name for c in COLUMNS) + ("cost_dataset",)

CHECKS = rules_for("azure_cost").rules  # Date as MM/DD/YYYY (or ISO), Tags with or without braces


def dataset_of(settings, f) -> str:
    """ActualCost or AmortizedCost: the run manifest's exportConfig.type, else the folder name."""
    manifest = (
        focus._read_manifest(settings, f.path.parent / "manifest.json")
        if ((f.path.parent / "manifest.json").is_file())
        else None
    )
    kind = ((manifest or {}).get("exportConfig") or {}).get("type") if isinstance(manifest, dict) else None
    if isinstance(kind, str) and kind.lower() in ("actualcost", "amortizedcost", "usage"):
        return "AmortizedCost" if kind.lower() == "amortizedcost" else "ActualCost"
    return "AmortizedCost" if "amortized" in f.rel.lower() else "ActualCost"


def _options(dataset: str) -> dict:
    """How an Azure cost file is read, alone (read) or with the other parts of its export run."""
    return {
        "extra_select": f", {lit(dataset)} as cost_dataset",
        "header_check": _check_header,
        "cost": ("trim(CostInBillingCurrency)", q("BillingCurrencyCode")),
        # exports run to millions of lines: straight into raw in one pass, no copy in between
        "into": RAW_TABLE,
    }


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS, **_options(dataset_of(settings, f)))


def read_parts(con, settings, files, load_ids):
    """The CSV parts of one export run in one statement (pipeline.ingest.load_parts)."""
    datasets = {dataset_of(settings, f) for f in files}
    if len(datasets) != 1:
        raise NotOneRead("the parts belong to different cost datasets")
    return read_table_parts(con, files, load_ids, COLUMNS, FORMAT, CHECKS, **_options(datasets.pop()))


def _check_header(cols: set[str]) -> str | None:
    if "costinbillingcurrency" not in cols:
        return "missing column CostInBillingCurrency (EA) / costInBillingCurrency (MCA); FOCUS exports go under landing/focus/"
    return None


def plan(settings, files, booked=()):
    return focus.plan(settings, files, booked)
