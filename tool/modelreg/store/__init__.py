"""The registry in Git: records at a commit, what a change does, and the working tree.

gitstore (the only module that runs git), snapshot (the records at one commit, memoised: the
one reader), reads (the data model's reads over a snapshot: resolve, versions, lineage),
change (what a pull request or a commit does, from two snapshots), worktree (the working
tree's records and the Write transaction: files, then one commit), history (the audit log:
one Change per commit of main, on the registry's clock). Uses core/ only.
"""
