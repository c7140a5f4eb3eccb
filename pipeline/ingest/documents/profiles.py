"""Format profiles: how one source's own files map onto the unified invoice line or time entry.

A profile is data (config/profiles/<id>.yaml, one profile per file), validated with pydantic;
every error is one line naming the file, the profile, the key and the value. A profile is
chosen per vendor (`profile:` in vendors.yaml) or recognised from a file's header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import ConfigError, InputError

# What a profile may map a file's columns onto. Invoice fields are raw.invoice_lines' columns
# (plus `service_period`, one cell holding "start - end"); time-log fields are what the trackers
# carry, from which the unified time entry is built (timelogs.ENTRY_COLUMNS).
INVOICE_FIELDS = (
    "vendor",
    "invoice_number",
    "invoice_date",
    "revision",
    "document_type",
    "line_number",
    "description",
    "service_period",
    "service_period_start",
    "service_period_end",
    "quantity",
    "unit",
    "unit_price",
    "amount",
    "currency",
    "model_or_project",
)
TIMESHEET_FIELDS = (
    "employee_id",
    "employee_email",
    "employee_name",
    "first_name",
    "last_name",
    "role",
    "work_date",
    "hours",
    "duration",
    "project",
    "task",
    "tags",
    "description",
    "issue_key",
    "account",
    "client",
    "work_attribute",
    "billable",
    "cost_rate",
    "currency",
    "activity",
    "model_or_project",
)
# Document-level values found above an invoice's table (or in a PDF's text, or a JSON object).
HEADER_FIELDS = (
    "invoice_number",
    "invoice_date",
    "currency",
    "service_period",
    "service_period_start",
    "service_period_end",
    "revision",
    "model_or_project",
)
IDENTITY_FIELDS = ("employee_id", "employee_email", "employee_name")
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "gbk")
_SEPARATORS = ("", ",", ".", " ", "'", "\u00a0", "\u202f")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


class FileSpec(_Strict):
    format: Literal["csv", "xlsx", "pdf", "json"]
    # utf-8 accepts a BOM too; gbk/gb18030 must be declared: an undeclared non-UTF-8 file is
    # refused, never decoded by guesswork.
    encoding: Literal["utf-8", "utf-8-sig", "gb18030", "gbk"] = "utf-8"
    delimiter: str = Field(",", min_length=1, max_length=1)
    sheet: str | None = None  # xlsx: the sheet to read (default: the first that holds the table)
    lines_key: list[str] = ["lines", "line_items", "items"]  # json: where an invoice object keeps its lines


class NumberSpec(_Strict):
    decimal: Literal[".", ","] = "."
    thousands: str = ","
    negative: list[Literal["minus", "parentheses", "trailing_minus"]] = ["minus"]

    @field_validator("thousands")
    @classmethod
    def _thousands(cls, v: str) -> str:
        if v not in _SEPARATORS:
            raise ValueError(f"'{v}' is not a thousands separator (one of: none, ',', '.', ' ', \"'\")")
        return v

    @model_validator(mode="after")
    def _distinct(self) -> NumberSpec:
        if self.thousands == self.decimal:
            raise ValueError(f"thousands separator and decimal mark are both '{self.decimal}'")
        return self


class TotalsSpec(_Strict):
    subtotal: list[str] = ["Subtotal", "Sub-total", "Net total", "小计"]
    tax: list[str] = ["Tax", "VAT", "Sales tax", "GST", "税额", "税金"]
    total: list[str] = [
        "Total",
        "Total due",
        "Amount due",
        "Invoice total",
        "Grand total",
        "合计",
        "总计",
        "价税合计",
    ]


class Locator(_Strict):
    """Where a value (activity, model) is found: a column, a tag/label, a regex, or a constant."""

    from_: Literal["column", "tag", "regex", "constant"] = Field(alias="from")
    column: str | None = None
    prefix: str | None = None  # tag: the label prefix, e.g. "activity:" (removed from the value)
    pattern: str | None = None  # regex over `column`: group 1 (or the group named `value`) is the value
    value: str | None = None  # constant

    @model_validator(mode="after")
    def _complete(self) -> Locator:
        need = {
            "column": ("column",),
            "tag": ("prefix",),
            "regex": ("column", "pattern"),
            "constant": ("value",),
        }
        for key in need[self.from_]:
            if not getattr(self, key):
                raise ValueError(f"from: {self.from_} needs `{key}`")
        if self.pattern is not None:
            try:
                rx = re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern '{self.pattern}' is not a regular expression: {exc}") from None
            if rx.groups < 1:
                raise ValueError(f"pattern '{self.pattern}' has no group to take the value from")
        return self


class Profile(_Strict):
    id: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    kind: Literal["invoice", "timesheet"]
    description: str = ""
    source: str = ""  # where the shape comes from (a URL), for docs/formats.md
    file: FileSpec
    columns: dict[str, list[str]]  # field -> the file's header names for it (first present wins)
    required: list[str]  # fields whose column must be present, else the file does not fit
    recognise: list[str] = []  # header names that identify this format (default: required columns)
    dates: list[str] = ["%Y-%m-%d"]  # strptime formats, tried in order
    numbers: NumberSpec = NumberSpec()
    # invoices
    header_fields: dict[str, list[str]] = {}  # field -> labels printed before its value
    totals: TotalsSpec = TotalsSpec()
    credit_note: list[str] = ["Credit note", "Credit memo", "Gutschrift", "红字发票", "贷项通知单"]
    tax: Literal["book", "exclude"] = "book"  # printed tax: booked as its own line, or left out
    require_total: bool = True  # an invoice without a printed total is refused (pdf, xlsx)
    # time logs
    hours_from: Literal["hours", "duration"] | None = None  # default: duration if mapped, else hours
    max_hours_per_entry: Decimal = Field(Decimal(24), gt=0)
    identity: list[Literal["employee_id", "employee_email", "employee_name"]] = list(IDENTITY_FIELDS)
    activity: list[Locator] = []
    model: list[Locator] = []

    @field_validator("dates")
    @classmethod
    def _dates(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one date format is needed")
        for fmt in v:
            if "%" not in fmt:
                raise ValueError(f"'{fmt}' is not a strptime format (e.g. %Y-%m-%d)")
        return v

    @model_validator(mode="after")
    def _fields(self) -> Profile:
        allowed = INVOICE_FIELDS if self.kind == "invoice" else TIMESHEET_FIELDS
        for name, headers in self.columns.items():
            if name not in allowed:
                raise ValueError(f"columns.{name}: not a {self.kind} field (one of: {', '.join(allowed)})")
            if not headers:
                raise ValueError(f"columns.{name}: lists no header name")
        for name in self.required:
            if name not in self.columns:
                raise ValueError(f"required: '{name}' has no entry under columns")
        for name in self.header_fields:
            if name not in HEADER_FIELDS:
                raise ValueError(
                    f"header_fields.{name}: not a header field (one of: {', '.join(HEADER_FIELDS)})"
                )
        if self.kind == "invoice":
            if "amount" not in self.columns:
                raise ValueError("columns: an invoice profile must map `amount`")
        else:
            if not ({"hours", "duration"} & set(self.columns)):
                raise ValueError("columns: a timesheet profile must map `hours` or `duration`")
            if "work_date" not in self.columns:
                raise ValueError("columns: a timesheet profile must map `work_date`")
            if self.hours_from and self.hours_from not in self.columns:
                raise ValueError(f"hours_from: '{self.hours_from}' has no entry under columns")
            for which in ("activity", "model"):
                for i, loc in enumerate(getattr(self, which)):
                    if loc.column and loc.column not in self.columns:
                        raise ValueError(f"{which}[{i}].column: '{loc.column}' has no entry under columns")
                    if loc.from_ == "tag" and "tags" not in self.columns:
                        raise ValueError(f"{which}[{i}]: from: tag needs a `tags` column")
        return self

    @property
    def recognised_by(self) -> list[str]:
        """Header names that identify the format (first alias of each required column by default)."""
        return self.recognise or [self.columns[f][0] for f in self.required]

    @property
    def hours_field(self) -> str:
        if self.hours_from:
            return self.hours_from
        return "duration" if "duration" in self.columns else "hours"


def _validate(data: Any, path: Path) -> Profile:
    name = data.get("id") if isinstance(data, dict) else None
    where = f"{path}: profile '{name}'" if name else f"{path}"
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in err["loc"]).replace(".[", "[")
        value = err.get("input")
        shown = "" if isinstance(value, (dict, list)) or value is None else f" (value: {value!r})"
        msg = err["msg"].removeprefix("Value error, ")
        # model-level checks name their key in the message itself
        raise ConfigError(f"{where}: {loc + ': ' if loc else ''}{msg}{shown}") from None


def load_profile_file(path: Path) -> Profile:
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a profile file holds one mapping (id, kind, file, columns, ...)")
    return _validate(data, path)


def load_profiles(config_dir: Path) -> dict[str, Profile]:
    """Every profile under config/profiles/ (one per file), by id; ids are unique."""
    out: dict[str, Profile] = {}
    where: dict[str, Path] = {}
    folder = config_dir / "profiles"
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.y*ml")):
        prof = load_profile_file(path)
        if prof.id in out:
            raise ConfigError(f"{path}: id: profile '{prof.id}' is already defined in {where[prof.id].name}")
        out[prof.id] = prof
        where[prof.id] = path
    return out


def check_vendor_profiles(vendors, profiles: dict[str, Profile], vendors_path: Path) -> None:
    """Every `profile:` in vendors.yaml names an invoice profile that exists."""
    for i, v in enumerate(vendors):
        name = getattr(v, "profile", None)
        if name is None:
            continue
        prof = profiles.get(name)
        if prof is None:
            known = ", ".join(sorted(p.id for p in profiles.values() if p.kind == "invoice")) or "none"
            raise ConfigError(
                f"{vendors_path}: vendors[{i}].profile: no profile '{name}' in config/profiles/ (invoice profiles: {known})"
            )
        if prof.kind != "invoice":
            raise ConfigError(
                f"{vendors_path}: vendors[{i}].profile: '{name}' is a {prof.kind} profile, not an invoice profile"
            )


def _norm(text: str) -> str:
    return " ".join(str(text).replace("\ufeff", "").split()).casefold()


@dataclass(frozen=True)
class Fit:
    """How a profile fits a header: field -> index of its column in the header."""

    profile: Profile
    columns: dict[str, int]


def fit(profile: Profile, header: list[str], rel: str) -> Fit:
    """Map the profile's fields onto a header; a missing required column is a one-line error."""
    index = {}
    for i, h in enumerate(header):
        index.setdefault(_norm(h), i)
    found: dict[str, int] = {}
    for name, names in profile.columns.items():
        for cand in names:
            if _norm(cand) in index:
                found[name] = index[_norm(cand)]
                break
    missing = [profile.columns[f][0] for f in profile.required if f not in found]
    if missing:
        raise InputError(
            f"{rel}: does not fit profile '{profile.id}': missing column(s) {', '.join(missing)}"
        )
    return Fit(profile, found)


def recognise(header: list[str], profiles: dict[str, Profile], kind: str, fmt: str, rel: str) -> Profile:
    """The one profile of this kind and file format whose identifying columns are all in the header."""
    have = {_norm(h) for h in header}
    candidates = [p for p in profiles.values() if p.kind == kind and p.file.format == fmt]
    if not candidates:
        raise InputError(f"{rel}: no {kind} profile reads .{fmt} files (add one under config/profiles/)")
    scored = []
    for p in candidates:
        want = p.recognised_by
        hit = [h for h in want if _norm(h) in have]
        scored.append((len(hit) == len(want), len(hit) / max(len(want), 1), len(want), p))
    full = [s for s in scored if s[0]]
    if full:
        best = max(s[2] for s in full)
        top = [s[3] for s in full if s[2] == best]
        if len(top) > 1:
            raise InputError(
                f"{rel}: header fits profiles {', '.join(sorted(p.id for p in top))} equally; "
                "name the profile for this vendor (vendors.yaml `profile:`)"
            )
        return top[0]
    closest = max(scored, key=lambda s: (s[1], s[2]))[3]
    missing = [h for h in closest.recognised_by if _norm(h) not in have]
    raise InputError(
        f"{rel}: header fits no {kind} profile; closest is '{closest.id}', missing column(s) {', '.join(missing)}"
    )
