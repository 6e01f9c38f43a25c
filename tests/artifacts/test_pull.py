"""`modelreg pull` against the local-folder remote: cache, verification, refusals (issue 3)."""
import hashlib
import json
import os
import subprocess

import pytest

from modelreg.artifacts import pull as pullmod
from modelreg.artifacts.cache import Cache
from modelreg.artifacts.dvc import object_key
from modelreg.core.errors import IntegrityError, InvalidRecord
from tests.conftest import write_weights


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def version(registry, weights):
    registry.register_model("llama-ft", "fine_tuned")
    registry.create_version("llama-ft", weights)
    return registry


def remote_dir(registry):
    from modelreg.artifacts.config import worktree_config

    return os.path.abspath(worktree_config(registry.root, "storage").url)


def test_pull_materializes_verified_files_by_hard_link(version, weights, tmp_path):
    out = tmp_path / "out"
    result = version.pull("llama-ft@1", dest=out)
    assert result.path == out and result.fetched_files == 3
    for name in ("model.safetensors", "config.json", "tokenizer.json"):
        assert (out / name).read_bytes() == (weights / name).read_bytes()
    cached = Cache().object_path(sha(weights / "model.safetensors"))
    assert os.path.samefile(cached, out / "model.safetensors")


def test_second_pull_uses_no_remote(version, tmp_path, monkeypatch):
    first = version.pull("llama-ft@latest").path
    monkeypatch.setattr("modelreg.artifacts.remote.open_store", lambda *a, **k: pytest.fail("warm pull opened the remote"))
    again = version.pull("llama-ft@latest")
    assert again.path == first and again.fetched_files == 0 and again.fetched_bytes == 0


def test_pull_at_git_ref_reads_that_commit(version, tmp_path):
    tag_commit = version.git.rev_parse("HEAD")
    write_weights(tmp_path / "w2", seed=5)
    version.create_version("llama-ft", tmp_path / "w2")
    old = version.pull("llama-ft@latest", at=tag_commit, dest=tmp_path / "a")
    new = version.pull("llama-ft@latest", dest=tmp_path / "b")
    assert (old.version, new.version) == (1, 2)
    assert b'"seed": 5' in (tmp_path / "b" / "config.json").read_bytes()


def test_corrupt_object_fails_naming_file_and_both_hashes_then_repair(version, weights, tmp_path):
    record = version.get_version("llama-ft", 1)
    art = {a["path"]: a for a in record["artifacts"]}["model.safetensors"]
    md5 = hashlib.md5((weights / "model.safetensors").read_bytes()).hexdigest()
    obj = os.path.join(remote_dir(version), object_key(md5))
    good = open(obj, "rb").read()
    os.chmod(obj, 0o644)
    open(obj, "wb").write(b"X" + good[1:])
    bad_sha = hashlib.sha256(b"X" + good[1:]).hexdigest()
    with pytest.raises(IntegrityError) as err:
        version.pull("llama-ft@1", dest=tmp_path / "out")
    msg = str(err.value)
    assert "model.safetensors" in msg and art["sha256"] in msg and bad_sha in msg
    cache = Cache()
    assert not cache.object_path(art["sha256"]).exists()
    assert not cache.object_path(bad_sha).exists()
    assert not cache.partial_path(art["sha256"]).exists()
    open(obj, "wb").write(good)
    version.pull("llama-ft@1", dest=tmp_path / "out")
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == good


def test_hand_modified_cache_file_is_dropped_and_refetched(version, weights, tmp_path, caplog):
    out = version.pull("llama-ft@1", dest=tmp_path / "out").path
    digest = sha(weights / "model.safetensors")
    cached = Cache().object_path(digest)
    os.chmod(cached, 0o644)
    data = bytearray(cached.read_bytes())
    data[10] ^= 0xFF
    cached.write_bytes(bytes(data))
    result = version.pull("llama-ft@1", dest=tmp_path / "out")
    assert result.fetched_files == 1
    assert sha(out / "model.safetensors") == digest
    assert sha(Cache().object_path(digest)) == digest
    assert "was modified" in caplog.text


def test_interrupted_pull_resumes_without_refetching(version, weights, tmp_path, monkeypatch):
    """Kill the stream halfway through the big file; the next pull fetches only the rest."""
    big = tmp_path / "big"
    write_weights(big, seed=3, size=3 << 20)
    version.create_version("llama-ft", big)
    from modelreg.artifacts.local import LocalStore

    monkeypatch.setattr(LocalStore, "chunk", 1 << 20)
    real = LocalStore.download
    served = []

    def dying(self, key, start, size, write_at):
        def counted(offset, chunk):
            served.append(len(chunk))
            write_at(offset, chunk)
            if size > (1 << 20) and sum(served) > (3 << 20) // 2:
                raise KeyboardInterrupt
        real(self, key, start, size, counted)

    monkeypatch.setattr(LocalStore, "download", dying)
    monkeypatch.setattr(pullmod, "FILE_JOBS", 1)
    with pytest.raises(KeyboardInterrupt):
        version.pull("llama-ft@2", dest=tmp_path / "out")
    digest = sha(big / "model.safetensors")
    partial = Cache().partial_path(digest)
    assert partial.exists() and 0 < partial.stat().st_size < (3 << 20)
    kept = partial.stat().st_size
    starts = []
    monkeypatch.setattr(LocalStore, "download",
                        lambda self, key, start, size, write_at: starts.append(start) or real(self, key, start, size, write_at))
    result = version.pull("llama-ft@2", dest=tmp_path / "out")
    assert result.fetched_bytes < result.bytes  # small files were already cached
    assert starts == [kept]  # the big file went on from where it stopped, once
    assert sha(tmp_path / "out" / "model.safetensors") == digest
    assert not partial.exists() and kept > 0


def _partial_for(version, big, chunks):
    """A partial download left by a hard kill: the given (offset, bytes) written, holes elsewhere."""
    digest = sha(big / "model.safetensors")
    path = Cache().partial_path(digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    for offset, data in chunks:
        os.pwrite(fd, data, offset)
    os.close(fd)
    return digest, path


def _record_starts(monkeypatch):
    from modelreg.artifacts.local import LocalStore

    real, starts = LocalStore.download, []

    def recording(self, key, start, size, write_at):
        if size > 1 << 20:  # the big file only, not config.json and friends
            starts.append(start)
        real(self, key, start, size, write_at)

    monkeypatch.setattr(LocalStore, "download", recording)
    return starts


def test_hard_killed_partial_resumes_before_its_first_hole(version, tmp_path, monkeypatch):
    """Parts land at their offsets, so a kill -9 can leave holes: keep only what precedes the first."""
    big = write_weights(tmp_path / "big", seed=5, size=4 << 20)
    version.create_version("llama-ft", big)
    data = (big / "model.safetensors").read_bytes()
    mb = 1 << 20
    digest, partial = _partial_for(version, big, [(0, data[:mb]), (3 * mb, data[3 * mb:3 * mb + 1000])])
    starts = _record_starts(monkeypatch)
    version.pull("llama-ft@2", dest=tmp_path / "out")
    assert sha(tmp_path / "out" / "model.safetensors") == digest
    assert starts == [mb] and not partial.exists()


def test_resumed_prefix_that_does_not_verify_is_fetched_again_from_the_start(version, tmp_path, monkeypatch, caplog):
    big = write_weights(tmp_path / "big", seed=6, size=3 << 20)
    version.create_version("llama-ft", big)
    digest, partial = _partial_for(version, big, [(0, b"\xff" * (1 << 20))])  # wrong bytes, no hole
    starts = _record_starts(monkeypatch)
    result = version.pull("llama-ft@2", dest=tmp_path / "out")
    assert sha(tmp_path / "out" / "model.safetensors") == digest
    assert starts == [1 << 20, 0] and result.fetched_files == 3
    assert "did not verify" in caplog.text and not partial.exists()


def test_object_shorter_than_recorded_is_refused_and_not_cached(version, weights, tmp_path):
    key = object_key(hashlib.md5((weights / "model.safetensors").read_bytes()).hexdigest())
    obj = os.path.join(remote_dir(version), key)
    data = open(obj, "rb").read()
    os.chmod(obj, 0o644)
    with open(obj, "wb") as fh:
        fh.write(data[:-100])
    with pytest.raises(IntegrityError, match="sha256 mismatch.*nothing was cached"):
        version.pull("llama-ft@1", dest=tmp_path / "out")
    assert Cache().lookup(sha(weights / "model.safetensors"), len(data)) is None
    assert not Cache().partial_path(sha(weights / "model.safetensors")).exists()


def _commit_pointer(registry, text):
    path = registry.root / "registry/llama-ft/versions/1/weights.dvc"
    os.chmod(path, 0o644)
    path.write_text(text)
    subprocess.run(["git", "commit", "-qam", "tamper"], cwd=registry.root, check=True)


def test_pointer_escaping_the_version_folder_is_refused(version, tmp_path):
    pointer = (version.root / "registry/llama-ft/versions/1/weights.dvc").read_text()
    _commit_pointer(version, pointer.replace("path: weights", "path: ../../../../etc"))
    with pytest.raises(InvalidRecord, match="escapes the version folder"):
        version.pull("llama-ft@1", dest=tmp_path / "out")


@pytest.mark.parametrize("bad", ["../evil.bin", "/etc/passwd", "a/../../b", "a//b"])
def test_dir_listing_with_escaping_paths_is_refused(version, tmp_path, bad):
    evil = json.dumps([{"md5": "0" * 32, "relpath": bad}], sort_keys=True).encode()
    md5 = hashlib.md5(evil).hexdigest() + ".dir"
    dst = os.path.join(remote_dir(version), object_key(md5))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    open(dst, "wb").write(evil)
    pointer = (version.root / "registry/llama-ft/versions/1/weights.dvc").read_text()
    old = pointer.split("md5: ")[1].split()[0]
    _commit_pointer(version, pointer.replace(old, md5))
    with pytest.raises(InvalidRecord, match="unsafe path"):
        version.pull("llama-ft@1", dest=tmp_path / "out")
    assert not (tmp_path / "evil.bin").exists()


def test_listing_not_matching_its_md5_is_refused(version, tmp_path):
    pointer = (version.root / "registry/llama-ft/versions/1/weights.dvc").read_text()
    md5 = pointer.split("md5: ")[1].split()[0]
    path = os.path.join(remote_dir(version), object_key(md5))
    os.chmod(path, 0o644)
    open(path, "wb").write(b"[]")
    with pytest.raises(IntegrityError, match="does not match its md5"):
        version.pull("llama-ft@1", dest=tmp_path / "out")


def test_version_create_keeps_one_copy_beside_the_dvc_cache(version, weights):
    """The workspace folder is hard links into DVC's cache, not a second copy."""
    work = version.root / "registry/llama-ft/versions/1/weights/model.safetensors"
    assert work.read_bytes() == (weights / "model.safetensors").read_bytes()
    assert os.stat(work).st_nlink == 2


def test_cli_pull_json_and_quiet(version, tmp_path):
    from click.testing import CliRunner

    from modelreg.cli import cli

    runner = CliRunner()
    res = runner.invoke(cli, ["-C", str(version.root), "pull", "llama-ft@1", "-o", str(tmp_path / "o"), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["version"] == 1 and data["files"] == 3 and data["path"] == str(tmp_path / "o")
    res = runner.invoke(cli, ["-C", str(version.root), "pull", "llama-ft@1", "-o", str(tmp_path / "o"), "--quiet"])
    assert res.exit_code == 0 and res.output == ""


def test_one_pass_hashing_reports_progress_and_matches_hashlib(tmp_path):
    from modelreg.artifacts.hashing import md5_sha256

    data = bytes(range(256)) * 40_000  # ~10 MB: more than one chunk
    src = tmp_path / "blob"
    src.write_bytes(data)
    seen = []
    with open(tmp_path / "copy", "wb") as out:
        size, md5_hex, sha_hex = md5_sha256(src, copy_to=out, progress=seen.append)
    assert (size, md5_hex, sha_hex) == (len(data), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest())
    assert sum(seen) == len(data) and len(seen) >= 2
    assert (tmp_path / "copy").read_bytes() == data


# -- issue 19 item 9: a pulled-into folder holds exactly the version -------------------------------
def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())


def _other_shape(tmp_path):
    """Weights whose file set differs from write_weights': no tokenizer.json, a nested extra file."""
    folder = write_weights(tmp_path / "w2", seed=4)
    (folder / "tokenizer.json").unlink()
    (folder / "extra").mkdir()
    (folder / "extra" / "generation_config.json").write_text('{"top_p": 0.9}\n')
    return folder


def test_pull_into_a_used_folder_leaves_exactly_the_new_version(version, tmp_path, run_cli):
    """issue 19 item 9: `pull -o DIR` over an earlier pull removes the files the new version lacks
    (a stale tokenizer would otherwise be loaded beside the new weights)."""
    version.create_version("llama-ft", _other_shape(tmp_path))
    out = tmp_path / "out"
    assert run_cli("-C", version.root, "pull", "llama-ft@1", "-o", out, "-q").exit_code == 0
    assert _files(out) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert run_cli("-C", version.root, "pull", "llama-ft@2", "-o", out, "-q").exit_code == 0
    assert _files(out) == ["config.json", "extra/generation_config.json", "model.safetensors"]
    assert b'"seed": 4' in (out / "config.json").read_bytes()
    assert run_cli("-C", version.root, "pull", "llama-ft@1", "-o", out, "-q").exit_code == 0
    assert _files(out) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert not (out / "extra").exists()


@pytest.mark.parametrize("planted", ["file", "symlink"])
def test_pull_refuses_a_folder_holding_what_it_did_not_write(version, tmp_path, run_cli, planted):
    """issue 19 item 9: a folder holding a file no pull put there (or a symlink) is refused in one
    line, exit 1, before anything is fetched: nothing of the user's is removed, nothing added."""
    out = tmp_path / "home"
    out.mkdir()
    if planted == "file":
        (out / "notes.txt").write_text("mine\n")
    else:
        (tmp_path / "elsewhere").mkdir()
        (out / "link").symlink_to(tmp_path / "elsewhere")
    before = _files(out)
    result = run_cli("-C", version.root, "pull", "llama-ft@1", "-o", out)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: destination") and len(result.stderr.strip().splitlines()) == 1
    assert ("notes.txt" if planted == "file" else "a symlink, link") in result.stderr
    assert _files(out) == before and not list((tmp_path / "home").glob("*.json"))
    assert not Cache().object_path(sha(tmp_path / "weights-src" / "model.safetensors")).exists()


def test_a_forgotten_pull_is_not_a_licence_to_delete(version, tmp_path, run_cli):
    """issue 19 item 9: files left by an earlier pull whose note is gone (another cache) count as
    the user's: a pull of a version lacking them refuses rather than deletes them."""
    version.create_version("llama-ft", _other_shape(tmp_path))
    out = tmp_path / "out"
    assert run_cli("-C", version.root, "pull", "llama-ft@1", "-o", out, "-q").exit_code == 0
    for note in (Cache().root / "pulls").iterdir():
        note.unlink()
    result = run_cli("-C", version.root, "pull", "llama-ft@2", "-o", out, "-q")
    assert result.exit_code == 1 and "tokenizer.json, which no earlier pull put there" in result.stderr
    assert (out / "tokenizer.json").exists()
