"""Rendering of check results: the one PR comment (rules and gates never render themselves)."""
COMMENT_MARKER = "<!-- modelreg:check -->"


def gate_line(g) -> str:
    return f"- {'✅' if g.ok else '❌'} {g.model}@{g.version} → {g.stage}: `{g.condition}` ({g.detail})"


def check_comment(report, check_problems: list[tuple[str, str, str]]) -> str:
    """The PR comment: what moves, policy files, gates, approval groups, every problem."""
    problems = list(check_problems) + [p for p in report.problems if p not in check_problems]
    status = "✅ all checks pass" if not problems else f"❌ {len(problems)} problem(s)"
    lines = [COMMENT_MARKER, f"## modelreg check: {status}", "",
             f"Checked {report.head[:10]} against {report.base[:10]}.", "", "### What moves"]
    lines += [f"- {m.describe()}" for m in report.moves] or ["- nothing"]
    if report.policy_files:
        lines += ["", "### Policy files changed",
                  "This pull request changes the rules themselves; it needs the `policy` approval groups, "
                  "and it is judged by the rules on the base branch, not the ones it brings."]
        lines += [f"- `{p}`" for p in report.policy_files]
    lines += ["", "### Gates"]
    lines += [gate_line(g) for g in report.gates] or ["- none apply"]
    lines += ["", "### Approval groups"]
    if report.groups is None:
        lines.append("- not checked (no pull request number)")
    for group in report.groups or []:
        mark = f"✅ approved by @{group.by}" if group.ok else "❌ waiting"
        lines.append(f"- {group.stage}: one of {', '.join(group.members)}: {mark}")
        lines += [f"  - {note}" for note in group.notes]
    if report.groups == []:
        lines.append("- none required")
    lines += [f"- ⛔ {b}" for b in report.blockers]
    if problems:
        lines += ["", "### Problems"] + [f"- `{f}:{p}`: {m}" for f, p, m in problems]
    return "\n".join(lines) + "\n"
