"""FOCUS 1.3's Contract Commitment dataset: the second file type of a 1.3 export, beside its cost
and usage files under landing/focus/. One row per commitment of a contract (its period, cost or
quantity); it carries no charges, so it is loaded into raw.focus_contract_commitments and
published as marts.contract_commitments, never read as line items (the `focus` source leaves
these files to this one: `is_commitment_file`).
"""

from __future__ import annotations

import io
import os
import zlib

import duckdb

from pipeline.ingest.common import Column, read_table_file
from pipeline.ingest.rules import rules_for
from pipeline.landing.walk import landing_root, opened_fd

RAW_TABLE = "raw.focus_contract_commitments"
FORMAT = "FOCUS 1.3 Contract Commitment"
_NAMES = (
    "ContractCommitmentId",
    "ContractId",
    "ContractCommitmentCategory",
    "ContractCommitmentType",
    "ContractCommitmentDescription",
    "ContractCommitmentCost",
    "ContractCommitmentQuantity",
    "ContractCommitmentUnit",
    "ContractCommitmentPeriodStart",
    "ContractCommitmentPeriodEnd",
    "ContractPeriodStart",
    "ContractPeriodEnd",
    "BillingCurrency",
)
_REQUIRED = {
    "ContractCommitmentId",
    "ContractId",
    "ContractCommitmentPeriodStart",
    "ContractCommitmentPeriodEnd",
}
COLUMNS = tuple(Column(n, required=n in _REQUIRED) for n in _NAMES)
RAW_COLUMNS = _NAMES
CHECKS = rules_for("focus_commitments").rules


def _header(settings, f) -> set[str]:
    """The lower-cased column names of a CSV (plain or gzip) or Parquet file; empty if unreadable."""
    root = landing_root(settings)
    name = f.path.name.lower()
    try:
        with opened_fd(root, f.path, f.rel) as fd:
            if name.endswith(".parquet"):
                con = duckdb.connect()
                try:
                    cur = con.execute("select * from read_parquet(?) limit 0", [[f"/proc/self/fd/{fd}"]])
                    return {d[0].lower() for d in cur.description}
                finally:
                    con.close()
            with io.FileIO(os.dup(fd), "rb") as raw:
                data = raw.read(256 * 1024)
            if name.endswith(".gz"):
                data = zlib.decompressobj(wbits=31).decompress(data, 256 * 1024)
            line = data.split(b"\n", 1)[0].decode("utf-8-sig", "replace").rstrip("\r")
            return {c.strip().strip('"').lower() for c in line.split(",")}
    except Exception:  # unreadable here: the focus reader refuses it with its own message
        return set()


def is_commitment_file(settings, f) -> bool:
    """A Contract Commitment file: its commitment columns, and no cost of a charge."""
    cols = _header(settings, f)
    return "contractcommitmentid" in cols and "billedcost" not in cols


def read(con, settings, f, load_id):
    return read_table_file(con, f, COLUMNS, FORMAT, load_id, CHECKS)


def plan(settings, files, booked=()):
    """Only the Contract Commitment files of landing/focus/ are this source's."""
    return [f for f in files if is_commitment_file(settings, f)], {}, {}
