"""Recording who approved a merge, when the tag workflow observes it (issue 22).

`recorder(tree)` gives `record(sha) -> str` for `observe_main`: for a commit of main whose
message names a pull request (`Merge pull request #N`, a squash's `(#N)`), it asks the forge
for that PR and, when the forge says the PR was merged as exactly this commit, returns the
lines store/approval_notes.py defines: PR number, author, merger, and every approving review
that counts by the rules `check --pr` applies (latest review per reviewer, of the merged head,
the author only where self-approval is allowed), each with the approval groups it satisfied
under the policy in force at the merge's base. Anything else (no PR named, no forge, the
forge unreachable or saying otherwise) records nothing and the observation goes ahead: the
clock is never held up by a forge.
"""
import logging

from ..core.clock import iso, parse_when
from ..core.errors import RegistryError
from ..rules.approvals import is_member, latest_reviews, required_groups
from ..store.approval_notes import format_record, pr_of
from ..store.change import compute
from ..store.gitstore import origin_url
from ..store.snapshot import Snapshot

log = logging.getLogger(__name__)


def recorder(tree, client_factory=None):
    """`record(sha) -> str` (the note lines to add; "" for none), with one forge client made
    the first time a commit names a PR. `client_factory` defaults to the configured forge."""
    from .forge import github

    state = {}

    def client():
        if "client" not in state:
            if client_factory is not None:
                state["client"] = client_factory()
            elif github.configured(tree.settings):
                state["client"] = github.GitHub.from_env(tree.settings, origin_url(tree.git.root))
            else:
                state["client"] = None
        return state["client"]

    def record(sha: str) -> str:
        found = tree.git.log(sha, [], limit=1)
        number = pr_of(found[0].subject) if found else None
        if number is None:
            return ""
        try:
            forge = client()
            return merge_record(tree.git, forge, sha, number) if forge is not None else ""
        except RegistryError as exc:
            log.warning("not recording the approvals of #%s (%s): %s", number, sha[:12], exc)
            return ""
    return record


def merge_record(git, client, sha: str, number: int) -> str:
    """The note lines for PR `number` merged as `sha`, read from the forge ("" if it disagrees)."""
    pull = client.get_pull(number)
    if not pull.get("merged") or pull.get("merge_commit_sha") != sha:
        log.warning("PR #%s was not merged as %s, by the forge: recording no approvals", number, sha[:12])
        return ""
    author = (pull.get("user") or {}).get("login") or ""
    merger = (pull.get("merged_by") or {}).get("login")
    parents = git.branches.parents(sha)
    approvals = counted_approvals(git, client, parents[0], sha, client.reviews(number), author,
                          (pull.get("head") or {}).get("sha")) if parents else []
    return format_record(number, author, merger, approvals)


def counted_approvals(git, client, base: str, head: str, reviews: list[dict], author: str, head_sha) -> list[dict]:
    """Every approving review that counts, with the groups (of the base's policy) it satisfied."""
    change = compute(git, base, head)
    settings = Snapshot.at(git, base).settings_in_force
    groups = numbered(required_groups(settings, change.moves, change.policy_files))
    latest, _notes = latest_reviews(reviews, head_sha)
    found = []
    for login, review in latest.items():
        if review.get("state") != "APPROVED":
            continue
        login = (review.get("user") or {}).get("login") or login
        satisfied = []
        for stage, number, group, allow_self in groups:
            if login.lower() == author.lower() and not allow_self:
                continue
            via = next((m for m in group if is_member(m, login, client.is_team_member)), None)
            if via is not None:
                satisfied.append({"stage": stage, "group": number, "via": via})
        found.append({"login": login, "at": _utc(review.get("submitted_at")), "groups": satisfied})
    return found


def numbered(groups) -> list[tuple[str, int, list[str], bool]]:
    """(stage, N, group, allow_self): N counts the stage's groups from 1, as registry.yaml lists them."""
    counts, out = {}, []
    for stage, group, allow_self in groups:
        counts[stage] = counts.get(stage, 0) + 1
        out.append((stage, counts[stage], group, allow_self))
    return out


def _utc(text) -> str:
    try:
        return iso(parse_when(text))
    except (RegistryError, TypeError):
        return "1970-01-01T00:00:00Z"  # a review without a time: the record keeps its shape
