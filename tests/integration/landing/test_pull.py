"""`costledger pull` against real local servers: moto's S3 server, Azurite (Azure Blob), a GCS emulator,
and file:// folders. No client library is mocked: s3fs, adlfs and gcsfs talk HTTP to the servers.

What a user relies on: pulling twice transfers nothing the second time; a changed object is pulled
again; a pull that fails part-way leaves landing exactly as it was; object keys that would escape the
target folder are refused in one line; objects deleted at the source stay in landing.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.app import cli
from pipeline.config.settings import DEMO_CONFIG, REPO_ROOT, load_settings
from pipeline.errors import InputError, LockBusyError
from pipeline.landing.pull import TEMP_PREFIX, TransferError, adhoc_source, pull
from pipeline.landing.walk import scan
from tests.fixtures.net import free_port

BUCKET = "acme-billing-exports"
AZURITE = REPO_ROOT / "tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's documented well-known development account (not a secret)
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stdout.read()[-2000:]!r}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def snapshot(landing: Path) -> dict[str, bytes | None]:
    """Every path under landing (hidden ones too): file -> content, folder -> None."""
    return {
        p.relative_to(landing).as_posix(): (p.read_bytes() if p.is_file() else None)
        for p in sorted(landing.rglob("*"))
        # pull's lock file and its folder are made once, by the first pull, and hold no data
        if p.relative_to(landing).as_posix() not in (".pull", ".pull/lock")
    }


def data_files(landing: Path) -> dict[str, bytes]:
    """The files landing's scanner can see (no dot-names: not pull's state, not its staged files)."""
    return {
        k: v
        for k, v in snapshot(landing).items()
        if v is not None and not any(part.startswith(".") for part in k.split("/"))
    }


@pytest.fixture
def settings(tmp_path):
    return load_settings(landing=tmp_path / "landing", warehouse=tmp_path / "warehouse")


# --- file:// ------------------------------------------------------------------------------------


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_file_pull_is_incremental_and_keeps_what_the_source_deleted(tmp_path, settings):
    src = tmp_path / "exports"
    write(src / "BILLING_PERIOD=2026-09" / "a-00001.csv.gz", b"a" * 100)
    write(src / "BILLING_PERIOD=2026-10" / "a-00001.csv.gz", b"b" * 200)
    write(src / ".DS_Store", b"finder")
    source = [adhoc_source(src.as_uri() + "/", "aws_cur/acme")]

    first = pull(settings, source)
    assert (first["listed"], first["transferred"], first["bytes"]) == (2, 2, 300)
    assert first["sources"][0]["ignored"] == [".DS_Store"]  # landing never reads dot-names: not copied
    got = data_files(settings.landing)
    assert got == {
        "aws_cur/acme/BILLING_PERIOD=2026-09/a-00001.csv.gz": b"a" * 100,
        "aws_cur/acme/BILLING_PERIOD=2026-10/a-00001.csv.gz": b"b" * 200,
    }

    second = pull(settings, source)
    assert (second["transferred"], second["bytes"], second["unchanged"]) == (0, 0, 2)
    assert data_files(settings.landing) == got

    # a restated file (new content, new mtime) comes again; a deleted one stays in landing
    os.utime(write(src / "BILLING_PERIOD=2026-10" / "a-00001.csv.gz", b"c" * 250), (2e9, 2e9))
    (src / "BILLING_PERIOD=2026-09" / "a-00001.csv.gz").unlink()
    third = pull(settings, source)
    assert (third["transferred"], third["bytes"], third["sources"][0]["gone"]) == (1, 250, 1)
    assert data_files(settings.landing) == {
        "aws_cur/acme/BILLING_PERIOD=2026-09/a-00001.csv.gz": b"a" * 100,
        "aws_cur/acme/BILLING_PERIOD=2026-10/a-00001.csv.gz": b"c" * 250,
    }


def test_a_landing_copy_removed_by_hand_is_pulled_again(tmp_path, settings):
    write(tmp_path / "src" / "x.csv", b"x,y\n1,2\n")
    source = [adhoc_source((tmp_path / "src").as_uri(), "focus/onprem")]
    pull(settings, source)
    (settings.landing / "focus" / "onprem" / "x.csv").unlink()
    assert pull(settings, source)["transferred"] == 1
    assert (settings.landing / "focus" / "onprem" / "x.csv").read_bytes() == b"x,y\n1,2\n"


def test_the_state_survives_and_is_json_under_landing_dot_pull(tmp_path, settings):
    write(tmp_path / "src" / "d" / "x.csv", b"1")
    url = (tmp_path / "src").as_uri() + "/"
    pull(settings, [adhoc_source(url, "focus/x")])
    state = json.loads((settings.landing / ".pull" / "state.json").read_text())
    entry = state["sources"][url.rstrip("/")]
    assert state["format"] == 1 and entry["to"] == "focus/x"
    assert set(entry["objects"]) == {"d/x.csv"} and entry["objects"]["d/x.csv"]["size"] == 1
    assert entry["objects"]["d/x.csv"]["version"].startswith("size=1;mtime=")


def test_staged_files_are_invisible_to_the_landing_scanner(settings):
    write(settings.landing / "focus" / "aws" / f"{TEMP_PREFIX}0123abcd.tmp", b"half a file")
    write(settings.landing / "focus" / "aws" / "real.csv", b"x")
    assert [f.rel for f in scan(settings, "focus")] == ["focus/aws/real.csv"]


def test_a_symlinked_folder_cannot_carry_a_pull_outside_landing(tmp_path, settings):
    write(tmp_path / "src" / "x.csv", b"1")
    outside = tmp_path / "outside"
    outside.mkdir()
    (settings.landing / "aws_cur").mkdir(parents=True)
    (settings.landing / "aws_cur" / "acme").symlink_to(outside)
    with pytest.raises(InputError, match="leads outside"):
        pull(settings, [adhoc_source((tmp_path / "src").as_uri(), "aws_cur/acme")])
    assert list(outside.iterdir()) == []


def test_a_second_pull_waits_for_the_first_then_gives_up(tmp_path, settings):
    write(tmp_path / "src" / "x.csv", b"1")
    lock = settings.landing / ".pull" / "lock"
    lock.parent.mkdir(parents=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        impatient = dataclasses.replace(settings, lock_timeout_seconds=0.3)
        with pytest.raises(LockBusyError, match="another costledger pull is writing"):
            pull(impatient, [adhoc_source((tmp_path / "src").as_uri(), "focus/x")])
    assert not (settings.landing / "focus").exists()


def test_a_pull_that_crashes_while_swapping_is_finished_by_the_next(tmp_path, settings, monkeypatch):
    """After the journal is written the pull is committed: a crash half-way through the renames
    is rolled forward by the next pull, which then has nothing left to transfer."""
    import pipeline.landing.pull as pull_mod

    for i in range(4):
        write(tmp_path / "src" / f"part-{i}.csv", f"part {i}\n".encode())
    source = [adhoc_source((tmp_path / "src").as_uri(), "azure_cost/ea")]
    real_replace = os.replace
    calls = []

    def crash_on_third(a, b):
        if str(a).endswith(".tmp") and TEMP_PREFIX in str(a) and "journal" not in str(b):
            calls.append(b)
            if len(calls) == 3:
                raise KeyboardInterrupt("power cut")
        return real_replace(a, b)

    monkeypatch.setattr(pull_mod.os, "replace", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        pull(settings, source)
    monkeypatch.setattr(pull_mod.os, "replace", real_replace)
    assert (settings.landing / ".pull" / "journal.json").exists()
    assert len(data_files(settings.landing)) == 2  # two renames happened before the cut
    assert len(list(settings.landing.rglob(f"{TEMP_PREFIX}*"))) == 2  # two still staged

    after = pull(settings, source)
    assert after["transferred"] == 0 and after["unchanged"] == 4
    assert data_files(settings.landing) == {
        f"azure_cost/ea/part-{i}.csv": f"part {i}\n".encode() for i in range(4)
    }
    assert not (settings.landing / ".pull" / "journal.json").exists()
    assert not list(settings.landing.rglob(f"{TEMP_PREFIX}*"))


def test_files_staged_by_a_pull_that_died_before_committing_are_swept(tmp_path, settings):
    write(tmp_path / "src" / "x.csv", b"1")
    stray = write(settings.landing / "azure_cost" / "ea" / f"{TEMP_PREFIX}deadbeef.tmp", b"half")
    pull(settings, [adhoc_source((tmp_path / "src").as_uri(), "azure_cost/ea")])
    assert not stray.exists()
    assert data_files(settings.landing) == {"azure_cost/ea/x.csv": b"1"}


# --- the CLI --------------------------------------------------------------------------------------


def config_with_pull(tmp_path: Path, entries: list[dict]) -> Path:
    import yaml

    cfg = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, cfg)
    main = yaml.safe_load((cfg / "costledger.yaml").read_text())
    main["pull"] = entries
    (cfg / "costledger.yaml").write_text(yaml.safe_dump(main, sort_keys=False))
    return cfg


def test_cli_pulls_every_configured_prefix_then_nothing(tmp_path, capsys):
    write(tmp_path / "gcp" / "2026-10" / "export-000.jsonl", b"{}\n")
    write(tmp_path / "az" / "part_0_0001.csv", b"\xef\xbb\xbfDate\n")
    cfg = config_with_pull(
        tmp_path,
        [
            {"url": (tmp_path / "gcp").as_uri() + "/", "to": "gcp_billing/detailed"},
            {"url": (tmp_path / "az").as_uri() + "/", "to": "azure_cost/ea"},
        ],
    )
    args = ["pull", "--config", str(cfg), "--landing", str(tmp_path / "landing"), "--quiet"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "-> landing/gcp_billing/detailed: 1 objects, 1 new or changed (3 B), 0 unchanged" in out
    assert "pulled 2 objects (11 B)" in out
    assert cli.main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["transferred"], result["unchanged"]) == (0, 2)


def test_cli_without_pull_config_is_a_no_op(tmp_path, capsys):
    assert cli.main(["pull", "--landing", str(tmp_path / "landing")]) == 0
    assert "nothing to pull: no `pull:` entries in" in capsys.readouterr().out
    assert not (tmp_path / "landing").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pull", "s3://b/p/"], "pull URL and --to FOLDER go together"),
        (["pull", "s3://b/p/", "--to", "../../etc"], "--to: '../../etc' must stay inside landing/"),
        (["pull", "http://b/p/", "--to", "aws_cur/x"], "pull URL: 'http://b/p/' is not an object-store URL"),
    ],
)
def test_cli_refuses_bad_arguments_in_one_line(tmp_path, capsys, argv, message):
    code = cli.main([*argv, "--landing", str(tmp_path / "landing")])
    err = capsys.readouterr().err
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1


def test_cli_help_names_the_schemes(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["pull", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "s3://" in out and "--to FOLDER" in out and "AWS_ENDPOINT_URL" in out


# --- S3: moto's standalone server ---------------------------------------------------------------


@dataclasses.dataclass
class S3Server:
    server: object
    client: object
    endpoint: str
    stopped: bool = False

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=BUCKET, Key=key, Body=body)

    def stop(self) -> None:
        if not self.stopped:
            self.server.stop()
            self.stopped = True


@pytest.fixture
def s3(monkeypatch, tmp_path):
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # The standard AWS settings only: what a deployment would set for an S3-compatible endpoint.
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    import boto3
    import requests

    requests.post(f"{endpoint}/moto-api/reset", timeout=10)  # moto keeps buckets per process, not per server
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    handle = S3Server(server, client, endpoint)
    yield handle
    handle.stop()


CUR = "cur2/acme-cur"


def cur_key(period: str, name: str) -> str:
    return f"{CUR}/data/BILLING_PERIOD={period}/{name}"


def test_s3_pull_twice_transfers_nothing_the_second_time(s3, settings):
    bodies = {
        cur_key(f"2026-{m:02d}", f"acme-cur-0000{i}.snappy.parquet"): os.urandom(5000 + m * 10 + i)
        for m in (9, 10)
        for i in (1, 2)
    }
    manifest = f"{CUR}/metadata/BILLING_PERIOD=2026-10/acme-cur-Manifest.json"
    bodies[manifest] = b'{"dataFiles": []}'
    for key, body in bodies.items():
        s3.put(key, body)
    s3.put(f"{CUR}/data/", b"")  # a console "folder" placeholder: not an object to pull
    source = [adhoc_source(f"s3://{BUCKET}/{CUR}/", "aws_cur/acme-cur")]

    first = pull(settings, source)
    assert (first["listed"], first["transferred"], first["bytes"]) == (5, 5, sum(map(len, bodies.values())))
    assert data_files(settings.landing) == {
        f"aws_cur/acme-cur/{k[len(CUR) + 1 :]}": v for k, v in bodies.items()
    }

    second = pull(settings, source)
    assert (second["transferred"], second["bytes"], second["unchanged"]) == (0, 0, 5)

    # a restatement: the provider rewrites one file and the manifest; only those two move
    s3.put(cur_key("2026-10", "acme-cur-00001.snappy.parquet"), b"restated")
    s3.put(manifest, b'{"dataFiles": ["restated"]}')
    third = pull(settings, source)
    assert (third["transferred"], third["bytes"]) == (
        2,
        len(b"restated") + len(b'{"dataFiles": ["restated"]}'),
    )
    landed = settings.landing / "aws_cur/acme-cur/data/BILLING_PERIOD=2026-10/acme-cur-00001.snappy.parquet"
    assert landed.read_bytes() == b"restated"


def test_s3_key_escaping_the_target_is_refused_and_nothing_is_pulled(s3, settings):
    s3.put(cur_key("2026-10", "good.csv.gz"), b"good")
    s3.put(f"{CUR}/data/../../../../etc/cron.d/evil", b"* * * * * root rm -rf /")
    before = snapshot(settings.landing) if settings.landing.exists() else {}
    with pytest.raises(InputError) as err:
        pull(settings, [adhoc_source(f"s3://{BUCKET}/{CUR}/", "aws_cur/acme-cur")])
    assert "object key 'data/../../../../etc/cron.d/evil' has an empty, '.' or '..' part" in str(err.value)
    assert "nothing was pulled" in str(err.value)
    after = snapshot(settings.landing) if settings.landing.exists() else {}
    assert {k: v for k, v in after.items() if not k.startswith(".pull")} == before


def test_s3_object_deleted_mid_pull_leaves_landing_as_it_was(s3, settings):
    for i in range(6):
        s3.put(cur_key("2026-10", f"part-{i}.csv.gz"), b"first" * 100)
    source = [adhoc_source(f"s3://{BUCKET}/{CUR}/", "aws_cur/acme-cur")]
    pull(settings, source)
    before = snapshot(settings.landing)

    # the provider delivers a new period; one of its objects vanishes after we listed it
    for i in range(6):
        s3.put(cur_key("2026-11", f"part-{i}.csv.gz"), b"second" * 100)
    s3.put(cur_key("2026-10", "part-0.csv.gz"), b"restated" * 100)

    def vanish(msg: str) -> None:
        if "new or changed" in msg:
            s3.client.delete_object(Bucket=BUCKET, Key=cur_key("2026-11", "part-5.csv.gz"))

    with pytest.raises(TransferError, match="disappeared while it was pulled"):
        pull(settings, source, progress=vanish)
    assert snapshot(settings.landing) == before  # no new files, no new folders, old file untouched
    again = pull(settings, source)
    assert again["transferred"] == 6  # five new ones and the restated one


@pytest.mark.slow
def test_s3_server_stopped_mid_pull_leaves_landing_as_it_was(s3, settings, tmp_path, capsys):
    for i in range(8):
        s3.put(cur_key("2026-10", f"part-{i}.csv.gz"), os.urandom(20_000))
    source = [adhoc_source(f"s3://{BUCKET}/{CUR}/", "aws_cur/acme-cur")]
    write(settings.landing / "aws_cur" / "acme-cur" / "README.txt", b"booked before")
    before = snapshot(settings.landing)

    def stop_after_listing(msg: str) -> None:
        if "new or changed" in msg:
            s3.stop()

    with pytest.raises(TransferError, match="copy failed"):
        pull(settings, source, progress=stop_after_listing)
    assert snapshot(settings.landing) == before


def test_cli_reports_a_failed_transfer_in_one_line_with_exit_74(s3, tmp_path, capsys):
    s3.put(cur_key("2026-10", "x.csv.gz"), b"x")
    s3.stop()
    code = cli.main(
        ["pull", f"s3://{BUCKET}/{CUR}/", "--to", "aws_cur/acme-cur", "--landing", str(tmp_path / "l")]
    )
    err = capsys.readouterr().err.strip()
    assert code == 74
    assert err.startswith("costledger: error: pull failed, landing unchanged: s3://") and "\n" not in err


@pytest.mark.slow
def test_s3_200_objects_50_mb_then_nothing(s3, settings, capsys):
    """The issue's figure: 200 objects, 50 MB; the second pull transfers nothing. Timings printed (-s)."""
    for i in range(200):
        s3.put(cur_key(f"2026-{i % 12 + 1:02d}", f"acme-cur-{i:05d}.snappy.parquet"), os.urandom(250_000))
    source = [adhoc_source(f"s3://{BUCKET}/{CUR}/", "aws_cur/acme-cur")]
    first = pull(settings, source)
    second = pull(settings, source)
    assert (first["transferred"], first["bytes"]) == (200, 50_000_000)
    assert (second["transferred"], second["bytes"], second["unchanged"]) == (0, 0, 200)
    with capsys.disabled():
        print(
            f"\npull 200 objects / 50 MB from moto: first {first['seconds']:.2f} s, second {second['seconds']:.2f} s"
        )


# --- Azure Blob: Azurite ------------------------------------------------------------------------


@pytest.fixture
def azurite(monkeypatch, tmp_path):
    if not AZURITE.exists():
        pytest.skip(
            "Azurite is not installed: `make install` runs `npm ci --prefix tools/azurite` when npm exists"
        )
    port = free_port()
    proc = subprocess.Popen(
        [
            str(AZURITE),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(tmp_path / "azurite"),
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, proc)
        conn = (
            f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        )
        for var in ("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_SAS_TOKEN"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", conn)
        from azure.storage.blob import BlobServiceClient

        container = BlobServiceClient.from_connection_string(conn).create_container("cost-exports")
        yield container
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["az", "abfs"])
def test_azure_pull_is_incremental(azurite, settings, scheme):
    # Cost Management exports: <directory>/<export name>/<YYYYMMDD-YYYYMMDD>/<run id>/part_*.csv
    run = "ea/daily-actual/20261001-20261031/6f0c4c7e-1f5e-4f5a-9f7e-3f0f1c2b9a10"
    parts = {
        f"{run}/part_{i}_0001.csv": b"\xef\xbb\xbfInvoiceSectionName,AccountName\n" + bytes([65 + i]) * 50
        for i in range(3)
    }
    for key, body in parts.items():
        azurite.upload_blob(key, body)
    source = [adhoc_source(f"{scheme}://cost-exports/ea/", "azure_cost/ea")]

    first = pull(settings, source)
    assert (first["transferred"], first["bytes"]) == (3, sum(map(len, parts.values())))
    assert data_files(settings.landing) == {f"azure_cost/{k}": v for k, v in parts.items()}
    assert pull(settings, source)["transferred"] == 0

    # the same (scope, month) re-exported: one part rewritten in place
    azurite.upload_blob(f"{run}/part_1_0001.csv", b"\xef\xbb\xbfrestated", overwrite=True)
    third = pull(settings, source)
    assert (third["transferred"], third["unchanged"]) == (1, 2)
    assert (settings.landing / "azure_cost" / run / "part_1_0001.csv").read_bytes() == b"\xef\xbb\xbfrestated"


# --- GCS: a local emulator, through the CLI in a subprocess --------------------------------------


@pytest.mark.slow
def test_gcs_pull_through_the_cli_against_an_emulator(tmp_path):
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="acme-gcp-billing")
    server.start()
    try:
        env = {
            **os.environ,
            "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}",
            # gcsfs's default filesystem first asks the gRPC control plane for the bucket layout,
            # which an emulator does not serve; the classic JSON-API filesystem is the same code path.
            "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
            "GOOGLE_APPLICATION_CREDENTIALS": "",
        }
        upload = (
            "import gcsfs, sys\n"
            "fs = gcsfs.GCSFileSystem(token='anon')\n"
            "for i in range(int(sys.argv[1])):\n"
            "    fs.pipe(f'acme-gcp-billing/extract/2026-10/part-{i:03d}.json', b'{\"cost\": %d}\\n' % (i + int(sys.argv[2])))\n"
        )
        landing = tmp_path / "landing"
        argv = [
            sys.executable,
            "-m",
            "pipeline.app.cli",
            "pull",
            "gs://acme-gcp-billing/extract/",
            "--to",
            "gcp_billing/detailed",
            "--landing",
            str(landing),
            "--json",
            "--quiet",
        ]

        def run(*args):
            res = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
            assert res.returncode == 0, res.stderr[-2000:]
            return res.stdout

        run(sys.executable, "-c", upload, "3", "0")
        assert json.loads(run(*argv))["transferred"] == 3
        assert json.loads(run(*argv))["transferred"] == 0
        run(sys.executable, "-c", upload, "1", "100")  # a newer export_time rewrites part-000
        third = json.loads(run(*argv))
        assert (third["transferred"], third["unchanged"]) == (1, 2)
        assert (landing / "gcp_billing/detailed/2026-10/part-000.json").read_bytes() == b'{"cost": 100}\n'
    finally:
        server.stop()
