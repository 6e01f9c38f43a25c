"""`modelreg init`: turn a folder into a registry (git, DVC, registry.yaml, schemas, CI)."""
import hashlib
import os
import shutil
from pathlib import Path

from . import layout, schema
from .errors import AlreadyExists, InvalidInput
from .gitstore import commit, identity, init_repo
from .records import dump_yaml
from .settings import DEFAULT_SETTINGS

GITIGNORE_LINES = [
    "# weights are tracked by DVC (weights.dvc beside each folder), never by git",
    "/registry/*/versions/*/weights",
]

WORKFLOWS = ("modelreg-check.yml", "modelreg-tag.yml")


def workflow_dir() -> Path:
    """This repository's own workflows are the templates; the wheel carries them as package data."""
    packaged = Path(__file__).with_name("workflows")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / ".github" / "workflows"


def workflow_text(name: str) -> str:
    # This repo installs the tool from its own checkout; a scaffolded registry installs the release,
    # pinned: the code that judges a pull request must not change with whatever is published next.
    from . import __version__

    return (workflow_dir() / name).read_text().replace("pip install .\n", f"pip install modelreg=={__version__}\n")


def default_remote(root: Path) -> str:
    """A local folder outside the working tree, unique per registry, for the embedded default."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]
    return str(data_home / "modelreg" / "remotes" / f"{root.resolve().name}-{digest}")


def scaffold(root: Path, remote: str | None, endpoint_url: str | None = None) -> Path:
    root = root.resolve()
    if (root / layout.REGISTRY_FILE).exists():
        raise AlreadyExists(f"{root} is already a registry ({layout.REGISTRY_FILE} exists)")
    if root.exists() and not root.is_dir():
        raise InvalidInput(f"{root} is a file; give a folder")
    existing = next(p for p in (root, *root.parents) if p.exists())
    identity(existing)  # fail before writing anything if commits cannot be made
    root.mkdir(parents=True, exist_ok=True)
    if not (root / ".git").exists():
        init_repo(root, DEFAULT_SETTINGS["main_branch"])
    remote = remote or default_remote(root)
    if endpoint_url and not remote.startswith("s3://"):
        raise InvalidInput("--endpoint-url applies to an s3:// remote only")
    if "://" not in remote:
        remote = str(Path(remote).expanduser().resolve())
        Path(remote).mkdir(parents=True, exist_ok=True)
    written = _write_files(root)
    from .artifacts import dvc

    if not (root / ".dvc").exists():
        dvc.init(root, DEFAULT_SETTINGS["remote"]["name"], remote, endpoint_url=endpoint_url)
    paths = written + [".dvc", ".dvcignore"]
    commit(root, paths, "modelreg: init registry\n\nModelreg-Action: init")
    return root


def _write_files(root: Path) -> list[str]:
    settings = dump_yaml(DEFAULT_SETTINGS, layout.schema_ref(layout.REGISTRY_FILE, "registry"),
                         schema.key_order("registry"))
    (root / layout.REGISTRY_FILE).write_bytes(settings)
    (root / layout.ROOT).mkdir(exist_ok=True)
    (root / layout.ROOT / ".gitkeep").touch()
    schemas = root / layout.SCHEMA_DIR
    schemas.mkdir(exist_ok=True)
    for kind in schema.KINDS:
        shutil.copyfile(schema.schema_dir() / f"{kind}.schema.json", schemas / f"{kind}.schema.json")
    ignore = root / ".gitignore"
    existing = ignore.read_text() if ignore.exists() else ""
    missing = [line for line in GITIGNORE_LINES if line not in existing.splitlines()]
    if missing:
        ignore.write_text(existing + ("" if not existing or existing.endswith("\n") else "\n")
                          + "\n".join(missing) + "\n")
    written = [layout.REGISTRY_FILE, f"{layout.ROOT}/.gitkeep", layout.SCHEMA_DIR, ".gitignore"]
    for name in WORKFLOWS:
        workflow = root / ".github" / "workflows" / name
        if not workflow.exists():
            workflow.parent.mkdir(parents=True, exist_ok=True)
            workflow.write_text(workflow_text(name))
            written.append(f".github/workflows/{name}")
    return written
