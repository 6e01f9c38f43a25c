#!/usr/bin/env python3
"""Cut the GitHub REST operations modelreg uses out of GitHub's published OpenAPI description.

The subset is what the contract tests serve with Prism, and the record of modelreg's GitHub
API surface: a call outside it gets "no path matched". Regenerate it after changing
tool/modelreg/forge/github.py:

    mkdir -p /tmp/octokit && npm install --prefix /tmp/octokit --no-save @octokit/openapi@23.0.2
    python3 scripts/github_openapi_subset.py \
        /tmp/octokit/node_modules/@octokit/openapi/generated/api.github.com.json

@octokit/openapi is ~385 MB installed (it carries every GHES variant), so it is not a
dependency of the project; only the subset is committed.
"""
import argparse
import json
import sys
from pathlib import Path

PINNED = "@octokit/openapi@23.0.2"
OUT = Path(__file__).resolve().parent.parent / "tests" / "resources" / "github-openapi-subset.json"
# The base URL the examples and servers point at; the tests serve Prism on loopback.
LOCAL_BASE = "http://127.0.0.1:4010"

# operationId -> why modelreg calls it (kept in the subset's info.description)
OPERATIONS = {
    "repos/get": "find the default branch; the first call, so a bad token fails early",
    "pulls/create": "open a promotion pull request",
    "pulls/list": "find the open pull request of a pushed branch (idempotent promote)",
    "pulls/get": "read a pull request's author, base and head for `check --pr`",
    "pulls/request-reviewers": "request the reviewers the approval groups need",
    "pulls/list-reviews": "read reviews for the approval groups",
    "teams/get-membership-for-user-in-org": "is a reviewer a member of an approving team",
    "issues/list-comments": "find modelreg's summary comment on a pull request",
    "issues/create-comment": "post the summary comment",
    "issues/update-comment": "keep the one summary comment up to date",
}


def find_operations(spec: dict) -> dict:
    """(path, method) of each wanted operation, failing loudly on a renamed one."""
    found = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") in OPERATIONS:
                found[op["operationId"]] = (path, method)
    missing = sorted(set(OPERATIONS) - set(found))
    if missing:
        sys.exit(f"operations not in this description: {', '.join(missing)}")
    return found


def refs_in(node):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def ref_closure(spec: dict, roots) -> set[str]:
    """Every '#/components/...' reference reachable from the roots."""
    seen, todo = set(), list(refs_in(roots))
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        if not ref.startswith("#/components/"):
            sys.exit(f"unexpected $ref {ref!r}: only local component references are handled")
        seen.add(ref)
        todo.extend(refs_in(lookup(spec, ref)))
    return seen


def lookup(spec: dict, ref: str):
    node = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def localize(node):
    """Point example URLs at the local base, so a client following them stays on loopback."""
    if isinstance(node, dict):
        return {k: localize(v) for k, v in node.items()}
    if isinstance(node, list):
        return [localize(v) for v in node]
    if isinstance(node, str):
        return node.replace("https://api.github.com", LOCAL_BASE)
    return node


def subset(spec: dict) -> dict:
    found = find_operations(spec)
    paths: dict = {}
    for op_id, (path, method) in sorted(found.items(), key=lambda kv: kv[1]):
        item = spec["paths"][path]
        target = paths.setdefault(path, {k: v for k, v in item.items() if k == "parameters"})
        target[method] = item[method]
    components: dict = {}
    for ref in sorted(ref_closure(spec, paths)):
        _, _, section, name = ref.split("/", 3)
        components.setdefault(section, {})[name] = lookup(spec, ref)
    info = dict(spec["info"])
    info["description"] = ("Subset of GitHub's REST API description used by modelreg, cut from "
                           f"{PINNED} by scripts/github_openapi_subset.py. Operations: "
                           + "; ".join(f"{k} ({v})" for k, v in OPERATIONS.items()))
    out = {"openapi": spec["openapi"], "info": info, "servers": [{"url": LOCAL_BASE}],
           "paths": paths, "components": {k: dict(sorted(v.items())) for k, v in sorted(components.items())}}
    return localize(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help=f"generated/api.github.com.json from {PINNED}")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    spec = json.loads(Path(args.source).read_text())
    result = subset(spec)
    Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    ops = sum(1 for item in result["paths"].values() for k in item if k != "parameters")
    print(f"wrote {args.out}: {ops} operations, {sum(len(v) for v in result['components'].values())} components")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
