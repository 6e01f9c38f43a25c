"""Optional extras: which of modelreg's extras brings a package, read from the package metadata.

pyproject.toml lists each extra's requirements, and the installed distribution's metadata
carries the same list (`Requires-Dist: boto3>=1.34; extra == "s3"`), so the answer is read
there, never copied by hand. A missing package becomes one ExternalError naming the extra
(exit 1), wherever it is first needed.
"""
import re
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from .errors import ExternalError

# Import names that are not their distribution's name, and modules that arrive with another
# requirement (botocore with boto3): names only, the extras still come from the metadata.
IMPORT_NAMES = {"OpenSSL": "pyopenssl", "cyclonedx": "cyclonedx-python-lib", "botocore": "boto3",
                "s3transfer": "boto3", "sigstore": "model-signing", "sigstore_models": "model-signing",
                "yaml": "pyyaml", "git": "gitpython"}
INTERNAL_EXTRAS = {"test"}  # for the project's own suite, not for users
_EXTRA = re.compile(r"""extra\s*==\s*["']([\w.-]+)["']""")


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


@lru_cache(maxsize=1)
def extras() -> dict[str, str]:
    """Distribution (normalized) -> the smallest extra that requires it (`gguf` includes all of
    `hf`; torch is named by `hf`)."""
    members: dict[str, set[str]] = {}
    for line in _requirements():
        name, _, marker = line.partition(";")
        extra = _EXTRA.search(marker)
        dist = re.match(r"\s*([A-Za-z0-9._-]+)", name)
        if extra and dist and extra.group(1) not in INTERNAL_EXTRAS and normalize(dist.group(1)) != "modelreg":
            members.setdefault(extra.group(1), set()).add(normalize(dist.group(1)))
    found = {}
    for extra, dists in sorted(members.items(), key=lambda item: (len(item[1]), item[0])):
        for dist in dists:
            found.setdefault(dist, extra)
    return found


def extra_for(module: str | None) -> str | None:
    """The extra that installs the (top-level) module, or None for one no extra brings."""
    if not module:
        return None
    top = module.split(".")[0]
    return extras().get(normalize(IMPORT_NAMES.get(top, top)))


def require(extra: str, modules: tuple[str, ...], what: str) -> None:
    """Refuse up front, before anything is written, when an optional extra is not installed."""
    missing = [m for m in modules if not installed(m)]
    if missing:
        raise missing_extra(extra, what, missing)


def missing_extra(extra: str, what: str, modules) -> ExternalError:
    return ExternalError(f"{what} needs {', '.join(modules)}, from modelreg's {extra} extra, which is not "
                         "installed", hint="extra", extra=extra, install=install_command(extra))


def install_command(extra: str) -> str:
    """The pip line that adds `extra` to THIS installation, the way it was installed (PEP 610's
    direct_url.json): a checkout (editable or not) by its path, a git install by its URL and commit,
    anything else by name. modelreg is not on PyPI, so a bare `pip install 'modelreg[hf]'` would
    fetch nothing, or worse, whatever someone published under that name. The interpreter is named
    too: `pip` on PATH may belong to another environment than the one running modelreg."""
    import shlex
    import sys

    pip = f"{shlex.quote(sys.executable)} -m pip install"
    where = install_origin()
    if where is None:
        return f"{pip} 'modelreg[{extra}]'"
    kind, url = where
    if kind == "git":
        return f"{pip} 'modelreg[{extra}] @ {url}'"
    return f"{pip} {'-e ' if kind == 'editable' else ''}{shlex.quote(f'{url}[{extra}]')}"


def install_origin() -> tuple[str, str] | None:
    """("editable" | "dir", path) or ("git", git+URL@commit) or None (an index, or unknown)."""
    import json
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    try:
        direct = json.loads(metadata.distribution("modelreg").read_text("direct_url.json") or "{}")
    except metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "editable", str(Path(__file__).resolve().parents[3])
    except ValueError:
        return None
    url = direct.get("url") or ""
    vcs = direct.get("vcs_info") or {}
    if vcs.get("vcs") == "git" and vcs.get("commit_id"):
        return "git", f"git+{url}@{vcs['commit_id']}"
    if "dir_info" in direct and url.startswith("file://"):
        path = unquote(urlparse(url).path)
        return ("editable" if direct["dir_info"].get("editable") else "dir"), path
    return None


def installed(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):  # a finder that refuses the module outright
        return False


def _requirements() -> list[str]:
    from importlib import metadata

    try:
        return metadata.requires("modelreg") or []
    except metadata.PackageNotFoundError:
        return _source_requirements()


def _source_requirements() -> list[str]:
    """Running from a checkout that is not installed: the same lists, from pyproject.toml."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: only an installed modelreg is described
        return []
    path = Path(__file__).resolve().parents[3] / "pyproject.toml"
    if not path.is_file():
        return []
    optional = tomllib.loads(path.read_text()).get("project", {}).get("optional-dependencies", {})
    return [f'{req}; extra == "{extra}"' for extra, reqs in optional.items() for req in reqs]
