"""The one place interop asks artifacts/ for a version's verified files."""
from pathlib import Path


def fetch_version(registry, ref, at: str | None = None, dest=None, quiet: bool = True):
    """(verified folder, Resolved): resolve once, then pull exactly that version at that commit."""
    from ..artifacts.pull import pull

    resolved = registry.resolve(ref, at=at)
    result = pull(registry, f"{resolved.model}@{resolved.version}", at=resolved.commit,
                  dest=dest, quiet=quiet)
    return Path(result.path), resolved
