"""From a change to production: pull requests, renumbering, release tags, CODEOWNERS, the forge.

promote (a write on a branch, pushed, with a PR whose body shows what moves), sync (rebase on
origin's main, renumber colliding versions, lose no record), releases (a tag per move, the
clock's notes, check-ref for deploys, whole-registry releases), codeowners (.github/CODEOWNERS
from owners and approval groups), forge/github (the only module talking to GitHub). Each takes
a `store.worktree.Worktree`, never the Registry.
"""
