"""Registry: the front door. It picks the commit (or the working tree) and hands values on.

Reads resolve a ref to a commit and ask that commit's memoised Snapshot (store/reads.py);
a warm `resolve` costs a ref-file read and a dict lookup. Writes go to the working tree's
branch through `writes/` (one commit each, nothing left behind on failure), `check` to
`rules/`, weights to `loading/weights.py`. Below this class nobody takes the Registry: they
take a Snapshot, a Resolved, a Worktree or a Located, so each can be read and tested alone.
"""
import os
from pathlib import Path

from .core.errors import NotFound, PolicyViolation
from .core.names import check_name
from .core.refs import ModelRef, parse_ref, parse_version
from .core.settings import Settings
from .store import reads
from .store.gitstore import GitStore, find_root
from .store.reads import Resolved
from .store.worktree import Worktree
from . import writes  # its modules load on first use: a resolve or pull never writes

MAX_CACHED_RESOLVES = 200_000


def __getattr__(name):
    if name == "MODEL_TYPES":  # from the write module, loaded only when asked for
        return writes.models.MODEL_TYPES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Registry:
    """A registry clone at `path`. `checkout=False`: a clone without a working tree (a URL
    registry); its settings are read from main's commit, never from files."""

    def __init__(self, path: str | os.PathLike = ".", main_branch: str | None = None, checkout: bool = True):
        self.root = find_root(path)
        self.git = GitStore(self.root)
        self.worktree = Worktree(self.root, self.git, main_branch)
        self._resolved: dict[tuple[str, str], Resolved] = {}
        self._main = main_branch
        self.checkout = checkout

    def close(self):
        self.git.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- where to read ------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """registry.yaml as the working tree has it (the branch being written to); in a clone
        without a checkout, as main has it."""
        if not self.checkout:
            return self.snapshot(self.commit_of(None)).settings
        return self.worktree.settings

    @property
    def main_branch(self) -> str:
        if self._main is None:
            self._main = self.settings.main_branch
        return self._main

    def commit_of(self, at: str | None = None, as_of: str | None = None) -> str:
        ref = at or self.main_branch
        if as_of:
            return self.git.commit_before(ref, as_of)
        return self.git.rev_parse(ref)

    def require_on_main(self, commit: str, at: str | None, versions=()) -> str:
        """`commit` (what `at` resolved to), if main ever had it: weights are delivered (pull, load,
        fetch-into, lock) only from records main's policy judged. A branch or a tag off main's
        first-parent history holds records nobody reviewed (issue 19.10). From a past state of
        main (`at`, or a time), none of `versions` ((model, number): what will be delivered) may
        have been deleted on main since: a deletion revokes the weights for every past state too,
        as it does for a lock."""
        main = self.git.rev_parse(self.main_branch)
        if commit == main:
            return commit
        if at is not None and commit not in set(self.git.branches.first_parent_merges(main, 0)):
            raise PolicyViolation(f"{at} ({commit[:10]}) is not a commit {self.main_branch} ever had: its records "
                                  f"were never judged by {self.main_branch}'s policy, so no weights are delivered "
                                  f"from it; give a release tag or a commit of {self.main_branch}")
        now = self.snapshot(main)
        for model, number in versions:
            record = now.version(model, number) or {"status": "deleted", "deleted": {"reason": "not on main now"}}
            if record.get("status") == "deleted":
                reason = (record.get("deleted") or {}).get("reason") or "no reason given"
                raise PolicyViolation(f"{model}@{number} was deleted on {self.main_branch} since {at or commit[:10]} "
                                      f"({reason}): a deletion revokes it for past states too, so no weights are "
                                      f"delivered; use a version {self.main_branch} still has")
        return commit

    def snapshot(self, commit: str):
        """The records at `commit` (memoised per commit)."""
        from .store.snapshot import Snapshot

        return Snapshot.at(self.git, commit)

    def at(self, at: str | None = None, as_of: str | None = None):
        """The snapshot of main (or `at`, or main as of a time)."""
        return self.snapshot(self.commit_of(at, as_of))

    # -- reads ---------------------------------------------------------------------------
    def get_model(self, name: str, at: str | None = None, as_of: str | None = None) -> dict:
        return reads.model(self.at(at, as_of), check_name(name))

    def get_version(self, model: str, version, at: str | None = None, as_of: str | None = None) -> dict:
        return reads.version(self.at(at, as_of), check_name(model), parse_version(version))

    def aliases(self, model: str, at: str | None = None, as_of: str | None = None) -> dict[str, int]:
        return reads.aliases(self.at(at, as_of), check_name(model))

    def list_versions(self, model: str, stage: str | None = None, at: str | None = None,
                      include_deleted: bool = False) -> list[dict]:
        snap = self.at(at)
        reads.model(snap, check_name(model))
        if stage is not None:
            self.settings.check_stage(stage)
        return reads.versions(snap, model, stage, include_deleted)

    def get_latest_version(self, model: str, stage: str | None = None, at: str | None = None) -> dict:
        found = self.list_versions(model, stage=stage, at=at)
        if not found:
            raise NotFound(f"{model} has no active version" + (f" in stage {stage}" if stage else ""))
        return found[-1]

    def get_model_by_alias(self, model: str, alias: str, at: str | None = None) -> dict:
        return self.resolve(ModelRef(check_name(model), alias=alias), at=at).record

    def list_models(self, filter_tags: dict | None = None, at: str | None = None, active: bool = False) -> list[dict]:
        """Every model (a deprecated one too, its `deprecated` field set); `active`: not deprecated."""
        return reads.models(self.at(at), filter_tags, active)

    def resolve(self, ref: str | ModelRef, at: str | None = None, as_of: str | None = None) -> Resolved:
        """NAME@ALIAS / NAME@N / NAME@latest / NAME (=@production) -> a version at a commit."""
        target = parse_ref(ref) if isinstance(ref, str) else ref
        commit = self.commit_of(at, as_of)
        key = (commit, str(target))
        hit = self._resolved.get(key)
        if hit is None:
            hit = reads.resolve(self.snapshot(commit), target)
            if len(self._resolved) > MAX_CACHED_RESOLVES:  # a serving host sees many commits
                self._resolved.clear()
            self._resolved[key] = hit
        return hit

    def lineage(self, ref: str | ModelRef, at: str | None = None) -> list[Resolved]:
        """This version, then its parent, and so on down to the base model."""
        start = self.resolve(ref, at=at)
        return reads.lineage(self.snapshot(start.commit), start)

    def query_versions(self, model: str | None = None, where=None, sort: str | None = None,
                       limit: int | None = None, stage: str | None = None, include_deleted: bool = False,
                       at: str | None = None, full: bool = True) -> list[dict]:
        """`version list --where/--sort/--limit` (model None: every model): records with `model` and
        `aliases` (`full=False`: the query rows). The language: core/query.py."""
        return reads.find_versions(self.at(at), self.settings, model, where, sort, limit, stage, include_deleted,
                                   full, self.git.common_dir)

    def best_version(self, metric: str, model: str | None = None, lowest: bool = False, where=None,
                     stage: str | None = None, at: str | None = None) -> dict:
        """`modelreg best`: the version with the highest (`lowest`) value of BENCHMARK/METRIC."""
        return reads.best_version(self.at(at), self.settings, metric, model, lowest, where, stage, self.git.common_dir)

    def diff(self, old: str | ModelRef, new: str | ModelRef, at: str | None = None) -> dict:
        """`modelreg diff`: what differs from version `old` to `new` (any two refs, any models)."""
        from .store.compare import diff

        a, b = self.resolve(old, at=at), self.resolve(new, at=at)
        return diff(self.snapshot(a.commit), a, self.snapshot(b.commit), b)

    def history(self, model: str | None = None, limit: int = 50, at: str | None = None) -> list[dict]:
        from .store.history import events

        return events(self.git, check_name(model) if model else None, limit, at or self.main_branch)

    def check(self, at: str | None = None, base: str | None = None, pr: int | None = None,
              comment: bool = False, remote: bool = False):
        """Every problem at `at` (default: the working tree); with `base`, the change rules,
        gates and (with `pr`) the approval groups of the pull request; with `remote`, that
        every artifact of the checked versions is in the DVC remote. With `comment`, the PR
        comment is rendered into `result.comment`; `modelreg.rules.check.post_comment` posts it."""
        from .rules.check import run_check

        return run_check(self.git, at=at, base=base, pr=pr, comment=comment, remote=remote)

    # -- weights -------------------------------------------------------------------------
    def pull(self, ref: str | ModelRef, at: str | None = None, dest=None, progress=None,
             jobs: int | None = None, verify_signature: bool = False):
        """`modelreg pull`: resolve once, check the signature where policy asks, fetch what the
        cache lacks, verify every sha256, materialize (`dest`, or a folder in the cache)."""
        from .loading import weights

        resolved = self.resolve(ref, at=at)
        self.require_on_main(resolved.commit, at, [(resolved.model, resolved.version)])
        return weights.pull(self.snapshot(resolved.commit), resolved, self.root, dest=dest, progress=progress,
                            jobs=jobs, verify_signature=verify_signature)

    def verify(self, ref: str | ModelRef, at: str | None = None, deep: bool = False):
        """Every object of the version in the remote with the recorded size (deep: re-hashed)."""
        from .loading import weights

        resolved = self.resolve(ref, at=at)
        return weights.verify(weights.locate(self.snapshot(resolved.commit), resolved, self.root), deep=deep)

    def doctor(self, gc: bool = False, yes: bool = False):
        """Objects in the remote no branch or tag references (deleted with gc and yes), and lineage problems."""
        from .loading import weights

        return weights.doctor(self.git, self.root, self.commit_of(None), gc=gc, yes=yes)

    def gc(self, apply: bool = False, orphans: bool = False, locks=(), now: str | None = None, progress=None):
        """`modelreg gc`: purge the weights registry.yaml's retention lets go and nothing keeps (a dry
        run unless `apply`; `now`, ISO 8601: measure the windows to then). See loading/keeps.py."""
        from .core.clock import parse_when
        from .loading import weights

        return weights.gc(self.git, self.root, self.commit_of(None), apply, orphans, locks,
                          parse_when(now) if now else None, self.root if self.checkout else None, progress)

    # -- writes: one commit each, on the working tree's branch (writes/) -------------------
    def register_model(self, name: str, model_type: str, description: str | None = None,
                       owners=(), tags: dict | None = None) -> dict:
        return writes.models.register_model(self.worktree, name, model_type, description, owners, tags)

    def create_version(self, model: str, weights_dir: str | os.PathLike | None = None, *,
                       parent: str | None = None, metrics=(), parameters: dict | None = None,
                       tags: dict | None = None, description: str | None = None,
                       run_id: str | None = None, experiment_id: str | None = None,
                       data_version: str | None = None, source_uri: str | None = None,
                       model_type: str | None = None, card: dict | None = None, progress=None) -> dict:
        """Register the next version; with weights, track them by DVC and push to the remote.
        `progress`: a callback for the hashing and upload (artifacts/progress.py)."""
        return writes.versions.create_version(
            self.worktree, model, weights_dir, parent=parent, metrics=metrics, parameters=parameters,
            tags_=tags, description=description, run_id=run_id, experiment_id=experiment_id,
            data_version=data_version, source_uri=source_uri, model_type=model_type, card=card,
            progress=progress)

    def transition_stage(self, model: str, version, stage: str, archive_existing: bool | None = None,
                         reason: str | None = None) -> dict:
        """Move a version to `stage`. Exclusive stages archive their previous holder by default."""
        return writes.stages.transition_stage(self.worktree, model, version, stage, archive_existing, reason)

    def set_alias(self, model: str, alias: str, version) -> dict:
        return writes.stages.set_alias(self.worktree, model, alias, version)

    def remove_alias(self, model: str, alias: str) -> dict:
        return writes.stages.remove_alias(self.worktree, model, alias)

    def delete_version(self, model: str, version, reason: str) -> dict:
        """Soft delete: the record stays, marked deleted; aliases pointing at it are removed."""
        return writes.versions.delete_version(self.worktree, model, version, reason)

    def update_model(self, name: str, description: str | None = None, owners=None, add_owners=(),
                     remove_owners=(), tags: dict | None = None, untag=(), reason: str | None = None) -> dict:
        """Edit model.yaml (description, owners, tags); one commit. Returns what changed."""
        return writes.models.update_model(self.worktree, name, description, owners, add_owners, remove_owners, tags,
                                   untag, reason)

    def deprecate_model(self, name: str, reason: str) -> dict:
        """Mark a model deprecated: it still resolves, and `Resolved.deprecated` says why."""
        return writes.models.deprecate_model(self.worktree, name, reason)

    def undeprecate_model(self, name: str, reason: str | None = None) -> dict:
        return writes.models.undeprecate_model(self.worktree, name, reason)

    def tag_version(self, model: str, version, tags: dict | None = None, untag=(),
                    reason: str | None = None) -> dict:
        """Set and remove a version's tags (allowed on a merged version too); one commit."""
        return writes.versions.tag_version(self.worktree, model, version, tags, untag, reason)

    def set_card(self, model: str, version, card: dict) -> dict:
        return writes.cards.set_card(self.worktree, model, version, card)

    def set_remote(self, url: str, endpoint_url: str | None = None) -> dict:
        """Change the DVC remote's URL (and endpoint) in .dvc/config and commit that one file."""
        from .writes.remote import set_remote

        return set_remote(self.worktree, url, endpoint_url)


def init_registry(path: str | os.PathLike, remote: str | None = None,
                  endpoint_url: str | None = None, tool_source: str | None = None, approvers=()) -> Path:
    """Make `path` a registry: git init if needed, DVC with a remote, registry.yaml, schemas,
    CI workflows installing modelreg from `tool_source` (a git URL pinned to a commit), CODEOWNERS.
    `approvers` (@user, @org/team): production needs one of them, and they own the policy files."""
    from .writes.scaffold import scaffold

    return scaffold(Path(path), remote, endpoint_url=endpoint_url, tool_source=tool_source, approvers=approvers)


__all__ = ["Registry", "Resolved", "init_registry"]
