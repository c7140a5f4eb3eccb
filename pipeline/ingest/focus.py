"""FOCUS 1.0 - 1.3 cost and usage exports (CSV, CSV.gz, Parquet) from any provider.

Every column the spec defines (1.0 to 1.3) is kept as text in raw.focus_line_items; columns
a version lacks are NULL. 1.3 renamed ProviderName/PublisherName to ServiceProviderName/
HostProviderName: either is accepted, staging coalesces them.

Exports in the AWS Data Exports layout (`<export>/data/BILLING_PERIOD=YYYY-MM/*` plus
`<export>/metadata/BILLING_PERIOD=YYYY-MM/*Manifest.json`) load a billing period only when
every data file its manifest lists is present; data files of the period that the newest
manifest does not list are dropped (a new manifest replaces the period).

Azure Cost Management exports (`<export>/<YYYYMMDD-YYYYMMDD>/<run id>/part_*.csv` with a
`manifest.json` per run) restate their date range on every run: the newest run of a range (by
the manifest's `runInfo.submittedTime`) is loaded once every blob its manifest lists is there,
and the files of older runs of that range are dropped, present or gone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath

from pipeline.errors import InputError
from pipeline.ingest.common import Column, q, read_table_file, read_table_parts
from pipeline.ingest.rules import rules_for
from pipeline.landing.walk import read_small, unsafe_name

RAW_TABLE = "raw.focus_line_items"
FORMAT = "FOCUS"

REQUIRED_COLUMNS = (
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
)
_OPTIONAL = (
    # 1.0
    "AvailabilityZone",
    "BillingAccountId",
    "BillingAccountName",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "SkuId",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "Tags",
    # 1.1
    "CapacityReservationId",
    "CapacityReservationStatus",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountUnit",
    "ServiceSubcategory",
    "SkuMeter",
    "SkuPriceDetails",
    # 1.2
    "BillingAccountType",
    "SubAccountType",
    "InvoiceId",
    "PricingCurrency",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    # 1.3
    "ServiceProviderName",
    "HostProviderName",
    "AllocatedMethodId",
    "AllocatedMethodDetails",
    "AllocatedResourceId",
    "AllocatedResourceName",
    "AllocatedTags",
    "ContractApplied",
)
COLUMNS = tuple(Column(c, required=True) for c in REQUIRED_COLUMNS) + tuple(Column(c) for c in _OPTIONAL)
RAW_COLUMNS = tuple(c.name for c in COLUMNS) + ("focus_version",)

# What a valid row is: pipeline/ingest/focus.rules.yml (used at ingest and by the raw gate).
CHECKS = rules_for("focus").rules

_VERSION_SQL = (
    'case when "ServiceProviderName" is not null or "HostProviderName" is not null then \'1.3\' '
    'when "InvoiceId" is not null or "PricingCurrency" is not null or "BillingAccountType" is not null then \'1.2\' '
    'when "ServiceSubcategory" is not null or "SkuMeter" is not null or "CapacityReservationId" is not null then \'1.1\' '
    "else '1.0' end"
)


def _options(settings) -> dict:
    """How a FOCUS file is read, whether alone (read) or with the other parts of its export."""
    # What a rejected row carried: its cost at the configured basis, in its billing currency.
    amount = "EffectiveCost" if settings.cost_basis == "effective" else "BilledCost"
    return {
        "extra_select": f", {_VERSION_SQL} as focus_version",
        "header_check": check_header,
        # Some exports (the FinOps sample data) write NULL for an empty value.
        "null_strings": ("", "NULL"),
        "cost": (f"trim({q(amount)})", q("BillingCurrency")),
        # exports run to millions of lines: straight into raw in one pass, no copy in between
        "into": RAW_TABLE,
    }


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS, **_options(settings))


def read_parts(con, settings, files, load_ids):
    """The CSV parts of one export folder in one statement (pipeline.ingest.load_parts)."""
    return read_table_parts(con, files, load_ids, COLUMNS, FORMAT, CHECKS, **_options(settings))


def check_header(header_cols: set[str]) -> str | None:
    if not ({"providername", "serviceprovidername"} & header_cols):
        return "missing column ProviderName (FOCUS 1.0-1.2) or ServiceProviderName (FOCUS 1.3)"
    return None


# --- manifests (AWS Data Exports layout) ------------------------------------------------------

_PERIOD = re.compile(r"^(?P<export>.*)/data/(?P<period>BILLING_PERIOD=[^/]+)/(?P<name>[^/]+)$")


def plan(settings, files, booked=()):
    """Split data files into loadable, pending (manifest incomplete/absent) and dropped.

    `booked`: paths with rows on the books, present or not; those a newer manifest or export run
    replaces are dropped too. Returns (loadable files, {rel: why pending}, {rel: why dropped}).
    """
    from pipeline.ingest.native.contract_commitments import is_commitment_file

    # a FOCUS 1.3 export's Contract Commitment files are the focus_commitments source's, not cost rows
    files = [f for f in files if f.source != "focus" or not is_commitment_file(settings, f)]
    loadable, pending, dropped = [], {}, {}
    groups: dict[tuple[str, str], list] = {}
    runs: dict[str, list] = {}
    for f in files:
        m = _PERIOD.match(f.rel)
        if m:
            groups.setdefault((m["export"], m["period"]), []).append((m["name"], f))
        elif _run_manifest(settings, f.rel.rpartition("/")[0]):
            runs.setdefault(f.rel.rpartition("/")[0], []).append(f)
        else:
            loadable.append(f)
    _plan_azure_runs(settings, runs, booked, loadable, pending, dropped)
    for (export, period), members in groups.items():
        meta_dir = settings.landing / export / "metadata" / period
        # manifests are read like data files: never through a symlink, never from outside landing/
        manifests = (
            sorted(
                (
                    p
                    for p in meta_dir.glob("*.json")
                    if p.is_file() and not p.is_symlink() and not unsafe_name(p.name)
                ),
                key=lambda p: (p.lstat().st_mtime, p.name),
            )
            if meta_dir.is_dir() and not meta_dir.is_symlink()
            else []
        )
        if not manifests:
            for _, f in members:
                pending[f.rel] = f"waiting for the manifest under {export}/metadata/{period}/"
            continue
        listed = _manifest_files(settings, manifests[-1])
        if listed is None:
            for _, f in members:
                pending[f.rel] = f"manifest {manifests[-1].name} lists no dataFiles"
            continue
        present = {name for name, _ in members}
        absent = sorted(listed - present)
        prefix = f"{export}/data/{period}/"
        for rel in booked:
            if rel.startswith(prefix) and "/" not in rel[len(prefix) :] and rel[len(prefix) :] not in listed:
                dropped.setdefault(rel, f"not listed in the newest manifest {manifests[-1].name}")
        for name, f in members:
            if name not in listed:
                dropped[f.rel] = f"not listed in the newest manifest {manifests[-1].name}"
            elif absent:
                pending[f.rel] = (
                    f"manifest {manifests[-1].name} lists {len(absent)} file(s) not yet delivered, e.g. {absent[0]}"
                )
            else:
                loadable.append(f)
    return loadable, pending, dropped


MANIFEST_MAX_BYTES = 64 * 1024 * 1024


def _run_manifest(settings, folder: str) -> Path | None:
    """The manifest.json of an Azure export run folder, when `folder` is one."""
    if not folder:
        return None
    path = settings.landing / folder / "manifest.json"
    return path if path.is_file() and not path.is_symlink() else None


def _read_manifest(settings, path: Path) -> dict | None:
    try:
        data = json.loads(read_small(settings, path, MANIFEST_MAX_BYTES).decode("utf-8"))
    except (InputError, OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _plan_azure_runs(settings, runs: dict[str, list], booked, loadable, pending, dropped) -> None:
    """The newest run of each (export, date range) is loaded when complete; older runs are dropped."""
    ranges: dict[str, list[tuple[tuple, str, dict | None]]] = {}
    for run in runs:
        manifest = _read_manifest(settings, settings.landing / run / "manifest.json")
        info = (manifest or {}).get("runInfo") or {}
        submitted = info.get("submittedTime") if isinstance(info, dict) else None
        when = (str(submitted or ""), (settings.landing / run / "manifest.json").lstat().st_mtime, run)
        ranges.setdefault(run.rpartition("/")[0], []).append((when, run, manifest))
    for date_range, found in ranges.items():
        found.sort(reverse=True)  # newest first
        current = None  # the newest run whose manifest's blobs are all here
        waiting: set[str] = set()  # newer runs still incomplete
        for _, run, manifest in found:
            name = run.rpartition("/")[2]
            if current is not None:
                for f in runs[run]:
                    dropped[f.rel] = f"superseded by the newer export run {current} of {date_range}"
                continue
            blobs = (manifest or {}).get("blobs")
            listed = (
                {
                    PurePosixPath(b["blobName"]).name
                    for b in blobs
                    if isinstance(b, dict) and isinstance(b.get("blobName"), str)
                }
                if isinstance(blobs, list)
                else set()
            )
            absent = sorted(listed - {f.rel.rpartition("/")[2] for f in runs[run]})
            if absent:
                # an incomplete newer run waits; the run before it stays booked meanwhile
                waiting.add(run)
                for f in runs[run]:
                    pending[f.rel] = (
                        f"export run {name}: manifest.json lists {len(absent)} file(s) not yet delivered, "
                        f"e.g. {absent[0]}"
                    )
                continue
            current = name
            loadable.extend(runs[run])
            for rel in booked:
                folder = rel.rpartition("/")[0]
                if folder.rpartition("/")[0] == date_range and folder != run and folder not in waiting:
                    dropped.setdefault(rel, f"superseded by the newer export run {name} of {date_range}")


def _manifest_files(settings, path: Path) -> set[str] | None:
    data = _read_manifest(settings, path)
    if data is None:
        return None
    files = data.get("dataFiles") or data.get("reportKeys")
    if not isinstance(files, list) or not files:
        return None
    names = set()
    for entry in files:
        key = entry.get("key") if isinstance(entry, dict) else entry
        if isinstance(key, str):
            names.add(PurePosixPath(key).name)
    return names or None
