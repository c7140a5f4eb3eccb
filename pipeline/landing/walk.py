"""The landing zone: which files are there, which source each belongs to, what changed.

A file is known by its path relative to landing/. Compared with audit.files:
  new        never seen            -> load
  changed    same path, new sha256 -> load, replacing what it contributed
  unchanged  same sha256           -> nothing to do
  duplicate  content booked under another path -> recorded, never booked twice
  missing    booked before, gone   -> keep its rows, list it in status (until `forget`)

Nothing outside the landing folder is ever opened: the folder is walked without following
symbolic links; a link whose target resolves outside landing/ is refused unread, a link inside
it is an alias of its target (recorded as a duplicate, never booked itself). Every file is
opened with O_NOFOLLOW and checked to lie inside landing/ once open, and DuckDB reads the open
file (/proc/self/fd/N), so a name is never expanded as a glob. Names with control characters
are refused and only ever shown escaped, so no name can forge a log line.

A file is hashed once per content, not once per run: its sha256 is kept (audit.file_hashes) with
its size, mtime, ctime, inode and device, and a file whose five are all as they were is taken to
hold what it held (`ingest.trust_file_stat`). ctime is set by the kernel on every write, rename
or `touch`, and cannot be set back, so restoring an mtime does not hide a change. A file written
within QUIET_NS before it was hashed is "racy" (a second write in the same clock tick would leave
every field as it was): its hash is not kept, and it is hashed again next run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import io
import os
import re
import stat
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import InputError
from pipeline.landing.prescan import Caps, Prescan, kind_of, open_fd, prescan_fd
from pipeline.config.settings import IngestCfg, Settings

# source -> its folder under landing/. Every file there is the source's: one of the wrong type
# is refused by the source's reader (it names the types it reads), never skipped silently.
SOURCE_FOLDERS: dict[str, str] = {
    "focus": "focus",
    "aws_cur": "aws_cur",
    "gcp_billing": "gcp_billing",
    "azure_cost": "azure_cost",
    "focus_commitments": "focus",  # FOCUS 1.3 Contract Commitment files beside the cost files
    "invoices": "invoices",
    "timesheets": "timesheets",
    "hr_rates": "hr_rates",
    "hr_loadings": "hr_loadings",
    "fx_rates": "fx_rates",
    "budgets": "budgets",
    "metrics": "metrics",
    "assets": "assets",
    "business_metrics": "business_metrics",
}
# Folders DESIGN names whose native formats are not read yet: listed, never silently ignored.
UNSUPPORTED_FOLDERS = {
}
IGNORED_NAMES = {".DS_Store", "README.md", "README.txt"}
# Bidirectional-text controls reorder what a terminal shows: as dangerous in a name as a newline.
_BIDI = {"\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}
_PROC_FD = Path("/proc/self/fd")


# How long a file must have been left alone before it was hashed for its hash to be kept.
QUIET_NS = 2_000_000_000


@dataclass(frozen=True)
class FileStat:
    """What the file system says about a file, every field of which a write or a rename changes."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileStat:
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


@dataclass(frozen=True)
class LandingFile:
    source: str
    rel: str  # path relative to landing/, with forward slashes
    path: Path
    sha256: str
    size: int
    mtime_ns: int = 0
    delivery: str = ""  # the delivery it is part of (see delivery_of)
    scan: Prescan | None = None  # the pre-scan of its bytes (counts only when `scan.counted`)
    reader_path: str | None = None  # what DuckDB opens while the file is held open (see opened)
    fd: int | None = None  # the open file, for Python's own reads (see opened)
    caps: Caps | None = None


@dataclass(frozen=True)
class Refused:
    """Found under a source folder and refused without being read (not even hashed)."""

    source: str
    rel: str  # as shown: escaped (repr) when the name has control characters
    message: str


@dataclass(frozen=True)
class Alias:
    """A symbolic link inside landing/ to a path inside it: recorded, never booked itself."""

    source: str
    rel: str
    target: str  # the target's path relative to landing/


@dataclass
class Survey:
    files: list[LandingFile] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    aliases: list[Alias] = field(default_factory=list)
    hashed: dict[str, tuple[FileStat, str]] = field(default_factory=dict)  # rel -> (stat, sha256) to keep


def unsafe_name(name: str) -> bool:
    """True when a name holds control characters (newline, tab, ESC, ...), undecodable bytes,
    line/paragraph separators or bidirectional controls."""
    return any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") or c in _BIDI for c in name)


def shown(name: str) -> str:
    """A name as messages show it: as is when harmless, else escaped like a Python literal."""
    return ascii(name) if unsafe_name(name) else name


def landing_root(settings: Settings) -> Path:
    """The landing folder, resolved; a folder that does not exist is an error, not an empty night."""
    root = settings.landing
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise InputError(
            f"{shown(str(root))}: the landing folder {what}; check --landing, COSTLEDGER_LANDING or "
            "paths.landing (is the share mounted?) — nothing was read or published"
        )
    return Path(os.path.realpath(root))


def _inside(root: Path, real: str) -> bool:
    return real == str(root) or real.startswith(str(root) + os.sep)


def ingest_cfg(settings) -> IngestCfg:
    return getattr(settings, "ingest", None) or IngestCfg()


def _is_manifest(rel: str) -> bool:
    # AWS Data Exports keep manifests under metadata/; Azure exports put manifest.json beside the
    # data; legacy CUR puts <report>-Manifest.json beside its period's assembly folders.
    name = rel.rsplit("/", 1)[-1].lower()
    return (
        ("/metadata/" in f"/{rel}" and name.endswith(".json"))
        or name == "manifest.json"
        or name.endswith("-manifest.json")
    )


# --- deliveries -------------------------------------------------------------------------------

_PARTITION = re.compile(r"^(?P<folder>.+/data/[^/=]+=[^/]+)/[^/]+$")
_PART_NAME = re.compile(r"^(?:(?P<part>part)[-_]\d.*|(?P<base>.+[-_.])0\d{3,})$", re.IGNORECASE)


def delivery_of(root: Path, rel: str) -> str:
    """The delivery a data file is part of: files of one delivery are parts of one export and may
    describe the same billing account and period; files of different deliveries may not.

    - AWS Data Exports layout: every file of `<export>/data/<PARTITION>=<value>/` (one billing
      period of one export);
    - a folder holding a `manifest.json` (an Azure Cost Management export run): the folder;
    - numbered parts of one name in one folder (`part_0_0001.csv`, `part-00000-….parquet`,
      `<name>-00001.csv.gz`: a zero-padded number of 4+ digits ending the name);
    - anything else: the file by itself.
    """
    m = _PARTITION.match(rel)
    if m:
        return m["folder"]
    folder, _, name = rel.rpartition("/")
    if folder and os.path.lexists(root / folder / "manifest.json"):
        return folder
    part = _PART_NAME.match(name.split(".", 1)[0])
    if part:
        return f"{folder}/{part['part'] or part['base']}*" if folder else f"{part['part'] or part['base']}*"
    return rel


# --- walking ----------------------------------------------------------------------------------


def _entries(top: Path) -> Iterator[os.DirEntry]:
    """Every entry under `top`, depth first in name order, never through a symbolic link."""
    try:
        with os.scandir(top) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return
    for e in entries:
        yield e
        if e.is_dir(follow_symlinks=False) and not unsafe_name(e.name):
            yield from _entries(Path(e.path))


def survey(
    settings: Settings,
    source: str,
    known_sizes: dict[str, int] | None = None,
    hashes: dict[str, tuple[FileStat, str]] | None = None,
) -> Survey:
    """Every data file of one source (sorted by path), hashed, and what was refused unread.

    A file whose path and size match a known file is only hashed (most likely unchanged); any
    other CSV is also counted and checked against the caps in the same read (`LandingFile.scan`).
    A file whose stat equals the one `hashes` keeps for its path is not read at all: it gets the
    kept sha256 and no scan (`opened` reads it if it is loaded). `Survey.hashed` holds the hashes
    worth keeping from this survey.
    """
    out = Survey()
    root = landing_root(settings)
    top = root / SOURCE_FOLDERS[source]
    if top.is_symlink():
        link = _link(root, source, SOURCE_FOLDERS[source], str(top))
        (out.refused if isinstance(link, Refused) else out.aliases).append(link)
        return out
    if not top.is_dir():
        return out
    caps = Caps.of(ingest_cfg(settings))
    known_sizes = known_sizes or {}
    hashes = hashes if hashes is not None and ingest_cfg(settings).trust_file_stat else {}
    for e in _entries(top):
        rel = Path(e.path).relative_to(root).as_posix()
        if unsafe_name(e.name):
            what = "folder" if e.is_dir(follow_symlinks=False) else "file"
            out.refused.append(
                Refused(
                    source,
                    shown(rel),
                    f"{shown(rel)}: the {what} name holds control characters; refused unread "
                    "(rename it; names are shown escaped)",
                )
            )
            continue
        if e.is_symlink():
            out_link = _link(root, source, rel, e.path)
            if isinstance(out_link, Refused):
                out.refused.append(out_link)
            elif out_link is not None:
                out.aliases.append(out_link)
            continue
        if e.is_dir(follow_symlinks=False):
            continue
        if e.name in IGNORED_NAMES or e.name.startswith(".") or _is_manifest(rel):
            continue
        if not e.is_file(follow_symlinks=False):
            out.refused.append(
                Refused(source, rel, f"{rel}: not a regular file (a pipe, socket or device); refused unread")
            )
            continue
        st = e.stat(follow_symlinks=False)
        kept = hashes.get(rel)
        if kept is not None and kept[0] == FileStat.of(st):
            out.files.append(
                LandingFile(
                    source, rel, Path(e.path), kept[1], st.st_size, st.st_mtime_ns, delivery_of(root, rel)
                )
            )
            continue
        count = known_sizes.get(rel) != st.st_size
        try:
            with opened_fd(root, Path(e.path), rel) as fd:
                before, started = FileStat.of(os.fstat(fd)), time.time_ns()
                scan = prescan_fd(fd, rel, kind_of(e.name), caps, count=count)
                if before == FileStat.of(os.fstat(fd)) and before.ctime_ns < started - QUIET_NS:
                    out.hashed[rel] = (before, scan.sha256)
        except InputError as exc:
            out.refused.append(Refused(source, rel, str(exc)))
            continue
        out.files.append(
            LandingFile(
                source,
                rel,
                Path(e.path),
                scan.sha256,
                scan.size,
                before.mtime_ns,
                delivery_of(root, rel),
                scan,
            )
        )
    out.files.sort(key=lambda f: f.rel)
    return out


def _refused_link(root: Path, source: str, rel: str) -> Refused:
    return Refused(
        source,
        rel,
        f"{rel}: a symbolic link to a target outside the landing folder; refused unread "
        "(copy the file into landing/ instead)",
    )


def _link(root: Path, source: str, rel: str, path: str) -> Refused | Alias | None:
    real = os.path.realpath(path)
    if not _inside(root, real):
        return _refused_link(root, source, rel)
    if not os.path.exists(real):
        return Refused(source, rel, f"{rel}: a symbolic link whose target does not exist; refused")
    target = Path(real).relative_to(root).as_posix() if real != str(root) else "."
    if unsafe_name(target):
        return Refused(
            source, rel, f"{rel}: a symbolic link to a name with control characters; refused unread"
        )
    return Alias(source, rel, target)


def scan(settings: Settings, source: str) -> list[LandingFile]:
    """Every data file of one source, sorted by path (so 'later' files sort later)."""
    return survey(settings, source).files


@contextlib.contextmanager
def opened_fd(root: Path, path: Path, rel: str) -> Iterator[int]:
    """Open a landing file for reading: never through a final symlink, never a pipe or device,
    and only when the open file lies inside the landing folder."""
    try:
        fd = open_fd(path)
    except OSError as exc:
        reason = "a symbolic link" if exc.errno == errno.ELOOP else (exc.strerror or str(exc))
        raise InputError(f"{rel}: cannot be opened ({reason}); refused unread") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{rel}: not a regular file; refused unread")
        if _PROC_FD.is_dir():
            real = os.readlink(_PROC_FD / str(fd))
            if not _inside(root, real):
                raise InputError(f"{rel}: resolves outside the landing folder; refused unread")
        yield fd
    finally:
        os.close(fd)


def read_small(settings, path: Path, limit: int) -> bytes:
    """The bytes of a small landing file (a manifest), opened like a data file; InputError when it
    is not a regular file inside landing/ or is longer than `limit`."""
    root = Path(os.path.realpath(settings.landing))
    rel = shown(Path(os.path.abspath(path)).relative_to(Path(os.path.abspath(settings.landing))).as_posix())
    with opened_fd(root, path, rel) as fd:
        if os.fstat(fd).st_size > limit:
            raise InputError(f"{rel}: larger than {limit} bytes; not read")
        with io.FileIO(os.dup(fd), "rb") as fh:
            return fh.read(limit + 1)[:limit]


def _glob_literal(path: str) -> str:
    """A path DuckDB's glob matches only literally: `*`, `?` and `[` inside brackets."""
    return re.sub(r"([*?\[])", r"[\1]", path)


class ChangedWhileRead(InputError):
    """The bytes read are not the bytes hashed: the file changed under the run, or the hash kept
    for its stat (audit.file_hashes) is stale. The caller drops the kept hash."""


@contextlib.contextmanager
def opened(settings: Settings, f: LandingFile) -> Iterator[LandingFile]:
    """Hold `f` open for its reader; yield it with `reader_path` (the open file, never a glob) and
    a pre-scan that has counted its lines. Refuses (InputError) a file that changed since it was
    hashed or that exceeds a cap."""
    root = landing_root(settings)
    with opened_fd(root, f.path, f.rel) as fd:
        st = os.fstat(fd)
        scan = f.scan
        kind = kind_of(f.path.name)
        changed = st.st_size != f.size or st.st_mtime_ns != f.mtime_ns
        if scan is None or changed or (kind in ("csv", "csv.gz") and not scan.counted):
            scan = prescan_fd(fd, f.rel, kind, Caps.of(ingest_cfg(settings)), count=True)
            if scan.sha256 != f.sha256:
                raise ChangedWhileRead(
                    f"{f.rel}: changed while this run was reading it; nothing of it was booked — run again"
                )
        if scan.problem:
            raise InputError(scan.problem)
        reader = str(_PROC_FD / str(fd)) if _PROC_FD.is_dir() else _glob_literal(str(f.path))
        caps = Caps.of(ingest_cfg(settings))
        yield dataclasses.replace(f, scan=scan, reader_path=reader, fd=fd, caps=caps)


def unsupported_files(settings: Settings) -> list[tuple[str, str]]:
    """(relative path as shown, why) for files in folders costledger does not read."""
    out: list[tuple[str, str]] = []
    if not settings.landing.is_dir():
        return out
    root = Path(os.path.realpath(settings.landing))
    known = set(SOURCE_FOLDERS.values())
    for top in _entries_top(root):
        if top.name.startswith(".") or top.name in IGNORED_NAMES or top.name in known:
            continue
        why = UNSUPPORTED_FOLDERS.get(
            top.name, f"'{shown(top.name)}/' is not a landing folder costledger knows"
        )
        if top.is_dir(follow_symlinks=False) and not unsafe_name(top.name):
            found = [e for e in _entries(Path(top.path)) if not e.is_dir(follow_symlinks=False)]
        else:
            found = [top]
        for e in found:
            out.append((shown(Path(e.path).relative_to(root).as_posix()), why))
    return out


def _entries_top(root: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(root) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError:
        return []
