"""Writes to the working tree's branch, one commit each: models, versions, stages and aliases,
cards, the remote, and `init` (scaffold.py).

Each takes a `store.worktree.Worktree` (the records as the next commit starts from them) and
holds the clone's write lock from its first read to its commit; anything that fails on the
way leaves no commit and no stray file.
"""
