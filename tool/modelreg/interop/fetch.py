"""The one place interop asks for a version's verified files.

Callers resolve once and pass the Resolved on; this turns it into a verified folder through
the public pull entry point of the day.
"""
from pathlib import Path


def fetch_resolved(registry, resolved, dest=None, quiet: bool = True, verify_signature: bool = False) -> Path:
    """The folder holding exactly `resolved`'s files, every sha256 checked (dest: fill that folder).
    A signature is checked where the stage's policy requires one, or when asked."""
    from ..artifacts.pull import pull

    result = pull(registry, f"{resolved.model}@{resolved.version}", at=resolved.commit,
                  dest=dest, quiet=quiet, verify_signature=verify_signature)
    return Path(result.path)
