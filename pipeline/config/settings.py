"""Settings: built once from the environment and config/, validated before any data is touched.

Every error names the file, the key (or rule) and the value, in one line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ByteSize, ConfigDict, Field, ValidationError, field_validator

from pipeline.config.currencies import iso_currencies
from pipeline.config.rules import compile_rules
from pipeline.errors import ConfigError
from pipeline.ledger import BUILTIN_SCENARIOS, LEAVES, SEVERAL

# The package runs from a source checkout (an editable install): the SQL models, the shipped
# config/ and the demo company live beside it.
REPO_ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = REPO_ROOT / "sql"
# The shipped config/: a commented starting point for a real company.
SHIPPED_CONFIG = REPO_ROOT / "config"
# The demo company (`costledger demo`, `make demo`): its generator and its own config.
DEMO_DIR = REPO_ROOT / "examples" / "demo"
DEMO_CONFIG = DEMO_DIR / "config"
# A warehouse or landing folder may record the config folder it belongs to (`costledger demo`
# does), so later commands given the same --warehouse/--landing find it without --config.
CONFIG_POINTER = ".costledger-config"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PathsCfg(_Strict):
    landing: str = "landing"
    warehouse: str = "warehouse"
    reports: str = "reports"


class QualityCfg(_Strict):
    unallocated_warning_share: float = Field(0.10, ge=0, le=1)


# Published people-cost rows hold the time of at least this many people (docs/privacy.md). Three is
# the floor: with two, either one of them can subtract their own pay and read the other's.
MIN_PEOPLE_PER_ROW = 3


# Tag keys whose values name a person: published as '(redacted)' (docs/privacy.md). Matched
# case-insensitively, on the whole key or on its last part after a ':' or '/' (aws:createdBy).
REDACT_TAG_KEYS = ("owner", "created_by", "createdby", "creator", "email", "user")


class PrivacyCfg(_Strict):
    min_people_per_row: int = MIN_PEOPLE_PER_ROW
    redact_tag_keys: list[str] = Field(default_factory=lambda: list(REDACT_TAG_KEYS))

    @field_validator("redact_tag_keys", mode="before")
    @classmethod
    def _tag_keys(cls, v: Any) -> Any:
        if not isinstance(v, list) or not all(isinstance(k, str) and k.strip() for k in v):
            raise ValueError("must be a list of tag keys (non-empty strings)")
        return [k.strip().lower() for k in v]

    @field_validator("min_people_per_row", mode="before")
    @classmethod
    def _min_people(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError("must be a whole number of people")
        if v < MIN_PEOPLE_PER_ROW:
            raise ValueError(
                f"cannot be below {MIN_PEOPLE_PER_ROW}: a published row of fewer people shows their pay"
            )
        return v


class IngestCfg(_Strict):
    """How much damage a landing file may carry before it is refused (docs/formats.md)."""

    # a file with more than this share of its rows rejected is refused whole
    max_reject_share: float = Field(0.01, ge=0, le=1)
    # more than this share of the booked files gone at once (an unmounted share?): no publish
    # unless `costledger run --allow-missing`
    max_missing_share: float = Field(0.5, ge=0, le=1)
    # caps of the streaming pre-scan: bytes of one CSV line, decompressed bytes of one file
    max_line_bytes: ByteSize = Field(ByteSize(8 * 1024**2), ge=1024, le=1024**3)
    max_decompressed_bytes: ByteSize = Field(ByteSize(16 * 1024**3), ge=1024**2)
    # the CSV parts of one export folder (FOCUS exports come in many) that add up to at least
    # this are read by one statement, in parallel; smaller deliveries are read file by file
    parts_min_bytes: ByteSize = Field(ByteSize(64 * 1024**2), ge=0)
    # a file whose size, mtime, ctime, inode and device are as they were when it was hashed is
    # not read again (pipeline/landing/walk.py); false: every file is hashed every run (for a
    # file system whose ctime is not kept, e.g. some network mounts)
    trust_file_stat: bool = True


# DuckDB's resources (docs/scaling.md). The defaults fit a 4 GiB worker: DuckDB's buffer pool
# stays under `memory_limit` and spills to warehouse/.tmp (at most `max_temp_directory_size`);
# Python, GX's small frames and the allocator's slack take the rest.
DUCKDB_ENV = {
    "memory_limit": "COSTLEDGER_DUCKDB_MEMORY_LIMIT",
    "max_temp_directory_size": "COSTLEDGER_DUCKDB_MAX_TEMP_DIRECTORY_SIZE",
    "threads": "COSTLEDGER_DUCKDB_THREADS",
    "preserve_insertion_order": "COSTLEDGER_DUCKDB_PRESERVE_INSERTION_ORDER",
}


class DuckdbCfg(_Strict):
    """DuckDB's memory, spill and thread knobs; COSTLEDGER_DUCKDB_<KEY> overrides each."""

    memory_limit: ByteSize = Field(ByteSize(1536 * 1024**2), ge=64 * 1024**2)
    max_temp_directory_size: ByteSize = Field(ByteSize(32 * 1024**3), ge=64 * 1024**2)
    threads: int | None = Field(None, ge=1, le=1024)  # None: one per core
    # Keeping insertion order makes DuckDB buffer results in order; the ledger never relies on
    # a table's order (the readers that number lines ask for it themselves).
    preserve_insertion_order: bool = False


class ReportCfg(_Strict):
    recipients: list[str] = []
    language: str = "en"
    from_address: str = "costledger@localhost"

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str) -> str:
        if v not in ("en", "zh-CN"):
            raise ValueError(f"'{v}' is not a supported language (en, zh-CN)")
        return v


# `costledger pull`: object-store schemes fsspec reads (s3fs, gcsfs, adlfs) and local folders.
PULL_SCHEMES = ("s3", "gs", "gcs", "az", "abfs", "abfss", "file")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_pull_url(url: str) -> str:
    """A pull source URL: a supported scheme and a bucket/container (or an absolute local path)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in PULL_SCHEMES:
        raise ValueError(f"'{url}' is not an object-store URL (s3://, gs://, az://, abfs://, file:///...)")
    if _CONTROL.search(url):
        raise ValueError(f"{url!r} contains a control character")
    if scheme.lower() == "file":
        if not rest.startswith("/"):
            raise ValueError(f"'{url}': a file URL needs an absolute path, e.g. file:///srv/exports/")
    elif not rest.split("/", 1)[0]:
        raise ValueError(f"'{url}' names no bucket or container")
    return url


def check_pull_target(to: str) -> str:
    """A folder under landing/: relative, no '..' or '.', no hidden parts (landing skips dot-names)."""
    if not to or to.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", to):
        raise ValueError(f"'{to}' must be a folder under landing/, e.g. aws_cur/my-export")
    if _CONTROL.search(to) or "\\" in to:
        raise ValueError(f"{to!r} contains a control character or a backslash")
    parts = to.strip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"'{to}' must stay inside landing/ (no '..', '.' or empty parts)")
    if any(p.startswith(".") for p in parts):
        raise ValueError(f"'{to}': landing/ skips names that start with '.'; choose a visible folder")
    return "/".join(parts)


class PullCfg(_Strict):
    """One object-store prefix synced into a landing folder by `costledger pull`."""

    url: str = Field(min_length=1)
    to: str

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_pull_url(v)

    @field_validator("to")
    @classmethod
    def _to(cls, v: str) -> str:
        return check_pull_target(v)


class AnomalyCfg(_Strict):
    """Spikes (marts.cost_anomalies): robust z = 0.6745 x (cost - median) / MAD over the history."""

    z_threshold: float = Field(3.5, gt=0)
    min_amount: float = Field(100, ge=0)  # a spike smaller than this (reporting currency) is noise
    min_share: float = Field(0.25, ge=0)  # ... and smaller than this share of the median
    monthly_history: int = Field(6, ge=2)  # months before the month looked at
    min_months: int = Field(3, ge=2)  # fewer months of history: no judgement
    daily_history: int = Field(14, ge=2)
    min_days: int = Field(7, ge=2)


class ForecastCfg(_Strict):
    """marts.cost_forecast (docs/planning.md)."""

    horizon_months: int = Field(12, ge=1, le=12)
    history_months: int = Field(36, ge=2)  # the most recent months a fit reads (24+: seasonal)
    interval: float = Field(0.8, gt=0, lt=1)  # the prediction interval's coverage
    backtest_months: int = Field(6, ge=1)  # past months forecast again from what came before
    trend_damping: float = Field(0.8, gt=0, le=1)  # 1 = a straight trend line


class FindingsCfg(_Strict):
    """marts.findings: rule-based optimisation hints (docs/planning.md, "Findings")."""

    gpu_utilisation_below: float = Field(0.5, gt=0, le=1)  # gpu_hours / gpu_hours_provisioned
    commitment_discount: float = Field(0.3, gt=0, lt=1)  # what a commitment would save on steady usage
    commitment_min_monthly: float = Field(1000, ge=0)  # steady usage smaller than this is not worth it
    labeling_rise: float = Field(0.1, gt=0)  # cost per labeled item up by more than this share


class PlanningCfg(_Strict):
    anomalies: AnomalyCfg = AnomalyCfg()
    forecast: ForecastCfg = ForecastCfg()
    findings: FindingsCfg = FindingsCfg()


class FxCfg(_Strict):
    # currencies to convert through when a currency has no rate of its own to the reporting
    # currency (sql/staging/stg_fx_rates.sql), tried in this order
    pivots: list[str] = []

    @field_validator("pivots")
    @classmethod
    def _ccys(cls, v: list[str]) -> list[str]:
        for c in v:
            if c not in iso_currencies():
                raise ValueError(f"'{c}' is not an ISO-4217 currency code")
        return v


TRUSTABLE_SOURCES = ("focus", "aws_cur", "gcp_billing", "azure_cost")


class MainCfg(_Strict):
    reporting_currency: str = "USD"
    cost_basis: str = "effective"
    paths: PathsCfg = PathsCfg()
    lock_timeout_seconds: float = Field(60, ge=0)
    scenarios: list[str] = []
    quality: QualityCfg = QualityCfg()
    privacy: PrivacyCfg = PrivacyCfg()
    report: ReportCfg = ReportCfg()
    ingest: IngestCfg = IngestCfg()
    duckdb: DuckdbCfg = DuckdbCfg()
    pull: list[PullCfg] = []
    planning: PlanningCfg = PlanningCfg()
    fx: FxCfg = FxCfg()
    # billing account -> the source whose lines count for it, where a native export and a FOCUS
    # export of one account both land (issue 11); the other source's lines are kept, superseded
    trust: dict[str, str] = {}

    @field_validator("trust")
    @classmethod
    def _trust(cls, v: dict[str, str]) -> dict[str, str]:
        for account, source in v.items():
            if source not in TRUSTABLE_SOURCES:
                raise ValueError(
                    f"trust.{account}: '{source}' is not a billing source ({', '.join(TRUSTABLE_SOURCES)})"
                )
        return {str(k).strip(): s for k, s in v.items()}

    @field_validator("reporting_currency")
    @classmethod
    def _ccy(cls, v: str) -> str:
        if v not in iso_currencies():
            raise ValueError(f"'{v}' is not an ISO-4217 currency code")
        return v

    @field_validator("cost_basis")
    @classmethod
    def _basis(cls, v: str) -> str:
        if v not in ("effective", "billed"):
            raise ValueError(f"'{v}' is not a cost basis (effective, billed)")
        return v


class ModelCfg(_Strict):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    scenario: str
    team: str = Field(min_length=1)
    aliases: list[str] = []


class ModelsFile(_Strict):
    models: list[ModelCfg]


class VendorCfg(_Strict):
    id: str = Field(min_length=1)
    name: str = ""
    kind: str
    aliases: list[str] = []
    profile: str | None = None  # a format profile id (config/profiles/); checked by ingest.documents

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in VENDOR_KIND_LEAF:
            raise ValueError(f"'{v}' is not a vendor kind ({', '.join(VENDOR_KIND_LEAF)})")
        return v


class VendorsFile(_Strict):
    vendors: list[VendorCfg]


class ActivitiesFile(_Strict):
    activities: dict[str, str]


VENDOR_KIND_LEAF = {"labeling": "labeled", "data": "data", "software": "software", "hardware": "hardware"}


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None
    port: int
    user: str | None
    password: str | None = field(repr=False)
    from_address: str | None
    starttls: bool
    ssl: bool


@dataclass(frozen=True)
class Settings:
    """Everything a run needs, resolved to absolute paths and validated."""

    config_dir: Path
    landing: Path
    warehouse: Path
    reports: Path
    reporting_currency: str
    cost_basis: str
    lock_timeout_seconds: float
    scenarios: tuple[str, ...]
    unallocated_warning_share: float
    min_people_per_row: int
    report: ReportCfg
    pull: tuple[PullCfg, ...]
    models: tuple[ModelCfg, ...]
    vendors: tuple[VendorCfg, ...]
    activities: dict[str, str]
    rules: tuple[Any, ...]  # tuple[pipeline.config.rules.Rule, ...]
    pii_key: bytes | None = field(repr=False)
    smtp: SmtpSettings
    ingest: IngestCfg = field(default_factory=IngestCfg)
    redact_tag_keys: tuple[str, ...] = REDACT_TAG_KEYS
    planning: PlanningCfg = field(default_factory=PlanningCfg)
    duckdb: DuckdbCfg = field(default_factory=DuckdbCfg)
    # format profile id -> pipeline.ingest.documents.Profile (config/profiles/, see load_settings)
    profiles: dict[str, Any] = field(default_factory=dict)
    fx_pivots: tuple[str, ...] = ()  # costledger.yaml fx.pivots
    trust: dict[str, str] = field(default_factory=dict)  # billing account -> source that counts

    @property
    def work_db(self) -> Path:
        return self.warehouse / "work.duckdb"

    @property
    def published_db(self) -> Path:
        return self.warehouse / "costledger.duckdb"

    @property
    def lock_file(self) -> Path:
        return self.warehouse / ".work.lock"

    @property
    def model_ids(self) -> tuple[str, ...]:
        return tuple(m.id for m in self.models)


def _read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(f"{path}: file not found (set --config or COSTLEDGER_CONFIG to the config folder)")
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return {} if data is None else data


def _validate(model: type[BaseModel], data: Any, path: Path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in err["loc"]).replace(".[", "[")
        value = err.get("input")
        shown = "" if isinstance(value, (dict, list)) or value is None else f" (value: {value!r})"
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{path}: {loc or '<top>'}: {msg}{shown}") from None


def _env_path(name: str, override: str | os.PathLike | None, default: str, base: Path) -> Path:
    """A flag or COSTLEDGER_* path is relative to the current folder; a config path to `base`."""
    given = override if override is not None else os.environ.get(name)
    p = Path(given or default).expanduser()
    return (p if p.is_absolute() else (Path.cwd() if given else base) / p).resolve()


def _recorded_config(folder: Path) -> Path | None:
    """The config folder recorded in `folder`/.costledger-config, if that file exists."""
    pointer = folder / CONFIG_POINTER
    if not pointer.is_file():
        return None
    named = pointer.read_text(encoding="utf-8").strip()
    target = Path(named).expanduser()
    if not named or not target.is_absolute() or not target.is_dir():
        raise ConfigError(
            f"{pointer}: names '{named}', which is not a config folder "
            "(pass --config or COSTLEDGER_CONFIG, or delete the file)"
        )
    return target.resolve()


def resolve_config_dir(
    config: str | os.PathLike | None = None,
    landing: str | os.PathLike | None = None,
    warehouse: str | os.PathLike | None = None,
) -> Path:
    """Which config folder a command uses, first found wins (README: "Which config folder"):

    1. `--config` (the `config` argument);
    2. `COSTLEDGER_CONFIG`;
    3. the folder recorded in `<warehouse>/.costledger-config`, the warehouse given by
       `--warehouse` or `COSTLEDGER_WAREHOUSE`;
    4. the folder recorded in `<landing>/.costledger-config`, the landing given by `--landing`
       or `COSTLEDGER_LANDING`;
    5. the shipped `config/` of the checkout.
    """
    cfg_raw = config if config is not None else os.environ.get("COSTLEDGER_CONFIG")
    if cfg_raw:
        config_dir = Path(cfg_raw).expanduser().resolve()
    else:
        config_dir = SHIPPED_CONFIG
        for given, env in ((warehouse, "COSTLEDGER_WAREHOUSE"), (landing, "COSTLEDGER_LANDING")):
            raw = given if given is not None else os.environ.get(env)
            recorded = _recorded_config(Path(raw).expanduser().resolve()) if raw else None
            if recorded is not None:
                config_dir = recorded
                break
    if not config_dir.is_dir():
        raise ConfigError(f"{config_dir}: config folder not found (set --config or COSTLEDGER_CONFIG)")
    return config_dir


def record_config(settings: Settings) -> None:
    """Write the config folder into the warehouse and the landing folder (see resolve_config_dir)."""
    for folder in (settings.warehouse, settings.landing):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG_POINTER).write_text(f"{settings.config_dir}\n", encoding="utf-8")


def _duckdb_with_env(cfg: DuckdbCfg) -> DuckdbCfg:
    """The config's DuckDB knobs with COSTLEDGER_DUCKDB_* on top; a bad value names its variable."""
    values = cfg.model_dump()
    for key, env in DUCKDB_ENV.items():
        raw = os.environ.get(env)
        if raw is None or not raw.strip():
            continue
        try:
            values[key] = getattr(DuckdbCfg.model_validate({**values, key: raw.strip()}), key)
        except ValidationError as exc:
            why = exc.errors()[0].get("msg", "invalid value")
            raise ConfigError(f"{env}: '{raw}' is not valid for duckdb.{key}: {why}") from None
    return DuckdbCfg.model_validate(values)


def load_settings(
    config: str | os.PathLike | None = None,
    landing: str | os.PathLike | None = None,
    warehouse: str | os.PathLike | None = None,
    reporting_currency: str | None = None,
) -> Settings:
    """Read config/ and COSTLEDGER_* into a validated Settings; raise ConfigError naming file and key."""

    config_dir = resolve_config_dir(config, landing, warehouse)
    # Relative paths in costledger.yaml are relative to the folder that holds config/.
    base = config_dir.parent

    main_path = config_dir / "costledger.yaml"
    main: MainCfg = _validate(MainCfg, _read_yaml(main_path), main_path)
    seen_urls: dict[str, int] = {}
    for i, p in enumerate(main.pull):
        key = p.url.rstrip("/")
        if key in seen_urls:
            raise ConfigError(
                f"{main_path}: pull[{i}].url: '{p.url}' is already pulled by pull[{seen_urls[key]}]"
            )
        seen_urls[key] = i
    ccy = reporting_currency or os.environ.get("COSTLEDGER_REPORTING_CURRENCY") or main.reporting_currency
    if ccy not in iso_currencies():
        raise ConfigError(f"COSTLEDGER_REPORTING_CURRENCY: '{ccy}' is not an ISO-4217 currency code")

    scenarios = tuple(dict.fromkeys([*BUILTIN_SCENARIOS, *main.scenarios]))
    if SEVERAL in scenarios:
        raise ConfigError(f"{main_path}: scenarios: '{SEVERAL}' is reserved for merged people-cost rows")

    models_path = config_dir / "models.yaml"
    models: ModelsFile = _validate(ModelsFile, _read_yaml(models_path), models_path)
    seen: dict[str, str] = {}
    for i, m in enumerate(models.models):
        if m.scenario not in scenarios:
            raise ConfigError(
                f"{models_path}: models[{i}].scenario: '{m.scenario}' is not a known scenario "
                f"(known: {', '.join(scenarios)}; declare more under `scenarios:` in costledger.yaml)"
            )
        for name, value in (("id", m.id), ("team", m.team)):
            if value == SEVERAL:
                raise ConfigError(
                    f"{models_path}: models[{i}].{name}: '{SEVERAL}' is reserved for merged people-cost rows"
                )
        for key in (m.id, *m.aliases):
            k = key.lower()
            if k in seen:
                raise ConfigError(
                    f"{models_path}: models[{i}]: id or alias '{key}' is already used by model '{seen[k]}'"
                )
            seen[k] = m.id

    vendors_path = config_dir / "vendors.yaml"
    vendors: VendorsFile = _validate(VendorsFile, _read_yaml(vendors_path), vendors_path)
    vseen: set[str] = set()
    for i, v in enumerate(vendors.vendors):
        for key in (v.id, *v.aliases):
            if key.lower() in vseen:
                raise ConfigError(f"{vendors_path}: vendors[{i}]: id or alias '{key}' is used twice")
            vseen.add(key.lower())

    act_path = config_dir / "activities.yaml"
    acts: ActivitiesFile = _validate(ActivitiesFile, _read_yaml(act_path), act_path)
    for name, leaf in acts.activities.items():
        if leaf not in LEAVES:
            raise ConfigError(
                f"{act_path}: activities.{name}: '{leaf}' is not a leaf (one of: {', '.join(LEAVES)})"
            )

    profiles = _load_profiles(config_dir)
    # a vendor's `profile:` names a profile that exists, before any data is touched
    from pipeline.ingest.documents.profiles import check_vendor_profiles

    check_vendor_profiles(vendors.vendors, profiles, vendors_path)

    # rules validate against the models, so they come last
    rules_path = config_dir / "cost_rules.yaml"
    rules = compile_rules(_read_yaml(rules_path), rules_path, models.models, scenarios)

    key = os.environ.get("COSTLEDGER_PII_KEY")
    smtp = SmtpSettings(
        host=os.environ.get("COSTLEDGER_SMTP_HOST") or None,
        port=int(os.environ.get("COSTLEDGER_SMTP_PORT") or 25),
        user=os.environ.get("COSTLEDGER_SMTP_USER") or None,
        password=os.environ.get("COSTLEDGER_SMTP_PASSWORD") or None,
        from_address=os.environ.get("COSTLEDGER_SMTP_FROM") or main.report.from_address,
        starttls=(os.environ.get("COSTLEDGER_SMTP_STARTTLS", "false").lower() in ("1", "true", "yes")),
        ssl=(os.environ.get("COSTLEDGER_SMTP_SSL", "false").lower() in ("1", "true", "yes")),
    )
    # config/scenarios.yaml (what-if strategies) is validated with the rest, read where it is used
    from pipeline.config.strategies import load_strategies

    load_strategies(config_dir, tuple(m.id for m in models.models))
    return Settings(
        config_dir=config_dir,
        landing=_env_path("COSTLEDGER_LANDING", landing, main.paths.landing, base),
        warehouse=_env_path("COSTLEDGER_WAREHOUSE", warehouse, main.paths.warehouse, base),
        reports=_env_path("COSTLEDGER_REPORTS", None, main.paths.reports, base),
        reporting_currency=ccy,
        cost_basis=main.cost_basis,
        lock_timeout_seconds=main.lock_timeout_seconds,
        scenarios=scenarios,
        unallocated_warning_share=main.quality.unallocated_warning_share,
        min_people_per_row=main.privacy.min_people_per_row,
        report=main.report,
        pull=tuple(main.pull),
        models=tuple(models.models),
        vendors=tuple(vendors.vendors),
        activities=dict(acts.activities),
        rules=tuple(rules),
        pii_key=key.encode() if key else None,
        smtp=smtp,
        ingest=main.ingest,
        redact_tag_keys=tuple(main.privacy.redact_tag_keys),
        planning=main.planning,
        duckdb=_duckdb_with_env(main.duckdb),
        profiles=profiles,
        fx_pivots=tuple(main.fx.pivots),
        trust=dict(main.trust),
    )


def _load_profiles(config_dir: Path) -> dict[str, Any]:
    """The document format profiles: the shipped ones (config/profiles/), then the config folder's
    own profiles/, which add profiles and replace a shipped one with the same id."""
    # imported here: pipeline.ingest imports this module
    from pipeline.ingest.documents.profiles import load_profiles

    profiles = load_profiles(SHIPPED_CONFIG)
    if config_dir.resolve() != SHIPPED_CONFIG.resolve():
        profiles.update(load_profiles(config_dir))
    return profiles
