"""`costledger pull`: copy billing exports from object stores into landing/, new or changed objects only.

    s3://bucket/prefix/   AWS Data Exports (s3fs)        az://container/prefix/  Azure exports (adlfs)
    gs://bucket/prefix/   GCP billing extracts (gcsfs)   abfs://, abfss://       Azure (adlfs)
    file:///abs/folder/   a mounted or local folder

Everything goes through fsspec; endpoints and credentials come from each client's own settings
(AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID/AWS_PROFILE/instance roles; GOOGLE_APPLICATION_CREDENTIALS,
STORAGE_EMULATOR_HOST; AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_NAME plus a key,
SAS token or service principal), never from costledger's config.

One pull run is all or nothing:
  1. list every configured prefix; an object is new or changed when its version token (S3: ETag and
     size; GCS: generation and MD5; Azure: ETag and last-modified; file: size and mtime) differs
     from the one recorded in landing/.pull/state.json, or its landing copy is gone;
  2. stage each such object under a dot-name beside its target (landing never reads dot-names);
  3. only when every object is staged and its size checked: write a journal, os.replace() each
     staged file over its target, write the new state, drop the journal.
A failure in 1-2 removes what was staged (and the folders the run made): landing is as before.
A crash after the journal is written is rolled forward by the next pull; a crash before it
leaves only dot-files, which the next pull sweeps. Objects deleted at the source stay in
landing: the ledger keeps what it booked (DESIGN section 4).

Pull never opens the work database; it holds its own lock (landing/.pull/lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, InputError, LockBusyError
from pipeline.config.settings import PullCfg, Settings, check_pull_target, check_pull_url

PULL_DIR = ".pull"
STATE_FILE = "state.json"
JOURNAL_FILE = "journal.json"
LOCK_FILE = "lock"
TEMP_PREFIX = ".costledger-pull-"
TEMP_SUFFIX = ".tmp"
STATE_FORMAT = 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Progress = Callable[[str], None] | None


class TransferError(OSError):
    """Listing or copying failed for a reason a retry may fix (network, server, object changed).

    An OSError, not a CostledgerError: the nightly DAG retries I/O errors; the CLI prints it in
    one line. Nothing in landing was changed.
    """


@dataclass(frozen=True)
class RemoteObject:
    key: str  # path below the prefix, '/'-separated: also its path below the target folder
    path: str  # the path the filesystem is asked for
    size: int
    version: str  # the change token recorded in the state


@dataclass
class SourceResult:
    url: str
    to: str
    listed: int = 0
    transferred: int = 0
    bytes: int = 0
    unchanged: int = 0
    ignored: list[str] = field(default_factory=list)  # hidden names: landing would never read them
    gone: int = 0  # pulled before, no longer at the source (kept in landing)


# --- the state file, written atomically ---------------------------------------------------------


def _pull_dir(landing: Path) -> Path:
    return landing / PULL_DIR


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f"{TEMP_PREFIX}{path.stem}-{secrets.token_hex(4)}{TEMP_SUFFIX}")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_state(landing: Path) -> dict:
    """The recorded version of every object pulled so far: {url: {"to": folder, "objects": {key: {...}}}}."""
    path = _pull_dir(landing) / STATE_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(
            f"{path}: not a pull state file; move it away and pull again (everything is re-transferred)"
        ) from None
    if data.get("format") != STATE_FORMAT:
        raise InputError(f"{path}: state format {data.get('format')!r} is not {STATE_FORMAT}")
    return data.get("sources", {})


@contextlib.contextmanager
def _pull_lock(landing: Path, timeout: float) -> Iterator[None]:
    """One pull at a time per landing folder (an flock: a crashed pull never leaves it held)."""
    d = _pull_dir(landing)
    d.mkdir(parents=True, exist_ok=True)
    fd = os.open(d / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockBusyError(
                        f"another costledger pull is writing {landing}; waited {timeout:.0f}s — try again later"
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _recover(landing: Path) -> None:
    """Finish a pull that crashed after committing (journal present); sweep staged files of one that did not."""
    journal = _pull_dir(landing) / JOURNAL_FILE
    if journal.exists():
        data = json.loads(journal.read_text(encoding="utf-8"))
        for tmp_rel, target_rel in data["renames"]:
            tmp = landing / tmp_rel
            if tmp.exists():
                os.replace(tmp, landing / target_rel)
        _write_json_atomic(_pull_dir(landing) / STATE_FILE, data["state"])
        journal.unlink()
    for stray in landing.rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            stray.unlink()


# --- listing ------------------------------------------------------------------------------------


def state_key(url: str) -> str:
    """s3://b/p and s3://b/p/ are one source."""
    return url.rstrip("/")


def _scheme(url: str) -> str:
    return url.partition("://")[0].lower()


def _open(url: str):
    """The fsspec filesystem and root path of a URL: a fresh instance, so env changes are seen."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(url, skip_instance_cache=True)
    except ImportError as exc:  # a scheme whose client library is not installed
        raise ConfigError(f"{url}: cannot open ({exc}); install costledger's pinned requirements") from None


def version_token(scheme: str, info: dict) -> str:
    """What says an object changed, from its listing entry (the cheapest field each store keeps)."""

    def get(*names):
        for n in names:
            if info.get(n) not in (None, ""):
                v = info[n]
                return v.isoformat() if isinstance(v, datetime) else str(v)
        return None

    size = info.get("size")
    if scheme == "s3":
        etag = get("ETag", "etag")
        if etag:
            return f"etag={etag};size={size}"
    elif scheme in ("gs", "gcs"):
        gen, md5 = get("generation"), get("md5Hash", "crc32c")
        if gen:
            return f"generation={gen};md5={md5}"
    elif scheme in ("az", "abfs", "abfss"):
        etag, modified = get("etag", "ETag"), get("last_modified", "LastModified")
        if etag:
            return f"etag={etag};last_modified={modified}"
    elif scheme == "file":
        return f"size={size};mtime={info.get('mtime')!r}"
    # A store that keeps no ETag/generation: size and modification time.
    return f"size={size};modified={get('LastModified', 'last_modified', 'updated', 'mtime')}"


def check_key(url: str, key: str, to: str) -> None:
    """Refuse an object key that would land outside its target folder, in one line."""
    why = None
    if not key:
        why = "is empty"
    elif _CONTROL.search(key):
        why = "contains a control character"
    elif key.startswith("/"):
        why = "is absolute"
    elif any(p in ("", ".", "..") for p in key.split("/")):
        why = "has an empty, '.' or '..' part"
    if why:
        raise InputError(
            f"{url}: object key {key!r} {why}: it would not land inside landing/{to}; "
            "nothing was pulled (rename or remove the object at the source)"
        )


def list_objects(fs, root: str, url: str, to: str) -> tuple[list[RemoteObject], list[str]]:
    """(objects to consider, hidden keys ignored) under the prefix, sorted by key."""
    scheme = _scheme(url)
    try:
        found = fs.find(root, detail=True)
    except FileNotFoundError:
        raise InputError(f"{url}: bucket, container or folder not found; check the url") from None
    except PermissionError as exc:
        raise InputError(
            f"{url}: access denied listing the prefix ({_one_line(exc)}); check credentials"
        ) from None
    except Exception as exc:  # network, server, throttling: a retry may fix it
        raise TransferError(f"{url}: listing failed: {_one_line(exc)}") from exc
    base = root.rstrip("/")
    objects, hidden = [], []
    for path, info in sorted(found.items()):
        if info.get("type", "file") != "file" or path.endswith("/"):
            continue  # "folder" placeholder objects
        if path == base:  # the URL names one object
            key = path.rsplit("/", 1)[-1]
        elif path.startswith(base + "/"):
            key = path[len(base) + 1 :]
        else:  # a sibling sharing the prefix text (s3://b/p matched s3://b/px/...): not ours
            continue
        check_key(url, key, to)
        if any(p.startswith(".") for p in key.split("/")):
            hidden.append(key)
            continue
        objects.append(RemoteObject(key, path, int(info.get("size") or 0), version_token(scheme, info)))
    return objects, hidden


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


# --- staging and committing ---------------------------------------------------------------------


@dataclass
class _Staged:
    obj: RemoteObject
    target: Path
    tmp: Path


@dataclass
class _Plan:
    """Everything one pull run will change, so it can be undone before the commit."""

    staged: list[_Staged] = field(default_factory=list)
    made_dirs: list[Path] = field(default_factory=list)

    def makedirs(self, path: Path, landing: Path) -> None:
        missing = []
        p = path
        while not p.exists():
            missing.append(p)
            p = p.parent
        if not p.is_dir():
            raise InputError(
                f"landing/{p.relative_to(landing).as_posix()} is a file where pull needs a folder; nothing was pulled"
            )
        for d in reversed(missing):
            d.mkdir()
            self.made_dirs.append(d)

    def undo(self) -> None:
        for s in self.staged:
            with contextlib.suppress(FileNotFoundError):
                s.tmp.unlink()
        for d in reversed(self.made_dirs):
            with contextlib.suppress(OSError):
                d.rmdir()


def _target(landing: Path, to: str, key: str, url: str) -> Path:
    folder = landing / to
    target = folder / key
    # A symlinked folder inside landing must not carry a pull outside it.
    real_landing = landing.resolve()
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.resolve().is_relative_to(real_landing):
        raise InputError(
            f"{url}: {key!r} would be written through {parent}, which leads outside {landing}; "
            "nothing was pulled (remove the symlink)"
        )
    return target


def _transfer(fs, url: str, items: list[_Staged], progress: Progress) -> None:
    """Copy the objects to their staged names, concurrently where the filesystem can."""
    from fsspec.callbacks import Callback

    def tick(size, value, **_kw) -> None:
        if progress and value and value % 50 == 0 and value < len(items):
            progress(f"{url}: {value}/{len(items)} objects done")

    try:
        fs.get([s.obj.path for s in items], [str(s.tmp) for s in items], callback=Callback(hooks={"n": tick}))
    except FileNotFoundError as exc:
        raise TransferError(f"{url}: an object disappeared while it was pulled ({_one_line(exc)})") from exc
    except PermissionError as exc:
        raise InputError(
            f"{url}: access denied reading an object ({_one_line(exc)}); check credentials"
        ) from None
    except Exception as exc:
        raise TransferError(f"{url}: copy failed: {_one_line(exc)}") from exc
    for s in items:
        try:
            size = s.tmp.stat().st_size
        except FileNotFoundError:
            raise TransferError(f"{url}: {s.obj.key} was not written; try again") from None
        if size != s.obj.size:
            raise TransferError(
                f"{url}: {s.obj.key} is {size} bytes, the listing said {s.obj.size}: "
                "it changed while it was pulled; try again"
            )
        with open(s.tmp, "rb") as fh:  # durable before the journal points at it
            os.fsync(fh.fileno())


def _commit(landing: Path, plan: _Plan, state: dict) -> None:
    d = _pull_dir(landing)
    renames = [
        [s.tmp.relative_to(landing).as_posix(), s.target.relative_to(landing).as_posix()] for s in plan.staged
    ]
    new_state = {"format": STATE_FORMAT, "sources": state}
    try:
        for s in plan.staged:  # a folder where a file must go would fail the swap half-way: refuse now
            if s.target.is_dir():
                raise InputError(
                    f"landing/{s.target.relative_to(landing).as_posix()} is a folder, but an object of that "
                    "name was pulled; nothing was pulled (an object key and a folder collide)"
                )
        _write_json_atomic(d / JOURNAL_FILE, {"renames": renames, "state": new_state})
    except BaseException:
        plan.undo()
        raise
    # From here on the pull is committed: a crash is rolled forward by the next pull.
    for s in plan.staged:
        os.replace(s.tmp, s.target)
    for parent in {s.target.parent for s in plan.staged}:
        _fsync_dir(parent)
    _write_json_atomic(d / STATE_FILE, new_state)
    (d / JOURNAL_FILE).unlink()


# --- the pull -----------------------------------------------------------------------------------


def adhoc_source(url: str, to: str) -> PullCfg:
    """A `costledger pull URL --to FOLDER` source, validated like a config entry (one-line errors)."""
    try:
        check_pull_url(url)
    except ValueError as exc:
        raise ConfigError(f"pull URL: {exc}") from None
    try:
        to = check_pull_target(to)
    except ValueError as exc:
        raise ConfigError(f"--to: {exc}") from None
    return PullCfg(url=url, to=to)


def pull(settings: Settings, sources: Sequence[PullCfg] | None = None, progress: Progress = None) -> dict:
    """Sync the configured prefixes (or `sources`) into landing/; return what was transferred.

    Raises ConfigError/InputError for what a person must fix (nothing changed), TransferError
    for what a retry may fix (nothing changed), LockBusyError when another pull is running.
    """
    sources = list(settings.pull if sources is None else sources)
    t0 = time.perf_counter()
    results = [SourceResult(s.url, s.to) for s in sources]
    if not sources:
        return _summary(results, t0)
    landing = settings.landing
    landing.mkdir(parents=True, exist_ok=True)
    with _pull_lock(landing, settings.lock_timeout_seconds):
        _recover(landing)
        old_state = read_state(landing)
        new_state = {url: entry for url, entry in old_state.items()}
        plan = _Plan()
        targets: dict[Path, str] = {}
        try:
            for src, res in zip(sources, results, strict=True):
                fs, root = _open(src.url)
                objects, res.ignored = list_objects(fs, root, src.url, src.to)
                res.listed = len(objects)
                skey = state_key(src.url)
                before = old_state.get(skey, {})
                recorded = before.get("objects", {}) if before.get("to") == src.to else {}
                entry = {"to": src.to, "objects": {}}
                todo: list[_Staged] = []
                for obj in objects:
                    target = _target(landing, src.to, obj.key, src.url)
                    if target in targets:
                        raise InputError(
                            f"{src.url}: {obj.key} would overwrite landing/{src.to}/{obj.key}, "
                            f"also pulled from {targets[target]}; give the two pulls different `to` folders"
                        )
                    targets[target] = src.url
                    rec = recorded.get(obj.key)
                    if (
                        rec
                        and rec.get("version") == obj.version
                        and target.is_file()
                        and target.stat().st_size == obj.size
                    ):
                        res.unchanged += 1
                        entry["objects"][obj.key] = rec
                        continue
                    plan.makedirs(target.parent, landing)
                    staged = _Staged(
                        obj, target, target.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}{TEMP_SUFFIX}")
                    )
                    plan.staged.append(staged)
                    todo.append(staged)
                    entry["objects"][obj.key] = {
                        "version": obj.version,
                        "size": obj.size,
                        "pulled_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                res.gone = len(set(recorded) - {o.key for o in objects})
                if progress:
                    progress(
                        f"{src.url} -> landing/{src.to}: {len(objects)} objects, {len(todo)} new or changed"
                    )
                if todo:
                    _transfer(fs, src.url, todo, progress)
                res.transferred = len(todo)
                res.bytes = sum(s.obj.size for s in todo)
                new_state[skey] = entry
        except BaseException:
            plan.undo()
            raise
        if plan.staged or new_state != old_state:
            _commit(landing, plan, new_state)
    return _summary(results, t0)


def _summary(results: list[SourceResult], t0: float) -> dict:
    return {
        "sources": [r.__dict__ for r in results],
        "listed": sum(r.listed for r in results),
        "transferred": sum(r.transferred for r in results),
        "bytes": sum(r.bytes for r in results),
        "unchanged": sum(r.unchanged for r in results),
        "seconds": round(time.perf_counter() - t0, 3),
    }
