"""Approval groups: which groups a change needs, and whether a PR's reviews satisfy them.

Groups (`approvals: {production: {groups: [["@org/ml-leads"], ["@org/qa"]]}}`) must ALL
approve, each by any one member (a user, or a member of a team through the API); the latest
review per reviewer counts, a CHANGES_REQUESTED blocks, an approval of an older commit does
not count, and the author approves nothing unless `allow_self_approval: true`.
A change of the rules themselves (registry.yaml, schemas/, .dvc/, .github/, CODEOWNERS) needs
the `policy` groups, by default those of the strictest stage (issue 8 hole 3).
"""
from dataclasses import dataclass, field

POLICY = "policy"  # the approvals key for changes to policy files


@dataclass
class GroupResult:
    stage: str
    members: list[str]
    ok: bool
    by: str | None = None
    notes: list[str] = field(default_factory=list)


def approval_rule(settings, stage: str) -> tuple[list[list[str]], bool]:
    rule = (settings.get("approvals") or {}).get(stage) or {}
    return [list(g) for g in rule.get("groups") or []], bool(rule.get("allow_self_approval", False))


def strictest_stage(settings) -> str | None:
    """The stage whose approval rule asks most (most groups); exclusive stages win ties."""
    stages = [s for s in (settings.get("approvals") or {}) if s != POLICY]
    if not stages:
        return None
    return max(stages, key=lambda s: (len(approval_rule(settings, s)[0]), s in settings.exclusive_stages))


def policy_rule(settings) -> tuple[list[list[str]], bool]:
    """Groups a policy-file change needs: `approvals.policy`, else the strictest stage's, never self."""
    if (settings.get("approvals") or {}).get(POLICY):
        return approval_rule(settings, POLICY)
    stage = strictest_stage(settings)
    return (approval_rule(settings, stage)[0], False) if stage else ([], False)


def required_groups(settings, moves, policy_files=()) -> list[tuple[str, list[str], bool]]:
    """(stage, group, allow_self) for every group the change needs, without repeats."""
    from ..store.change import entered

    seen, found = set(), []
    rules = [(stage, *approval_rule(settings, stage)) for stage in dict.fromkeys(m.after for m in entered(moves))]
    if policy_files:
        rules.append((POLICY, *policy_rule(settings)))
    for stage, groups, allow_self in rules:
        for group in groups:
            key = (stage, tuple(group))
            if key not in seen:
                seen.add(key)
                found.append((stage, group, allow_self))
    return found


def reviewers_for(groups) -> tuple[list[str], list[str]]:
    """Users and team slugs to request reviews from (team slugs without the org)."""
    users, teams = set(), set()
    for _stage, group, _allow in groups:
        for member in group:
            name = member.lstrip("@")
            if "/" in name:
                teams.add(name.split("/", 1)[1])
            else:
                users.add(name)
    return sorted(users), sorted(teams)


def latest_reviews(reviews: list[dict], head_sha: str | None) -> tuple[dict[str, dict], list[str]]:
    """login -> latest deciding review; plus notes on approvals that do not count."""
    latest, notes = {}, []
    for review in reviews:
        login = ((review.get("user") or {}).get("login") or "").lower()
        state = review.get("state")
        if not login or state not in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            continue  # a COMMENTED review neither grants nor withdraws approval
        latest[login] = review
    for login, review in list(latest.items()):
        if review["state"] == "APPROVED" and head_sha and review.get("commit_id") not in (None, head_sha):
            notes.append(f"@{login} approved an earlier commit; a new approval of {head_sha[:10]} is needed")
            del latest[login]
        elif review["state"] == "DISMISSED":
            del latest[login]
    return latest, notes


def is_member(member: str, login: str, team_check) -> bool:
    name = member.lstrip("@")
    if "/" not in name:
        return name.lower() == login.lower()
    org, team = name.split("/", 1)
    return team_check(org, team, login)


def evaluate_approvals(groups, reviews: list[dict], author: str, head_sha: str | None,
                       team_check) -> tuple[list[GroupResult], list[str]]:
    """Per-group results and blockers (CHANGES_REQUESTED) from a PR's reviews."""
    latest, notes = latest_reviews(reviews, head_sha)
    blockers = [f"@{login} requested changes" for login, r in latest.items() if r["state"] == "CHANGES_REQUESTED"]
    approvers = [login for login, r in latest.items() if r["state"] == "APPROVED"]
    cache: dict = {}

    def member(m, login):
        key = (m.lower(), login.lower())
        if key not in cache:
            cache[key] = is_member(m, login, team_check)
        return cache[key]

    results = []
    for stage, group, allow_self in groups:
        result = GroupResult(stage, group, False, notes=list(notes))
        for login in approvers:
            if not any(member(m, login) for m in group):
                continue
            if login == author.lower() and not allow_self:
                result.notes.append(f"self-approval by the author @{author} does not count "
                                    f"(allow_self_approval is false for {stage})")
                continue
            result.ok, result.by = True, login
            break
        if not result.ok and allow_self and any(member(m, author) for m in group):
            result.ok, result.by = True, f"{author} (author, self-approval allowed)"
        results.append(result)
    return results, blockers
