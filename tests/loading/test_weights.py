"""Weights and loading walk forward once, and load nothing the registry did not register (issue 9).

Every hole gets a test with real tiny models. The "outside" model is a real checkpoint
whose every weight is 0.5: foreign bytes in memory would be easy to see.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from modelreg.core.extras import install_command
from modelreg.core import errors
from tests.conftest import git, write_weights

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = 0.5


def _package_dir() -> Path:
    """The modelreg this test process imports (the worktree's, or whatever PYTHONPATH names)."""
    import modelreg

    return Path(modelreg.__file__).resolve().parent


def _env(**extra) -> dict:
    """The environment for a child process running the same modelreg as this one."""
    path = os.pathsep.join(p for p in (str(_package_dir().parent), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


@pytest.fixture(scope="module")
def outside_model(tiny_models, tmp_path_factory) -> Path:
    """A real checkpoint outside every registry, every weight equal to OUTSIDE."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file

    dest = tmp_path_factory.mktemp("outside") / "model"
    shutil.copytree(tiny_models["base"], dest)
    tensors = load_file(dest / "model.safetensors")
    save_file({k: torch.full_like(v, OUTSIDE) for k, v in tensors.items()}, dest / "model.safetensors",
              metadata={"format": "pt"})
    return dest


def _fresh(tmp_path) -> Path:
    return tmp_path / "src"


# -- hole 1: adapter files in a version that is not an adapter ------------------------------
@pytest.mark.models
def test_hole1_adapter_files_in_a_fine_tuned_version_are_refused(registry, tiny_models, outside_model,
                                                                   tmp_path, isolated_env, fresh_loader):
    """issue 9 hole 1: a fine_tuned version made of adapter_config.json (no config.json) would make
    transformers build base_model_name_or_path (here: the outside model); check and load refuse it."""
    from modelreg import load

    src = shutil.copytree(tiny_models["adapter"], _fresh(tmp_path))
    cfg = json.loads((src / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(outside_model)
    (src / "adapter_config.json").write_text(json.dumps(cfg))
    registry.register_model("evil", "fine_tuned")
    registry.create_version("evil", src)

    problems = [p.message for p in registry.check().problems]
    assert any("adapter file in a fine_tuned version" in m for m in problems), problems
    with pytest.raises(errors.PolicyViolation, match="adapter file in a fine_tuned version"):
        load("evil@1", registry=registry.root, device="cpu")
    assert not (isolated_env / "modelreg-cache").exists()  # refused by record: nothing downloaded


# -- hole 2: a sharded index naming files that are not the version's --------------------------
def _sharded(src: Path, tiny_base: Path, target_for) -> Path:
    """tiny base as one shard + an index whose weight_map sends one tensor to target_for(name)."""
    shutil.copytree(tiny_base, src)
    shard = "model-00001-of-00001.safetensors"
    (src / "model.safetensors").rename(src / shard)
    from safetensors import safe_open

    with safe_open(src / shard, "pt") as fh:
        names = list(fh.keys())
    weight_map = {n: shard for n in names}
    weight_map[names[0]] = target_for(src)
    (src / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return src


@pytest.mark.models
@pytest.mark.parametrize("kind", ["absolute", "dotdot", "unlisted"])
def test_hole2_index_may_name_only_the_versions_own_files(registry, tiny_models, outside_model, tmp_path,
                                                          kind, fresh_loader):
    """issue 9 hole 2: weight_map entries with an absolute path, '..', or a file that is not among the
    version's artifacts are refused by load (after verifying, before transformers opens anything)
    and reported by check."""
    from modelreg import load

    targets = {"absolute": lambda src: str(outside_model / "model.safetensors"),
               "dotdot": lambda src: "../../../../../../../../.." + str(outside_model / "model.safetensors"),
               "unlisted": lambda src: "extra.safetensors"}
    src = _sharded(_fresh(tmp_path), tiny_models["base"], targets[kind])
    registry.register_model("sharded", "base_model")
    registry.create_version("sharded", src)
    with pytest.raises(errors.PolicyViolation, match="model.safetensors.index.json names .*(outside|not one of)"):
        load("sharded@1", registry=registry.root, device="cpu")
    problems = [p.message for p in registry.check().problems]  # the working tree has the files
    assert any("index.json names" in m for m in problems), problems


@pytest.mark.models
def test_hole2_a_file_dropped_into_the_cache_folder_is_removed(registry, tiny_models, tmp_path, fresh_loader):
    """issue 9 hole 2: the folder transformers reads holds the version's verified files and nothing else."""
    from modelreg import load, unload

    registry.register_model("tiny", "base_model")
    registry.create_version("tiny", tiny_models["base"])
    first = load("tiny@1", registry=registry.root, device="cpu")
    (first.path / "model.safetensors.index.json").write_text('{"weight_map": {"x": "/etc/passwd"}}')
    unload()
    again = load("tiny@1", registry=registry.root, device="cpu")
    assert not (again.path / "model.safetensors.index.json").exists()


# -- hole 3: a cache object edited in place with its mtime restored -------------------------------
def test_hole3_cache_object_edited_with_mtime_restored_is_not_served(registry, weights, tmp_path, run_cli):
    """issue 9 hole 3: the stamp includes ctime, which an edit cannot restore: pull re-verifies,
    drops the edited object and fetches the registered bytes again."""
    from modelreg.artifacts.cache import Cache, sha256_file

    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    assert run_cli("-C", registry.root, "pull", "m@1", "-q", "-o", tmp_path / "a").exit_code == 0
    digest = sha256_file(weights / "model.safetensors")
    obj = Cache().object_path(digest)
    st = obj.stat()
    os.chmod(obj, 0o644)
    with open(obj, "r+b") as fh:
        fh.write(b"\xff" * 16)  # same size, other bytes
    os.chmod(obj, 0o444)
    os.utime(obj, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert obj.stat().st_mtime_ns == st.st_mtime_ns and obj.stat().st_size == st.st_size
    res = run_cli("-C", registry.root, "pull", "m@1", "--json", "-o", tmp_path / "b")
    assert res.exit_code == 0 and json.loads(res.stdout)["fetched_files"] == 1
    assert sha256_file(tmp_path / "b" / "model.safetensors") == digest


# -- hole 4: two writers in one clone -----------------------------------------------------------------
def _cli(root, *args, env=None):
    return subprocess.Popen([sys.executable, "-m", "modelreg", "-C", str(root), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(**(env or {})))


def test_hole4_two_version_creates_at_once_get_two_numbers(registry, tmp_path):
    """issue 9 hole 4: two real `version create` processes in one clone: the second waits for the
    first's lock; they register @1 and @2, each commit agrees with itself, check passes."""
    registry.register_model("llama", "base_model")
    srcs = [write_weights(tmp_path / f"w{i}", seed=i, size=2 << 20) for i in range(2)]
    procs = [_cli(registry.root, "version", "create", "llama", src, env={"MODELREG_LOCK_TIMEOUT": "120"})
             for src in srcs]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sorted(o[0].split("@")[1].split()[0] for o in outs) == ["1", "2"]
    assert registry.check().ok
    assert git(registry.root, "status", "--porcelain", "--untracked-files=no").strip() == ""


def test_hole4_second_writer_fails_with_exit_1_and_writes_nothing(registry, weights, tmp_path):
    """issue 9 hole 4: while another process holds the write lock, `version create` gives up after
    MODELREG_LOCK_TIMEOUT with one clear line and exit 1, and writes nothing."""
    registry.register_model("llama", "base_model")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from modelreg.store.gitstore import GitStore
        with GitStore({str(registry.root)!r}).write_lock():
            print("held", flush=True)
            time.sleep(30)
        """)], stdout=subprocess.PIPE, text=True, env=_env())
    try:
        assert holder.stdout.readline().strip() == "held"
        head = git(registry.root, "rev-parse", "HEAD")
        started = time.monotonic()
        proc = _cli(registry.root, "version", "create", "llama", weights, env={"MODELREG_LOCK_TIMEOUT": "0.5"})
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, (out, err)
        assert "another modelreg command is writing to this clone" in err and err.count("\n") == 1
        assert time.monotonic() - started < 30
        assert git(registry.root, "rev-parse", "HEAD") == head
        assert git(registry.root, "status", "--porcelain").strip() == ""
    finally:
        holder.kill()
        holder.wait()


# -- hole 5: credentials in a registry URL ------------------------------------------------------------
def test_hole5_lock_never_records_url_credentials(registry, weights, tmp_path, run_cli, fresh_loader):
    """issue 9 hole 5: `modelreg lock -r https://user:token@host/...` wrote the token into the lock."""
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(registry.root), str(bare))
    url = f"file://user:s3cr3t-token@localhost{bare}"
    res = run_cli("lock", "m@1", "-r", url, "-o", tmp_path / "models.lock")
    assert res.exit_code == 0, res.output
    text = (tmp_path / "models.lock").read_text()
    assert "s3cr3t-token" not in text and "s3cr3t-token" not in res.output
    assert f"registry: file://localhost{bare}" in text


# -- hole 6: promote failing after the push --------------------------------------------------------------
from tests.promotion.test_promote import origin, staged  # noqa: E402,F401  (fixtures)


@pytest.mark.github
def test_hole6_failed_promote_leaves_no_branch_and_the_retry_reuses_the_number(staged, github, origin,
                                                                                monkeypatch):
    """issue 9 hole 6: an API error after the push left modelreg/...-1 locally and on origin, and the
    next try made -2. Now both are removed, and the retry opens -1."""
    from modelreg.promotion.promote import promote

    github.add_repo("org/registry", origin)
    monkeypatch.setenv("GITHUB_TOKEN", github.add_user("alice"))
    github.fail_next(403, count=1, message="Resource not accessible by integration")
    with pytest.raises(errors.RegistryError):
        promote(staged.worktree, "llama-ft", 2, "production")
    assert staged.git.branches.names("modelreg/*") == []
    assert "modelreg/" not in git(origin, "branch", "--list")
    assert staged.git.current_branch() == "main"
    proposal = promote(staged.worktree, "llama-ft", 2, "production")
    assert proposal.branch == "modelreg/llama-ft-promote-1" and proposal.pull["number"]


# -- hole 7: a URL registry whose main branch is not the remote's HEAD --------------------------------------
@pytest.mark.models
def test_hole7_url_registry_whose_main_is_not_the_remote_head(registry, weights, tmp_path, fresh_loader):
    """issue 9 hole 7: the first open of a URL registry whose main_branch differs from the remote
    HEAD failed; and settings come from Git objects (nothing written into the clone)."""
    from modelreg.loading import sources

    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(registry.root), str(bare))
    git(bare, "branch", "landing", "main")
    git(bare, "symbolic-ref", "HEAD", "refs/heads/landing")
    git(registry.root, "remote", "add", "origin", str(bare))
    registry.set_alias("m", "candidate", 1)  # only on main
    git(registry.root, "push", "-q", "origin", "main")
    url = f"file://{bare}"
    reg = sources.open_registry(url)
    assert reg.resolve("m@candidate").version == 1
    clone = sources.clone_path(url)
    assert sorted(p.name for p in clone.iterdir()) == [".git"]  # registry.yaml, .dvc/ never written
    from modelreg.loading.weights import remote_at

    assert remote_at(reg.at(), reg.root).url == str(tmp_path / "remote")


# -- issue 13.4: the process cache is keyed by what the bytes are -------------------------------------------
@pytest.mark.models
def test_cache_is_keyed_by_content_not_by_name(tiny_models, tmp_path, fresh_loader):
    """issue 13.4: load("tm@1", registry=r2) after load("tm@1", registry=r1) returned r1's model."""
    from modelreg import load
    from modelreg.registry import Registry, init_registry

    regs = []
    for name, src in (("r1", tiny_models["base"]), ("r2", tiny_models["fine_tuned"])):
        init_registry(tmp_path / name, remote=str(tmp_path / f"{name}-remote"))
        reg = Registry(tmp_path / name)
        reg.register_model("tm", "base_model")
        reg.create_version("tm", src)
        regs.append(reg)
    a = load("tm@1", registry=regs[0].root, device="cpu")
    b = load("tm@1", registry=regs[1].root, device="cpu")
    assert a is not b and a.sha256s != b.sha256s
    assert b.resolved["registry"] == str(regs[1].root)
    import torch

    pa, pb = (dict(m.model.named_parameters())["model.embed_tokens.weight"] for m in (a, b))
    assert not torch.equal(pa, pb)


@pytest.mark.models
def test_lock_load_returns_what_the_lock_pins_even_when_another_registry_is_cached(tiny_models, tmp_path,
                                                                                    fresh_loader):
    """issue 13.4: load(lock=...) could return weights the lock does not pin (a cached model of the
    same name from another registry)."""
    from modelreg import load
    from modelreg.loading import loader, lockfile
    from modelreg.registry import Registry, init_registry

    regs = []
    for name, src in (("r1", tiny_models["base"]), ("r2", tiny_models["fine_tuned"])):
        init_registry(tmp_path / name, remote=str(tmp_path / f"{name}-remote"))
        reg = Registry(tmp_path / name)
        reg.register_model("tm", "base_model")
        reg.create_version("tm", src)
        regs.append(reg)
    lock = tmp_path / "models.lock"
    lockfile.write_lock(loader.lock_refs(["tm@1"], registry=regs[0].root), lock)
    load("tm@1", registry=regs[1].root, device="cpu")
    got = load("tm@1", registry=regs[0].root, device="cpu", lock=lock)
    assert got.sha256s == lockfile.read_lock(lock)["models"]["tm@1"]["sha256"]


# -- issue 13.9: a lock whose commit was force-pushed away ----------------------------------------------------
@pytest.mark.models
def test_lock_on_a_commit_force_pushed_away_is_refused_on_a_warm_clone(registry, weights, tmp_path, fresh_loader):
    """issue 13.9: a lock whose commit is no longer on the registry's main refuses, even when a warm
    clone still has the commit."""
    from modelreg import load
    from modelreg.loading import loader, lockfile

    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(registry.root), str(bare))
    url = f"file://{bare}"
    git(registry.root, "remote", "add", "origin", str(bare))
    registry.create_version("m", write_weights(tmp_path / "w2", seed=9))
    git(registry.root, "push", "-q", "origin", "main")
    lock = tmp_path / "models.lock"
    lockfile.write_lock(loader.lock_refs(["m@2"], registry=url), lock)  # the clone is warm now
    git(registry.root, "reset", "-q", "--hard", "HEAD~1")
    git(registry.root, "push", "-q", "--force", "origin", "main")
    with pytest.raises(errors.IntegrityError, match="is not on main"):
        load("m@2", registry=url, device="cpu", lock=lock)


# -- issue 14.10: a version without weights ---------------------------------------------------------------------
@pytest.mark.models
def test_config_only_version_is_refused_before_download(registry, tiny_models, tmp_path, isolated_env,
                                                          fresh_loader):
    """issue 14.10: a config-only checkpoint made load build the default-size model (OOM); refused by
    record, before anything is downloaded or built."""
    from modelreg import load

    src = _fresh(tmp_path)
    src.mkdir()
    (src / "config.json").write_text(json.dumps({"model_type": "llama"}))  # LlamaConfig defaults: 7B
    registry.register_model("cfg", "base_model")
    registry.create_version("cfg", src)
    with pytest.raises(errors.PolicyViolation, match="no weights file"):
        load("cfg@1", registry=registry.root, device="cpu")
    assert not (isolated_env / "modelreg-cache").exists()
    assert any("no weights file" in p.message for p in registry.check().problems)


@pytest.mark.models
def test_safetensors_without_tensors_is_refused_before_build(registry, tmp_path, fresh_loader):
    """issue 14.10: an empty safetensors file next to a default config is no weights either."""
    from safetensors.torch import save_file

    from modelreg import load

    src = _fresh(tmp_path)
    src.mkdir()
    (src / "config.json").write_text(json.dumps({"model_type": "llama"}))
    save_file({}, src / "model.safetensors")
    registry.register_model("empty", "base_model")
    registry.create_version("empty", src)
    with pytest.raises(errors.PolicyViolation, match="holds no tensors"):
        load("empty@1", registry=registry.root, device="cpu")


# -- issue 14.5: missing extras ----------------------------------------------------------------------------------
BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError('blocked for the test')
        return None
sys.meta_path.insert(0, Block())
import importlib.util
_find = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name.split('.')[0] in {blocked!r} else _find(name, *a)
from modelreg.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def _blocked(blocked, *args):
    return subprocess.run([sys.executable, "-c", BLOCK.format(blocked=set(blocked)), *map(str, args)],
                          capture_output=True, text=True, env=_env())


def test_load_without_torch_names_the_extra(registry, weights):
    """issue 14.5: `load` without torch/transformers printed 'unexpected error ... bug', exit 3."""
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    proc = _blocked({"torch", "transformers"}, "-C", registry.root, "load", "m@1")
    assert proc.returncode == 1, proc.stderr
    assert install_command("hf") in proc.stderr and "bug" not in proc.stderr


@pytest.mark.s3
def test_s3_pull_without_obstore_names_the_extra(s3_registry, weights, tmp_path):
    """issue 14.5: an S3 pull without its client library printed 'unexpected error ... bug', exit 3
    (boto3 then; obstore since issue 23, and the pull itself needs no boto3)."""
    s3_registry.register_model("m", "base_model")
    s3_registry.create_version("m", weights)
    proc = _blocked({"obstore"}, "-C", s3_registry.root, "pull", "m@1", "-o", tmp_path / "o")
    assert proc.returncode == 1, proc.stderr
    assert install_command("s3") in proc.stderr and "bug" not in proc.stderr
    assert _blocked({"boto3", "botocore"}, "-C", s3_registry.root, "pull", "m@1", "-o", tmp_path / "b").returncode == 0


# -- the order of load, and the shape of the code --------------------------------------------------------------------
def test_missing_alias_fails_before_torch_is_imported(registry, weights):
    """issue 9: load() parses and resolves first: NotFound before torch is imported."""
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    code = textwrap.dedent(f"""
        import sys
        import modelreg
        try:
            modelreg.load("m@nowhere", registry={str(registry.root)!r})
        except modelreg.core.errors.NotFound as exc:
            print("NotFound", "torch" in sys.modules, "transformers" in sys.modules)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    assert out.stdout.split() == ["NotFound", "False", "False"], out.stderr


@pytest.mark.models
def test_load_leaves_the_hf_environment_as_it_found_it(registry, tiny_models, monkeypatch, fresh_loader):
    """issue 9: the library leaves process-wide state (HF offline variables) as it found them."""
    from modelreg import load

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    registry.register_model("tiny", "base_model")
    registry.create_version("tiny", tiny_models["base"])
    load("tiny@1", registry=registry.root, device="cpu")
    assert "HF_HUB_OFFLINE" not in os.environ and "TRANSFORMERS_OFFLINE" not in os.environ


def test_pull_reports_progress_through_the_callers_callback(registry, weights, tmp_path):
    """issue 9: the core never renders; progress goes to a callback the caller supplies."""

    registry.register_model("m", "base_model")
    events = []

    class Bar:
        def __init__(self, phase, total):
            events.append((phase, total))

        def update(self, n):
            events.append(("+", n))

        def close(self):
            events.append(("close", 0))

    registry.create_version("m", weights, progress=Bar)
    assert ("hash", sum(p.stat().st_size for p in weights.iterdir())) in events
    events.clear()
    registry.pull("m@1", dest=tmp_path / "o", progress=Bar)
    total = sum(p.stat().st_size for p in weights.iterdir())
    assert events[0] == ("pull", total) and sum(n for e, n in events if e == "+") == total


def test_cli_pull_errors_keep_their_cause(registry, weights, run_cli, tmp_path):
    """issue 9: a missing object is one line and exit 1; --traceback shows the cause."""
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    shutil.rmtree(tmp_path / "remote")
    res = run_cli("-C", registry.root, "pull", "m@1", "-o", tmp_path / "o")
    assert res.exit_code == 1 and res.stderr.startswith("error: ") and res.stderr.count("\n") == 1
    proc = subprocess.run([sys.executable, "-m", "modelreg", "-C", str(registry.root), "--traceback", "pull",
                           "m@1", "-o", str(tmp_path / "o")], capture_output=True, text=True, env=_env())
    assert "FileNotFoundError" in proc.stderr and "direct cause" in proc.stderr


# -- issue 19.10: weights come only from commits main had ------------------------------------
@pytest.mark.models
def test_at_a_ref_off_main_delivers_no_weights(registry, tiny_models, tmp_path, run_cli, fresh_loader):
    """A branch (or a tag on it) holds records nobody reviewed: pull, load, lock and the HF cache
    refuse `--at` it, naming the ref; a release tag on main, or a commit main had, is served."""
    from modelreg.loading.loader import load, lock_refs
    from modelreg.promotion.releases import cut_release

    registry.register_model("tiny", "base_model")
    registry.create_version("tiny", tiny_models["base"])
    cut_release(registry.worktree, "2026-q4")
    git(registry.root, "checkout", "-q", "-b", "unreviewed")
    registry.set_alias("tiny", "canary", 1)
    git(registry.root, "tag", "decoy")
    git(registry.root, "checkout", "-q", "main")
    for ref in ("unreviewed", "decoy"):
        ran = run_cli("-C", registry.root, "pull", "tiny@canary", "--at", ref, "-o", tmp_path / ref)
        assert ran.exit_code == 1 and f"{ref} (" in ran.output and "is not a commit main ever had" in ran.output
        assert not (tmp_path / ref).exists()
        with pytest.raises(errors.PolicyViolation, match="never judged by main's policy"):
            load("tiny@canary", registry=registry.root, device="cpu", at=ref)
        with pytest.raises(errors.PolicyViolation, match="is not a commit main ever had"):
            lock_refs(["tiny@canary"], registry=registry.root, at=ref)
        ran = run_cli("-C", registry.root, "pull", "tiny@canary", "--at", ref, "--hf-cache",
                      "--hf-home", tmp_path / "hf")
        assert ran.exit_code == 1 and "is not a commit main ever had" in ran.output
    assert run_cli("-C", registry.root, "pull", "tiny@1", "--at", "2026-q4", "-o", tmp_path / "rel").exit_code == 0
    assert run_cli("-C", registry.root, "resolve", "tiny@1", "--at", "unreviewed").exit_code == 0  # reads may
    assert load("tiny@1", registry=registry.root, device="cpu", at="2026-q4").version == 1
