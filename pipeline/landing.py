"""The landing zone: which files are there, which source each belongs to, what changed.

A file is known by its path relative to landing/. Compared with audit.files:
  new        never seen            -> load
  changed    same path, new sha256 -> load, replacing what it contributed
  unchanged  same sha256           -> nothing to do
  missing    booked before, gone   -> keep its rows, list it in status
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pipeline.settings import Settings

# source -> its folder under landing/. Every file there is the source's: one of the wrong type
# is refused by the source's reader (it names the types it reads), never skipped silently.
SOURCE_FOLDERS: dict[str, str] = {
    "focus": "focus",
    "invoices": "invoices",
    "timesheets": "timesheets",
    "hr_rates": "hr_rates",
    "fx_rates": "fx_rates",
    "budgets": "budgets",
    "metrics": "metrics",
}
# Folders DESIGN names whose native formats are not read yet: listed, never silently ignored.
UNSUPPORTED_FOLDERS = {
    "aws_cur": "CUR 2.0 exports are not read yet; export FOCUS 1.x to landing/focus/ instead",
    "gcp_billing": "GCP billing export extracts are not read yet; use the FOCUS view export under landing/focus/",
    "azure_cost": "Azure cost details exports are not read yet; use the FOCUS cost export under landing/focus/",
}
IGNORED_NAMES = {".DS_Store", "README.md", "README.txt"}


@dataclass(frozen=True)
class LandingFile:
    source: str
    rel: str  # path relative to landing/, with forward slashes
    path: Path
    sha256: str
    size: int


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _is_manifest(rel: str) -> bool:
    # AWS Data Exports keep manifests under metadata/; Azure exports put manifest.json beside the data.
    name = rel.rsplit("/", 1)[-1].lower()
    return ("/metadata/" in f"/{rel}" and name.endswith(".json")) or name == "manifest.json"


def scan(settings: Settings, source: str) -> list[LandingFile]:
    """Every data file of one source, sorted by path (so 'later' files sort later)."""
    root = settings.landing / SOURCE_FOLDERS[source]
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name in IGNORED_NAMES or p.name.startswith("."):
            continue
        rel = p.relative_to(settings.landing).as_posix()
        if _is_manifest(rel):
            continue
        out.append(LandingFile(source, rel, p, sha256_of(p), p.stat().st_size))
    return out


def unsupported_files(settings: Settings) -> list[tuple[str, str]]:
    """(relative path, why) for files in folders costledger does not read."""
    out = []
    if not settings.landing.is_dir():
        return out
    known = set(SOURCE_FOLDERS.values())
    for top in sorted(settings.landing.iterdir()):
        if top.name.startswith(".") or top.name in IGNORED_NAMES or top.name in known:
            continue
        why = UNSUPPORTED_FOLDERS.get(top.name, f"'{top.name}/' is not a landing folder costledger knows")
        files = [top] if top.is_file() else [p for p in sorted(top.rglob("*")) if p.is_file()]
        for p in files:
            out.append((p.relative_to(settings.landing).as_posix(), why))
    return out
