"""`modelreg init`: turn a folder into a registry (git, DVC, registry.yaml, schemas, CI).

The CI workflows install modelreg from `.github/modelreg-requirements.txt`, which pins a git
URL to a full commit sha: the commit names the exact code, nobody can publish a look-alike
under the name, and moving to a newer modelreg is a one-line diff that CODEOWNERS reviews.
"""
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from ..core import layout, schema
from ..core.errors import AlreadyExists, InvalidInput
from ..core.extras import install_origin, require
from ..core.records import dump_yaml, load_yaml
from ..core.settings import DEFAULT_SETTINGS
from ..promotion import codeowners
from ..store.gitstore import commit, identity, init_repo

GITIGNORE_LINES = [
    "# weights are tracked by DVC (weights.dvc beside each folder), never by git",
    "/registry/*/versions/*/weights",
]

# The workflows `init` copies from this repository's .github/workflows (one name per line).
WORKFLOWS = (
    "modelreg-check.yml",
    "modelreg-tag.yml",
    "modelreg-deploy.yml",
    "modelreg-site.yml",
)
REQUIREMENTS = ".github/modelreg-requirements.txt"
# The repository's own workflows install the checkout with exactly this step line; a
# scaffolded registry's install the pinned source instead. A template that needs modelreg
# uses this line (a workflow without it is copied as it is).
_OWN_INSTALL = "        run: pip install .\n"
_OWN_SITE_INSTALL = "        run: pip install '.[site]'\n"  # the site workflow also needs the templates
_PINNED_INSTALL = f"""\
        run: |
          grep -q '^modelreg' {REQUIREMENTS} || {{ echo "::error file={REQUIREMENTS}::no modelreg pinned; see the comment in the file"; exit 1; }}
          pip install -r {REQUIREMENTS}
"""
_GITHUB_OWNER = re.compile(r"@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9._-]+)?")  # as model.schema.json's owners
_GIT_SOURCE = re.compile(r"git\+https://[^\s@]+(?:@[^\s@]+)?@[0-9a-f]{40}")
REQUIREMENTS_HEADER = """\
# The modelreg that this registry's CI workflows install (pip install -r this file).
# Pin a git URL to a full commit sha, e.g.
#   modelreg[github,site] @ git+https://github.com/ORG/modelreg@<40-hex commit>
# A commit names exact code. Never list a bare `modelreg`: whoever publishes that name on an
# index would run code with this repository's token.
"""
# What protects this file: true only when registry.yaml names approvers (init --approver).
_REQUIREMENTS_OWNED = "# A change to this file is a pull request the approvers review (CODEOWNERS gives them /.github/).\n"
_REQUIREMENTS_UNOWNED = ("# NOTHING reviews a change to this file yet: registry.yaml names no approvers, so CODEOWNERS\n"
                         "# gives /.github/ to nobody. Add `approvals:` to registry.yaml and run `modelreg codeowners`.\n")


def workflow_dir() -> Path:
    """This repository's own workflows are the templates; the wheel carries them as package data."""
    package = Path(__file__).resolve().parents[1]  # tool/modelreg, or site-packages/modelreg
    packaged = package / "workflows"
    if packaged.is_dir():
        return packaged
    return package.parents[1] / ".github" / "workflows"


def workflow_text(name: str) -> str:
    text = (workflow_dir() / name).read_text()
    return text.replace(_OWN_INSTALL, _PINNED_INSTALL).replace(_OWN_SITE_INSTALL, _PINNED_INSTALL)


def check_tool_source(source: str) -> str:
    """`git+https://HOST/PATH@<40-hex sha>`: a git URL pinned to one commit."""
    if not _GIT_SOURCE.fullmatch(source or ""):
        raise InvalidInput(f"invalid modelreg source {source!r}: give a git URL pinned to a full "
                           "commit sha, e.g. git+https://github.com/ORG/modelreg@<40-hex commit>")
    return source


def installed_source() -> str | None:
    """The git URL and commit this modelreg was installed from (PEP 610), if it was, over https."""
    kind, source = install_origin() or (None, "")
    if kind != "git" or not source.startswith("git+https://"):
        return None
    return source if _GIT_SOURCE.fullmatch(source) else None


def requirements_text(source: str | None, remote: str, owned: bool = False) -> str:
    header = REQUIREMENTS_HEADER + (_REQUIREMENTS_OWNED if owned else _REQUIREMENTS_UNOWNED)
    if source is None:
        return header
    kind = remote.split("://", 1)[0] if "://" in remote else None
    extras = f"github,{kind},site" if kind in ("s3", "gs", "azure") else "github,site"
    return header + f"modelreg[{extras}] @ {source}\n"


def pinned_source(root: Path) -> str | None:
    """The modelreg source the registry's CI installs, or None when none is pinned yet."""
    path = root / REQUIREMENTS
    lines = path.read_text().splitlines() if path.exists() else []
    return next((line for line in lines if line.startswith("modelreg")), None)


def notes(root: Path) -> list[str]:
    """What a new team must know after `init`: where weights go, what CI installs."""
    from ..artifacts.config import worktree_config
    from ..core.settings import Settings

    found = []
    config = worktree_config(root, Settings(dict(DEFAULT_SETTINGS)).remote_name)
    if "://" not in config.url:
        found.append(f"weights go to the local folder {config.url}: it exists on this machine only, "
                     "so teammates and CI cannot pull them; for a shared remote run "
                     "'modelreg remote set s3://BUCKET/PREFIX' (and --endpoint-url for MinIO/SeaweedFS)")
    if not Settings.load(load_yaml((root / layout.REGISTRY_FILE).read_bytes())).get("approvals"):
        found.append("nothing is protected yet: registry.yaml names no approvers, so CODEOWNERS gives "
                     "registry.yaml, the workflows and production to nobody and any write access can "
                     "promote; add 'approvals:' to registry.yaml and run 'modelreg codeowners' "
                     "(a new registry: 'modelreg init --approver @ORG/TEAM')")
    if pinned_source(root) is None:
        found.append(f"CI cannot install modelreg yet: pin it in {REQUIREMENTS} "
                     "(modelreg @ git+https://...@<commit>), or run init with --tool-source")
    return found


def default_remote(root: Path) -> str:
    """A local folder outside the working tree, unique per registry, for the embedded default."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]
    return str(data_home / "modelreg" / "remotes" / f"{root.resolve().name}-{digest}")


def scaffold(root: Path, remote: str | None, endpoint_url: str | None = None,
             tool_source: str | None = None, approvers=()) -> Path:
    root = root.resolve()
    source = check_tool_source(tool_source) if tool_source else installed_source()
    settings = initial_settings(approvers)
    remote = os.fspath(remote) if remote else None  # a Path from a library caller
    if remote and "://" in remote:
        from ..artifacts.config import checked_url, cloud_kind

        remote = checked_url(remote, endpoint_url)  # az:// is written as DVC's azure://
        kind = cloud_kind(remote)
        require(kind, ("obstore", {"s3": "dvc_s3", "gs": "dvc_gs", "azure": "dvc_azure"}[kind]), f"{'an' if kind in ('s3', 'azure') else 'a'} {kind}:// remote")
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
    if endpoint_url and not remote.startswith(("s3://", "gs://")):
        raise InvalidInput("an endpoint URL applies to an s3:// or gs:// remote only", hint="endpoint")
    if "://" not in remote:
        remote = str(Path(remote).expanduser().resolve())
        Path(remote).mkdir(parents=True, exist_ok=True)
    written = _write_files(root, settings, requirements_text(source, remote, bool(approvers)))
    from ..artifacts import dvc

    if not (root / ".dvc").exists():
        dvc.init(root, DEFAULT_SETTINGS["remote"]["name"], remote, endpoint_url=endpoint_url)
    paths = written + [".dvc", ".dvcignore"]
    commit(root, paths, "modelreg: init registry\n\nModelreg-Action: init")
    return root


def initial_settings(approvers=()) -> dict:
    """registry.yaml for a new registry. With approvers, production takes one of their approvals
    (never the author's own) and CODEOWNERS gives them the policy files; without, nothing is
    protected until `approvals:` is added (notes() says so)."""
    settings = json.loads(json.dumps(DEFAULT_SETTINGS))
    for who in approvers:
        if not _GITHUB_OWNER.fullmatch(who):
            raise InvalidInput(f"invalid approver {who!r}: give a GitHub @user or @org/team")
    if approvers:
        settings["approvals"] = {"production": {"groups": [sorted(set(approvers), key=str.lower)],
                                                "allow_self_approval": False}}
    schema.validate("registry", settings, layout.REGISTRY_FILE)  # owner handles checked before any write
    return settings


def _write_files(root: Path, raw_settings: dict, requirements: str) -> list[str]:
    settings = dump_yaml(raw_settings, layout.schema_ref(layout.REGISTRY_FILE, "registry"),
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
    for relpath, text in ((REQUIREMENTS, requirements),
                          (codeowners.PATH, codeowners.render_text(root, raw_settings))):
        if not (root / relpath).exists():
            (root / relpath).parent.mkdir(parents=True, exist_ok=True)
            (root / relpath).write_text(text)
            written.append(relpath)
    return written
