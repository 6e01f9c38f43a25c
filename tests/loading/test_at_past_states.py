"""Issue 19.10: weights come from a past state of main (`--at` a release tag or a commit main
had, or a time) only while main has not deleted the version since: a deletion revokes it for
every past state, as it does for a lock."""
import pytest

from modelreg.core.errors import PolicyViolation
from modelreg.promotion.releases import cut_release

from tests.conftest import git, write_weights


@pytest.fixture
def revoked(registry, weights, tmp_path):
    """m@1 released as 2026-q3, then deleted on main; m@2 still live."""
    registry.register_model("m", "base_model")
    registry.create_version("m", weights)
    registry.create_version("m", write_weights(tmp_path / "w2", seed=2))
    cut_release(registry.worktree, "2026-q3")
    registry.delete_version("m", 1, reason="license withdrawn")
    return registry


def test_pull_at_a_release_tag_refuses_a_version_main_deleted_since(revoked, run_cli, tmp_path):
    ran = run_cli("-C", revoked.root, "pull", "m@1", "--at", "2026-q3", "-o", tmp_path / "o")
    assert ran.exit_code == 1
    assert "m@1 was deleted on main since 2026-q3 (license withdrawn)" in ran.stderr + ran.stdout
    assert not (tmp_path / "o").exists()
    old = git(revoked.root, "rev-parse", "2026-q3^{commit}").strip()  # a bare commit of main: the same
    with pytest.raises(PolicyViolation, match="deleted on main since"):
        revoked.pull("m@1", at=old, dest=tmp_path / "p")
    assert not (tmp_path / "p").exists()
    assert run_cli("-C", revoked.root, "pull", "m@2", "--at", "2026-q3", "-o", tmp_path / "ok").exit_code == 0


def test_load_at_a_past_state_refuses_a_version_main_deleted_since(revoked, tmp_path):
    from modelreg.loading.loader import load

    with pytest.raises(PolicyViolation, match="m@1 was deleted on main since 2026-q3"):
        load("m@1", registry=revoked.root, device="cpu", at="2026-q3")
