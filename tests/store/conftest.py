"""A plain Git repository with hand-written records, for the store's direct tests (no DVC, no CLI)."""
from pathlib import Path

import pytest

from modelreg.store.gitstore import GitStore

from tests.conftest import git

REGISTRY_YAML = ("version: 1\nmain_branch: main\nstages: [none, development, staging, production, archived]\n"
                 "transitions: {none: [staging], staging: [production], production: [archived], archived: []}\n")


class Repo:
    """Write files, commit everything, read back shas: the least a record-level test needs."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        git(root, "init", "-q", "--initial-branch=main")

    def write(self, path: str, text: str | bytes) -> Path:
        full = self.root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(text if isinstance(text, bytes) else text.encode())
        return full

    def remove(self, path: str) -> None:
        git(self.root, "rm", "-r", "-q", "--", path)

    def commit(self, message: str = "change") -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self, ref: str = "HEAD") -> str:
        return git(self.root, "rev-parse", ref).strip()

    # -- records ------------------------------------------------------------------------
    def model(self, name: str, tags: dict | None = None) -> None:
        tag_text = "".join(f"\n  {k}: {v}" for k, v in (tags or {}).items())
        self.write(f"registry/{name}/model.yaml", f"name: {name}\nmodel_type: base_model\n"
                   f"created_at: '2026-01-01T00:00:00Z'\n" + (f"tags:{tag_text}\n" if tags else ""))

    def version(self, name: str, number: int, stage: str = "none", status: str = "active",
                parent: tuple | None = None, model_type: str = "base_model") -> None:
        text = (f"version: {number}\nmodel_type: {model_type}\nstage: {stage}\nstatus: {status}\n"
                f"created_at: '2026-01-01T00:00:00Z'\n")
        if parent:
            text += f"parent:\n  model: {parent[0]}\n  version: {parent[1]}\n  relation: fine_tuned\n"
        self.write(f"registry/{name}/versions/{number}/version.yaml", text)

    def aliases(self, name: str, mapping: dict) -> None:
        body = "".join(f"  {k}: {v}\n" for k, v in mapping.items())
        self.write(f"registry/{name}/aliases.yaml", "aliases:\n" + body if body else "aliases: {}\n")


@pytest.fixture
def repo(tmp_path) -> Repo:
    """An empty repository with a registry.yaml, nothing committed yet."""
    made = Repo(tmp_path / "repo")
    made.write("registry.yaml", REGISTRY_YAML)
    return made


@pytest.fixture
def store(repo):
    opened = GitStore(repo.root)
    yield opened
    opened.close()
