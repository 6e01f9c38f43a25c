"""Writes to the working tree's branch, one commit each: models, versions, stages and aliases,
cards, the remote, and `init` (scaffold.py).

Each takes a `store.worktree.Worktree` (the records as the next commit starts from them) and
holds the clone's write lock from its first read to its commit; anything that fails on the
way leaves no commit and no stray file.
"""
import importlib

_MODULES = ("cards", "models", "stages", "versions")


def __getattr__(name):
    # `writes.models` etc. load on first use, so the Registry (which names them) costs a read-only
    # command nothing: a resolve or a pull never writes
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
