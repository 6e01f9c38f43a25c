"""The one place interop asks for a version's verified files.

Callers resolve once and pass the Resolved on; this walks it forward the way `modelreg pull`
does (weights.py: signature policy, plan, fetch into the verified cache, materialize).
"""
from pathlib import Path


def fetch_resolved(registry, resolved, dest=None, progress=None, verify_signature: bool = False) -> Path:
    """The folder holding exactly `resolved`'s files, every sha256 checked (dest: fill that folder).
    A signature is checked where the stage's policy requires one, or when asked."""
    from ..supply.signatures import verify_version
    from ..loading.weights import fetch_resolved as fetch

    verify_version(registry, resolved, force=verify_signature)
    return Path(fetch(registry, resolved, dest=dest, progress=progress).path)
