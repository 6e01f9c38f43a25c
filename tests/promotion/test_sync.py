"""`modelreg sync` (issue 4): concurrent registrations from separate clones all land, renumbered."""
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from modelreg import Registry
from modelreg.core.errors import ExternalError
from modelreg.core.records import load_yaml
from modelreg.promotion.sync import sync

from tests.conftest import git, write_weights


@pytest.fixture
def origin(tmp_path, registry):
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    registry.register_model("bert", "base_model")
    git(registry.root, "remote", "add", "origin", str(bare))
    git(registry.root, "push", "-q", "origin", "main")
    return bare


def clone(origin, path, branch):
    git(path.parent, "clone", "-q", str(origin), path.name)
    git(path, "checkout", "-q", "-b", branch)
    return path


def land(path, attempts=20) -> dict:
    """What a PR merge does after sync: fast-forward origin/main; retry when someone was first."""
    with Registry(path) as reg:
        for _ in range(attempts):
            result = sync(reg.worktree)
            try:
                reg.git.branches.push("HEAD:refs/heads/main")
                return result
            except ExternalError:
                continue  # origin moved between our fetch and our push
    raise AssertionError(f"{path} did not land")


def test_eight_concurrent_registrations_all_land_numbered_1_to_8(origin, tmp_path):
    clones = [clone(origin, tmp_path / f"clone{i}", f"add-{i}") for i in range(8)]
    sources = [write_weights(tmp_path / f"w{i}", seed=i + 10) for i in range(8)]

    def register(i):  # separate processes, all at once: every clone claims version 1
        return subprocess.run([sys.executable, "-m", "modelreg", "-C", str(clones[i]), "version", "create",
                               "bert", str(sources[i]), "--description", f"from clone {i}"],
                              capture_output=True, text=True)

    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(register, range(8)))
    assert all(p.returncode == 0 for p in done), [p.stderr for p in done]
    assert all((c / "registry/bert/versions/1/version.yaml").exists() for c in clones)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(land, clones))
    assert sum(bool(r["renumbered"]) for r in results) >= 7

    final = tmp_path / "final"
    git(tmp_path, "clone", "-q", str(origin), "final")
    with Registry(final) as reg:
        versions = reg.list_versions("bert")
        assert [v["version"] for v in versions] == list(range(1, 9))
        by_clone = {v["description"]: v for v in versions}
        assert set(by_clone) == {f"from clone {i}" for i in range(8)}
        assert reg.check().ok, reg.check().problems
    for i, path in enumerate(clones):
        number = by_clone[f"from clone {i}"]["version"]
        weights = path / f"registry/bert/versions/{number}/weights/model.safetensors"
        assert weights.read_bytes() == (sources[i] / "model.safetensors").read_bytes()
        sha = by_clone[f"from clone {i}"]["artifacts"]
        assert any(a["path"] == "model.safetensors" for a in sha)
        pointer = load_yaml((final / f"registry/bert/versions/{number}/weights.dvc").read_bytes(), "p")
        assert pointer["outs"][0]["path"] == "weights"
    log = git(final, "log", "--format=%s%n%b", "main")
    assert log.count("Modelreg-Renumbered: 1 -> ") == sum(bool(r["renumbered"]) for r in results)


def test_sync_keeps_upstream_alias_moves(origin, tmp_path, registry):
    reg = registry
    reg.create_version("bert", write_weights(tmp_path / "w1", seed=1))
    reg.create_version("bert", write_weights(tmp_path / "w2", seed=2))
    git(reg.root, "push", "-q", "origin", "main")
    mine = clone(origin, tmp_path / "mine", "mine")
    with Registry(mine) as other:
        other.create_version("bert", write_weights(tmp_path / "w3", seed=3), description="mine")
        other.set_alias("bert", "candidate", 3)
    reg.create_version("bert", write_weights(tmp_path / "w4", seed=4), description="theirs")
    reg.set_alias("bert", "champion", 1)
    git(reg.root, "push", "-q", "origin", "main")
    with Registry(mine) as other:
        result = sync(other.worktree)
        assert result["renumbered"] == {"bert@3": 4}
        assert other.aliases("bert", at="HEAD") == {"champion": 1, "candidate": 4}
        assert other.get_version("bert", 4, at="HEAD")["description"] == "mine"
        assert other.get_version("bert", 3, at="HEAD")["description"] == "theirs"
        assert other.check(base="origin/main", at="HEAD").ok
