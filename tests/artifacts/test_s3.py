"""Weights in S3 (SeaweedFS, credentials enforced): create, pull, verify, doctor, faults (issue 3)."""
import hashlib
import json
import os
import subprocess
import sys
import threading
import time

import pytest
from click.testing import CliRunner

from modelreg import Registry
from modelreg.loading.weights import RemoteCheck
from modelreg.artifacts import objstore as s3mod
from modelreg.artifacts.cache import Cache
from modelreg.artifacts.dvc import object_key
from modelreg.cli import cli, main
from modelreg.core.errors import ExternalError, IntegrityError
from tests.conftest import git, write_weights
from tests.plugins.s3server import ACCESS_KEY, SECRET_KEY, S3Server

pytestmark = pytest.mark.s3
DVC = os.path.join(os.path.dirname(sys.executable), "dvc")


def bucket_keys(server, bucket):
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"]: o["Size"] for p in pages for o in p.get("Contents", [])}


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def s3_version(s3_registry, weights):
    s3_registry.register_model("llama-ft", "fine_tuned")
    s3_registry.create_version("llama-ft", weights)
    return s3_registry


def test_server_enforces_credentials(s3_server, s3_bucket):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="InvalidAccessKeyId"):
        s3_server.client("wrong", "wrong").list_objects_v2(Bucket=s3_bucket)


def test_init_writes_endpoint_but_no_credentials_to_tracked_files(s3_registry_dir, s3_env):
    config = (s3_registry_dir / ".dvc" / "config").read_text()
    assert "s3://" in config and f"endpointurl = {s3_env.endpoint}" in config
    tracked = git(s3_registry_dir, "ls-files").split()
    for path in tracked:
        text = (s3_registry_dir / path).read_text(errors="replace") if (s3_registry_dir / path).is_file() else ""
        assert ACCESS_KEY not in text and SECRET_KEY not in text


def test_create_uploads_dvc_layout_and_pull_verifies(s3_version, s3_env, s3_bucket, weights, tmp_path):
    keys = bucket_keys(s3_env, s3_bucket)
    obj = f"store/{object_key(md5(weights / 'model.safetensors'))}"
    assert keys[obj] == (weights / "model.safetensors").stat().st_size
    assert sum(k.endswith(".dir") for k in keys) == 1
    result = s3_version.pull("llama-ft@1", dest=tmp_path / "out")
    assert result.fetched_files == 3
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        assert (tmp_path / "out" / name).read_bytes() == (weights / name).read_bytes()
    assert s3_version.verify("llama-ft@1", deep=True).ok


def test_big_file_uses_multipart_and_parallel_ranges(s3_registry, s3_env, tmp_path, monkeypatch):
    monkeypatch.setattr(s3mod, "PART", 5 << 20)  # S3's minimum part size
    src = write_weights(tmp_path / "big", seed=9, size=12 << 20)
    s3_registry.register_model("big", "base_model")
    s3_registry.create_version("big", src)
    ranges, threads = [], set()
    real = s3mod.ObjStore._open_range

    def recording(self, key, a, b):
        ranges.append((a, b))
        threads.add(threading.current_thread().name)
        return real(self, key, a, b)

    monkeypatch.setattr(s3mod.ObjStore, "_open_range", recording)
    s3_registry.pull("big@1", dest=tmp_path / "out")
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == (src / "model.safetensors").read_bytes()
    assert (0, 5 << 20) in ranges and (10 << 20, 12 << 20) in ranges
    assert len(threads) > 1  # the parts of one object came on several connections


def _breaking_body(body, after):
    """A real body (obstore's chunk stream) whose connection 'breaks' after `after` bytes, with
    the error obstore raises for a reset socket."""
    from obstore.exceptions import GenericError

    for chunk in body:
        if after <= 0:
            raise GenericError("Generic S3 error: error decoding response body: connection reset by peer")
        chunk = bytes(chunk)[:after]
        after -= len(chunk)
        yield chunk
    raise AssertionError("the body ended before it broke")


def _big_version(s3_registry, tmp_path, monkeypatch):
    monkeypatch.setattr(s3mod, "PART", 5 << 20)
    src = write_weights(tmp_path / "big", seed=11, size=12 << 20)
    s3_registry.register_model("big", "base_model")
    s3_registry.create_version("big", src)
    return src


def test_body_broken_mid_part_is_picked_up_where_it_broke(s3_registry, s3_env, tmp_path, monkeypatch):
    src = _big_version(s3_registry, tmp_path, monkeypatch)
    real, ranges = s3mod.ObjStore._open_range, []

    def flaky(self, key, a, b):
        ranges.append((a, b))
        body = real(self, key, a, b)
        return _breaking_body(body, 2 << 20) if a == 5 << 20 else body  # part 2 breaks once

    monkeypatch.setattr(s3mod.ObjStore, "_open_range", flaky)
    s3_registry.pull("big@1", dest=tmp_path / "out")
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == (src / "model.safetensors").read_bytes()
    assert (7 << 20, 10 << 20) in ranges  # asked again from the byte where it broke, not from the part start


def test_failed_part_leaves_the_complete_prefix_and_the_next_pull_resumes_there(s3_registry, s3_env, tmp_path,
                                                                                monkeypatch):
    src = _big_version(s3_registry, tmp_path, monkeypatch)
    data = (src / "model.safetensors").read_bytes()
    real = s3mod.ObjStore._open_range
    first_part_done = threading.Event()

    def failing(self, key, a, b):
        if a == 5 << 20:
            first_part_done.wait(10)  # let part 1 land first, so there is a prefix to keep
            raise ExternalError("S3 GET: InternalError (simulated)")
        body = real(self, key, a, b)
        if a == 0:
            whole = b"".join(bytes(c) for c in body)
            first_part_done.set()
            return iter([whole])
        return body

    monkeypatch.setattr(s3mod.ObjStore, "_open_range", failing)
    with pytest.raises(ExternalError, match="simulated"):
        s3_registry.pull("big@1", dest=tmp_path / "out")
    partial = Cache().partial_path(hashlib.sha256(data).hexdigest())
    kept = partial.stat().st_size
    assert 0 < kept < len(data) and partial.read_bytes() == data[:kept]

    monkeypatch.setattr(s3mod.ObjStore, "_open_range", real)
    starts = []
    real_download = s3mod.ObjStore.download
    monkeypatch.setattr(s3mod.ObjStore, "download", lambda self, key, start, size, write_at: (
        starts.append((size, start)), real_download(self, key, start, size, write_at))[1])
    s3_registry.pull("big@1", dest=tmp_path / "out")
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == data
    assert (len(data), kept) in starts and not partial.exists()


def test_progress_counts_every_byte_once_when_parts_arrive_in_parallel(s3_registry, s3_env, tmp_path, monkeypatch):
    _big_version(s3_registry, tmp_path, monkeypatch)
    bars = []

    class Bar:
        def __init__(self, phase, total):
            self.total, self.n, self.threads = total, 0, set()
            bars.append(self)

        def update(self, n):
            self.threads.add(threading.current_thread().name)
            seen = self.n
            time.sleep(0.002)  # a bar that is not thread-safe: a lost update would show here
            self.n = seen + n

        def close(self):
            pass

    result = s3_registry.pull("big@1", dest=tmp_path / "out", progress=Bar)
    (bar,) = bars
    assert bar.n == bar.total == result.fetched_bytes and len(bar.threads) > 1


def test_git_clone_and_dvc_pull_restore_weights_from_s3(s3_version, s3_env, weights, tmp_path, monkeypatch):
    """Our one-pass create writes what DVC itself reads: plain `dvc pull` works on a clone."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(s3_version.root), str(clone)], check=True)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    for key, value in (("access_key_id", ACCESS_KEY), ("secret_access_key", SECRET_KEY)):
        subprocess.run([DVC, "remote", "modify", "--local", "storage", key, value], cwd=clone, check=True, env=env)
    subprocess.run([DVC, "pull", "-q"], cwd=clone, check=True, env=env)
    restored = clone / "registry/llama-ft/versions/1/weights/model.safetensors"
    assert restored.read_bytes() == (weights / "model.safetensors").read_bytes()
    assert "config.local" not in git(clone, "ls-files", ".dvc")


def test_credentials_from_dvc_local_config(s3_registry, weights, tmp_path, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(var)
    (s3_registry.root / ".dvc" / "config.local").write_text(
        f"['remote \"storage\"']\n    access_key_id = {ACCESS_KEY}\n    secret_access_key = {SECRET_KEY}\n")
    s3_registry.register_model("m", "base_model")
    s3_registry.create_version("m", weights)
    assert s3_registry.pull("m@1", dest=tmp_path / "o").fetched_files == 3


def test_wrong_credentials_one_clear_line_exit_1(s3_version, monkeypatch, capsys):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    rc = main(["-C", str(s3_version.root), "pull", "llama-ft@1", "-q"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1
    assert "credentials rejected" in err and "AWS_ACCESS_KEY_ID" in err


def test_missing_bucket_one_clear_line(s3_env, tmp_path, weights, capsys):
    from modelreg.registry import init_registry

    root = init_registry(tmp_path / "r", remote="s3://no-such-bucket/x", endpoint_url=s3_env.endpoint)
    reg = Registry(root)
    reg.register_model("m", "base_model")
    before = git(root, "rev-parse", "HEAD")
    with pytest.raises(ExternalError, match="bucket 'no-such-bucket' does not exist"):
        reg.create_version("m", weights)
    assert git(root, "rev-parse", "HEAD") == before
    assert main(["-C", str(root), "verify", "m@1"]) == 1  # no such version: a registry error too


def test_unreachable_endpoint_one_clear_line(s3_env, tmp_path, weights, capsys):
    from modelreg.registry import init_registry

    from tests.plugins.ports import claim_block

    port = claim_block(1)  # claimed by this process, nothing listens there
    root = init_registry(tmp_path / "r", remote="s3://b/x", endpoint_url=f"http://127.0.0.1:{port}")
    Registry(root).register_model("m", "base_model")
    rc = main(["-C", str(root), "version", "create", "m", str(weights)])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1, err
    assert "cannot reach the endpoint" in err and str(port) in err
    assert not (root / "registry/m/versions/1").exists()


def test_corrupt_object_in_bucket_fails_then_repaired(s3_version, s3_env, s3_bucket, weights, tmp_path):
    key = f"store/{object_key(md5(weights / 'model.safetensors'))}"
    client = s3_env.client()
    good = client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
    bad = bytes([good[0] ^ 1]) + good[1:]
    client.put_object(Bucket=s3_bucket, Key=key, Body=bad)
    expected = hashlib.sha256(good).hexdigest()
    with pytest.raises(IntegrityError) as err:
        s3_version.pull("llama-ft@1", dest=tmp_path / "out")
    assert "model.safetensors" in str(err.value) and expected in str(err.value)
    assert hashlib.sha256(bad).hexdigest() in str(err.value)
    cache = Cache()
    assert not cache.object_path(expected).exists() and not cache.partial_path(expected).exists()
    verdict = s3_version.verify("llama-ft@1", deep=True)
    assert not verdict.ok and "sha256 mismatch" in verdict.problems[0]
    assert s3_version.verify("llama-ft@1").ok  # same size: only --deep can tell
    client.put_object(Bucket=s3_bucket, Key=key, Body=good)
    s3_version.pull("llama-ft@1", dest=tmp_path / "out")
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == good


def test_rerun_after_interrupted_upload_sends_only_missing(s3_registry, s3_env, s3_bucket, tmp_path, monkeypatch):
    src = tmp_path / "w"
    write_weights(src, seed=1)
    (src / "extra.safetensors").write_bytes(b"\0" + os.urandom(49_999))  # b"\0": never a pickle header (issue 12)
    s3_registry.register_model("m", "base_model")
    real = s3mod.ObjStore.upload
    sent = []

    def dying(self, pairs, on_done=None):
        real(self, pairs[:2])
        sent.extend(k for k, _ in pairs[:2])
        raise ExternalError("simulated: connection lost")

    monkeypatch.setattr(s3mod.ObjStore, "upload", dying)
    with pytest.raises(ExternalError, match="simulated"):
        s3_registry.create_version("m", src)
    assert not (s3_registry.root / "registry/m/versions/1").exists()
    assert not any(k.endswith(".dir") for k in bucket_keys(s3_env, s3_bucket))
    uploaded = []
    monkeypatch.setattr(s3mod.ObjStore, "upload",
                        lambda self, pairs, on_done=None: uploaded.extend(k for k, _ in pairs) or real(self, pairs))
    s3_registry.create_version("m", src)
    assert set(uploaded).isdisjoint(sent) and len(uploaded) == 3  # 2 files left + the listing
    assert s3_registry.verify("m@1").ok


def test_server_stopped_mid_create_then_rerun_completes(s3_server, tmp_path, weights, monkeypatch):
    server = S3Server(s3_server.binary, tmp_path / "weed")
    server.start()
    try:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        bucket = server.make_bucket()
        from modelreg.registry import init_registry

        root = init_registry(tmp_path / "r", remote=f"s3://{bucket}/s", endpoint_url=server.endpoint)
        reg = Registry(root)
        reg.register_model("m", "base_model")
        head = git(root, "rev-parse", "HEAD")
        real = s3mod.ObjStore.upload

        def stop_midway(self, pairs, on_done=None):
            real(self, pairs[:1])
            server.stop()
            real(self, pairs[1:])

        monkeypatch.setattr(s3mod.ObjStore, "upload", stop_midway)
        with pytest.raises(ExternalError, match="cannot reach the endpoint"):
            reg.create_version("m", weights)
        assert git(root, "rev-parse", "HEAD") == head
        assert git(root, "status", "--porcelain").strip() == ""
        tmp = root / ".dvc" / "cache" / "tmp-modelreg"
        assert not tmp.exists() or not any(tmp.iterdir())  # nothing half-written
        objects = [o for o in (root / ".dvc" / "cache" / "files").rglob("*") if o.is_file() and not o.name.endswith(".dir")]
        assert objects  # hashed into DVC's cache before the upload broke
        for obj in objects:
            assert hashlib.md5(obj.read_bytes()).hexdigest() == obj.parent.name + obj.name
        monkeypatch.setattr(s3mod.ObjStore, "upload", real)
        server.start()
        record = reg.create_version("m", weights)
        assert record["version"] == 1 and reg.verify("m@1", deep=True).ok
    finally:
        server.stop()


def test_verify_reports_missing_object_and_check_remote_helper(s3_version, s3_env, s3_bucket, weights):
    remote_check = RemoteCheck(s3_version.snapshot(s3_version.git.rev_parse("HEAD")), s3_version.root)
    assert remote_check("llama-ft", 1, deep=False) == []
    key = f"store/{object_key(md5(weights / 'config.json'))}"
    s3_env.client().delete_object(Bucket=s3_bucket, Key=key)
    problems = remote_check("llama-ft", 1, deep=False)
    assert len(problems) == 1 and problems[0].startswith("config.json: missing")
    res = CliRunner().invoke(cli, ["-C", str(s3_version.root), "verify", "llama-ft@1"])
    assert res.exit_code == 1 and "config.json: missing" in res.output


def test_doctor_lists_orphans_and_gc_needs_yes(s3_version, s3_env, s3_bucket, tmp_path):
    client = s3_env.client()
    orphan = "store/files/md5/ab/" + "c" * 30
    client.put_object(Bucket=s3_bucket, Key=orphan, Body=b"x" * 1000)
    client.put_object(Bucket=s3_bucket, Key="store/unrelated.txt", Body=b"keep me")
    result = s3_version.doctor()
    assert result.orphans == [(orphan[len("store/"):], 1000)] and result.orphan_bytes == 1000
    runner = CliRunner()
    res = runner.invoke(cli, ["-C", str(s3_version.root), "doctor", "--gc"])
    assert res.exit_code == 1 and "--yes" in res.output and orphan in str(bucket_keys(s3_env, s3_bucket))
    res = runner.invoke(cli, ["-C", str(s3_version.root), "doctor", "--gc", "--yes", "--json"])
    assert json.loads(res.output)["deleted"] == 1
    keys = bucket_keys(s3_env, s3_bucket)
    assert orphan not in keys and "store/unrelated.txt" in keys
    assert s3_version.verify("llama-ft@1").ok  # referenced objects survive gc


def test_doctor_keeps_objects_referenced_only_by_a_tag(s3_version, s3_env, weights, tmp_path):
    git(s3_version.root, "tag", "keep")
    git(s3_version.root, "checkout", "-q", "-b", "side")
    write_weights(tmp_path / "w2", seed=4)
    s3_version.create_version("llama-ft", tmp_path / "w2")
    git(s3_version.root, "checkout", "-q", "main")
    assert s3_version.doctor().orphans == []
    git(s3_version.root, "branch", "-q", "-D", "side")
    assert len(s3_version.doctor().orphans) == 3  # version 2's listing + 2 changed files


def test_remote_show_and_set(s3_registry, s3_env):
    runner = CliRunner()
    res = runner.invoke(cli, ["-C", str(s3_registry.root), "remote", "show", "--json"])
    info = json.loads(res.output)
    assert info["type"] == "s3" and info["endpoint_url"] == s3_env.endpoint
    assert info["credentials"].startswith("environment")
    res = runner.invoke(cli, ["-C", str(s3_registry.root), "remote", "set", "s3://other/p",
                              "--endpoint-url", "http://127.0.0.1:1"])
    assert res.exit_code == 0, res.output
    assert "s3://other/p" in (s3_registry.root / ".dvc" / "config").read_text()
    assert "remote.set" in git(s3_registry.root, "log", "-1", "--format=%B")
    res = runner.invoke(cli, ["-C", str(s3_registry.root), "remote", "set", "/tmp/x", "--endpoint-url", "http://h"])
    assert res.exit_code != 0


def test_remote_set_refuses_a_credential_in_a_url(s3_registry, s3_env, capsys):
    """issue 19.11: .dvc/config is tracked: a key in the endpoint (or the URL) would be committed."""
    from modelreg.cli import main

    before = (s3_registry.root / ".dvc" / "config").read_text()
    assert main(["-C", str(s3_registry.root), "remote", "set", "s3://other/p",
                 "--endpoint-url", "http://minio:s3cr3tkey@127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert "s3cr3tkey" not in err and err.count("\n") == 1
    assert "http://127.0.0.1:1: the URL carries a credential, which would be committed" in err
    assert (s3_registry.root / ".dvc" / "config").read_text() == before


@pytest.mark.s3
def test_failed_upload_cancels_the_others_cleanly(s3_bucket, s3_env, tmp_path):
    """A failure while other uploads are in flight is one ExternalError, with no multipart
    upload left open (regression: s3transfer's shutdown(cancel=True) raised a TypeError)."""
    from modelreg.artifacts.config import RemoteConfig

    big = tmp_path / "big"
    big.write_bytes(os.urandom(48 << 20))  # 3 parts of 16 MiB: still in flight when the other fails
    store = s3mod.ObjStore(RemoteConfig("s", f"s3://{s3_bucket}/p", endpoint_url=s3_env.endpoint))
    try:
        with pytest.raises(ExternalError, match="upload of files/md5/aa/missing"):
            store.upload([("files/md5/aa/missing", tmp_path / "no-such-file"), ("files/md5/bb/big", big)])
        assert s3_env.client().list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    finally:
        store.close()
