"""The landing walk: nothing outside the landing folder is opened, names are taken literally and
shown escaped, and every data file knows the delivery it is part of."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.errors import InputError
from pipeline.landing.walk import delivery_of, landing_root, shown, survey, unsafe_name, unsupported_files
from tests.conftest import REPO

HEADER = (
    "BilledCost,EffectiveCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ProviderName\n"
)


def settings(landing: Path):
    return SimpleNamespace(landing=landing)


@pytest.fixture
def landing(tmp_path) -> Path:
    root = tmp_path / "landing"
    (root / "focus" / "x").mkdir(parents=True)
    (root / "focus" / "x" / "good.csv").write_text(HEADER + "1,1,USD,2026-09-01,2026-09-02,Usage,AWS\n")
    return root


def test_a_symlink_out_of_landing_is_refused_and_never_hashed(landing, tmp_path):
    outside = tmp_path / "secret.csv"
    outside.write_text(HEADER + "9,9,USD,2026-09-01,2026-09-02,Usage,AWS\n")
    (landing / "focus" / "x" / "leak.csv").symlink_to(outside)
    (landing / "focus" / "x" / "shadow.csv").symlink_to("/etc/shadow")
    (landing / "focus" / "linked-dir").symlink_to(tmp_path)  # a folder link out of landing
    found = survey(settings(landing), "focus")
    assert [f.rel for f in found.files] == ["focus/x/good.csv"]
    refused = {r.rel: r.message for r in found.refused}
    assert set(refused) == {"focus/x/leak.csv", "focus/x/shadow.csv", "focus/linked-dir"}
    for rel, msg in refused.items():
        assert msg == (
            f"{rel}: a symbolic link to a target outside the landing folder; refused unread "
            "(copy the file into landing/ instead)"
        )
        assert "secret" not in msg and "shadow" not in msg.replace("shadow.csv", "")
    secret_sha = hashlib.sha256(outside.read_bytes()).hexdigest()
    assert all(f.sha256 != secret_sha for f in found.files)


def test_a_symlink_inside_landing_is_an_alias_of_its_target_never_read_itself(landing):
    (landing / "focus" / "y").mkdir()
    (landing / "focus" / "y" / "same.csv").symlink_to(landing / "focus" / "x" / "good.csv")
    found = survey(settings(landing), "focus")
    assert [f.rel for f in found.files] == ["focus/x/good.csv"]
    assert [(a.rel, a.target) for a in found.aliases] == [("focus/y/same.csv", "focus/x/good.csv")]


@pytest.mark.parametrize(
    "name", ["evil\nname.csv", "tab\there.csv", "esc\x1b[31mred.csv", "bidi\u202eVSC.csv"]
)
def test_names_with_control_characters_are_refused_and_shown_escaped(landing, name):
    (landing / "focus" / "x" / name).write_text(HEADER)
    found = survey(settings(landing), "focus")
    assert [f.rel for f in found.files] == ["focus/x/good.csv"]
    (refused,) = found.refused
    assert refused.rel == ascii(f"focus/x/{name}")
    assert refused.message.startswith(ascii(f"focus/x/{name}") + ": the file name holds control characters")
    assert refused.message.isprintable() and "\n" not in refused.message


def test_glob_characters_are_ordinary_characters(landing):
    for name in ("*.csv", "a[1].csv", "a1.csv", "q?.csv"):
        (landing / "focus" / "x" / name).write_text(HEADER)
    rels = [f.rel for f in survey(settings(landing), "focus").files]
    assert rels == sorted(f"focus/x/{n}" for n in ("*.csv", "a[1].csv", "a1.csv", "good.csv", "q?.csv"))
    assert not unsafe_name("*.csv") and shown("a[1].csv") == "a[1].csv"


def test_a_pipe_in_landing_is_refused_unread(landing):
    os.mkfifo(landing / "focus" / "x" / "pipe.csv")
    found = survey(settings(landing), "focus")  # would hang if the pipe were opened for reading
    assert [r.message for r in found.refused] == [
        "focus/x/pipe.csv: not a regular file (a pipe, socket or device); refused unread"
    ]


def test_a_landing_folder_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(InputError) as err:
        landing_root(settings(tmp_path / "nowhere"))
    assert str(err.value).startswith(f"{tmp_path / 'nowhere'}: the landing folder does not exist")


def test_unsupported_folders_list_names_escaped(landing):
    (landing / "stash\nx").mkdir()
    (landing / "oracle_cost").mkdir()
    (landing / "oracle_cost" / "a.csv").write_text("x")
    (landing / "aws_cur").mkdir()  # read since issue 11: not listed
    (landing / "aws_cur" / "b.csv").write_text("x")
    listed = dict(unsupported_files(settings(landing)))
    assert "oracle_cost/a.csv" in listed and "aws_cur/b.csv" not in listed
    assert ascii("stash\nx") in listed and all("\n" not in k for k in listed)


@pytest.mark.parametrize(
    "rel, delivery",
    [
        # AWS Data Exports: one billing period of one export
        (
            "focus/aws/exp/data/BILLING_PERIOD=2026-01/exp-00001.csv.gz",
            "focus/aws/exp/data/BILLING_PERIOD=2026-01",
        ),
        # numbered parts of one name in one folder
        ("focus/gcp/bq/gcp_focus_2026-01-000000000000.parquet", "focus/gcp/bq/gcp_focus_2026-01-*"),
        ("focus/gcp/bq/gcp_focus_2026-01-000000000001.parquet", "focus/gcp/bq/gcp_focus_2026-01-*"),
        ("focus/spark/part-00000-1b2c.snappy.parquet", "focus/spark/part*"),
        # a plain file is its own delivery: a re-export beside it is another one
        ("focus/alibaba/alibaba-focus-2026-10.parquet", "focus/alibaba/alibaba-focus-2026-10.parquet"),
        (
            "focus/alibaba/alibaba-focus-2026-10 (1).parquet",
            "focus/alibaba/alibaba-focus-2026-10 (1).parquet",
        ),
        ("focus/daily/focus_20261101.csv", "focus/daily/focus_20261101.csv"),
    ],
)
def test_delivery_of_a_file(tmp_path, rel, delivery):
    assert delivery_of(tmp_path, rel) == delivery


def test_an_azure_export_run_is_one_delivery(tmp_path):
    run = tmp_path / "focus" / "azure" / "exp" / "20260101-20260131" / "b2f6c0de"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text("{}")
    rel = "focus/azure/exp/20260101-20260131/b2f6c0de"
    assert delivery_of(tmp_path, f"{rel}/part_0_0001.csv") == rel
    assert delivery_of(tmp_path, f"{rel}/part_1_0001.csv") == rel


def test_a_manifest_linked_from_outside_landing_is_refused_and_never_read(tmp_path):
    import shutil

    from pipeline.ingest import focus

    fixtures = REPO / "tests" / "fixtures" / "focus"
    landing = tmp_path / "landing"
    shutil.copytree(fixtures / "aws", landing / "focus" / "aws")
    meta = landing / "focus" / "aws" / "focus-ai-prod" / "metadata" / "BILLING_PERIOD=2026-01"
    outside = tmp_path / "outside-Manifest.json"
    shutil.move(meta / "focus-ai-prod-Manifest.json", outside)
    (meta / "focus-ai-prod-Manifest.json").symlink_to(outside)
    found = survey(settings(landing), "focus")
    assert [r.rel for r in found.refused] == [
        "focus/aws/focus-ai-prod/metadata/BILLING_PERIOD=2026-01/focus-ai-prod-Manifest.json"
    ]
    loadable, pending, _ = focus.plan(settings(landing), found.files)
    assert all("BILLING_PERIOD=2026-01" not in f.rel for f in loadable)
    assert set(pending) == {f.rel for f in found.files if "BILLING_PERIOD=2026-01" in f.rel}


# --- a file is hashed once per content (audit.file_hashes) ------------------------------------------


def _kept(landing: Path, monkeypatch) -> dict:
    """The hashes one survey keeps, the clock as if the file had been left alone for a while."""
    from pipeline.landing import walk

    monkeypatch.setattr(walk, "QUIET_NS", -10**10)
    return survey(settings(landing), "focus").hashed


def _unread(monkeypatch) -> list[str]:
    from pipeline.landing import walk

    read: list[str] = []
    real = walk.prescan_fd

    def counting(fd, rel, *args, **kwargs):
        read.append(rel)
        return real(fd, rel, *args, **kwargs)

    monkeypatch.setattr(walk, "prescan_fd", counting)
    return read


def test_a_file_just_written_is_hashed_but_its_hash_is_not_kept(landing):
    found = survey(settings(landing), "focus")
    assert [f.rel for f in found.files] == ["focus/x/good.csv"]
    assert found.files[0].scan is not None
    assert found.hashed == {}  # written within QUIET_NS of its hash: a write in the same tick would hide


def test_a_file_whose_stat_is_unchanged_is_not_read_again(landing, monkeypatch):
    good = landing / "focus" / "x" / "good.csv"
    kept = _kept(landing, monkeypatch)
    assert {rel: sha for rel, (_, sha) in kept.items()} == {
        "focus/x/good.csv": hashlib.sha256(good.read_bytes()).hexdigest()
    }
    read = _unread(monkeypatch)
    again = survey(settings(landing), "focus", hashes=kept)
    assert read == []
    assert [(f.rel, f.sha256, f.size, f.scan) for f in again.files] == [
        ("focus/x/good.csv", kept["focus/x/good.csv"][1], good.stat().st_size, None)
    ]
    assert again.hashed == {}


def test_a_rewrite_that_keeps_size_and_mtime_is_read_again(landing, monkeypatch):
    good = landing / "focus" / "x" / "good.csv"
    kept = _kept(landing, monkeypatch)
    st = good.stat()
    time.sleep(0.05)  # past the file system's clock tick, so the kernel's ctime moves
    good.write_text(good.read_text().replace("1,1,USD", "9,9,USD"))
    os.utime(good, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime as they were
    assert (good.stat().st_size, good.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    read = _unread(monkeypatch)
    again = survey(settings(landing), "focus", hashes=kept)
    assert read == ["focus/x/good.csv"]
    assert again.files[0].sha256 == hashlib.sha256(good.read_bytes()).hexdigest() != kept["focus/x/good.csv"][1]


def test_a_file_moved_over_with_the_same_size_and_mtime_is_read_again(landing, tmp_path, monkeypatch):
    good = landing / "focus" / "x" / "good.csv"
    kept = _kept(landing, monkeypatch)
    st = good.stat()
    other = landing / "focus" / "x" / ".incoming"
    other.write_text(good.read_text().replace("1,1,USD", "7,7,USD"))
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, good)  # another inode under the same name
    read = _unread(monkeypatch)
    again = survey(settings(landing), "focus", hashes=kept)
    assert read == ["focus/x/good.csv"]
    assert again.files[0].sha256 == hashlib.sha256(good.read_bytes()).hexdigest()


def test_trust_file_stat_false_hashes_every_file_every_run(landing, monkeypatch):
    from pipeline.config.settings import IngestCfg

    kept = _kept(landing, monkeypatch)
    read = _unread(monkeypatch)
    distrustful = SimpleNamespace(landing=landing, ingest=IngestCfg(trust_file_stat=False))
    again = survey(distrustful, "focus", hashes=kept)
    assert read == ["focus/x/good.csv"]
    assert again.files[0].scan is not None
