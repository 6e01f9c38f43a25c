"""A stateful fake GitHub behind Prism: the contract server the forge tests talk to.

The fake (a threaded HTTP server on loopback) keeps repositories, pull requests, reviews,
team memberships and issue comments, and merges for real into a bare git origin. Prism runs
in proxy mode with `--errors` in front of it, validating every request and every response
against the committed subset of GitHub's OpenAPI description: a request the real API would
refuse gets a 422 from Prism and never reaches the fake, and a response the real API could
not send becomes a 500. Tests talk only to Prism, and play the humans (reviews, team
membership, merges) through the fake's Python API.

Responses are built by filling every required field the schema names with a plain valid
value, then laying the fake's real state over it, so the fake stays small and the shapes
stay GitHub's.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .ports import claim_block

SPEC = Path(__file__).resolve().parent.parent / "resources" / "github-openapi-subset.json"
STAMP = "2026-01-01T00:00:00Z"


class Filler:
    """Minimal schema-valid JSON for a component schema, with given values laid over it."""

    def __init__(self, spec: dict, base_url: str):
        self.spec = spec
        self.base_url = base_url

    def schema(self, name: str) -> dict:
        return self.spec["components"]["schemas"][name]

    def _resolve(self, node: dict) -> dict:
        while isinstance(node, dict) and "$ref" in node:
            target = self.spec
            for part in node["$ref"][2:].split("/"):
                target = target[part]
            node = target
        if "allOf" in node:
            merged = {"type": "object", "properties": {}, "required": []}
            for part in node["allOf"]:
                part = self._resolve(part)
                merged["properties"].update(part.get("properties", {}))
                merged["required"] += part.get("required", [])
            node = merged
        return node

    def make(self, schema, overlay=None):
        schema = self._resolve(schema)
        variants = schema.get("anyOf") or schema.get("oneOf")
        if variants:
            if overlay is not None and not isinstance(overlay, (dict, list)):
                return overlay
            objects = [v for v in map(self._resolve, variants) if v.get("type") != "null"]
            return self.make(objects[0], overlay)
        if overlay is None and schema.get("nullable"):
            return None
        kind = schema.get("type") or ("object" if "properties" in schema else None)
        if kind == "object":
            return self._object(schema, overlay or {})
        if kind == "array":
            return [self.make(schema.get("items", {}), item) for item in overlay or []]
        if overlay is not None:
            return overlay
        return self._scalar(schema, kind)

    def _object(self, schema: dict, overlay: dict) -> dict:
        props = schema.get("properties", {})
        out = {}
        for name in dict.fromkeys([*schema.get("required", []), *overlay]):
            sub = props.get(name, {})
            if name in overlay and (overlay[name] is None or not sub):
                out[name] = overlay[name]
            else:
                out[name] = self.make(sub, overlay.get(name))
        return out

    def _scalar(self, schema: dict, kind):
        if "enum" in schema:
            return next(v for v in schema["enum"] if v is not None)
        if kind == "string":
            return {"date-time": STAMP, "uri": f"{self.base_url}/x", "email": "x@example.com"}.get(
                schema.get("format"), "")
        if kind == "integer":
            return max(1, schema.get("minimum", 1))
        if kind == "number":
            return 0
        if kind == "boolean":
            return False
        return None


class FakeGitHub:
    """The state behind the fake API, and the Python API tests use to play people."""

    def __init__(self, spec: dict):
        self.lock = threading.RLock()
        self.spec = spec
        self.base_url = ""  # set once Prism's address is known: the URLs clients see
        self.fill = Filler(spec, "")
        self.reset()

    # -- test-side API ---------------------------------------------------------------
    def reset(self):
        with self.lock:
            self.tokens: dict[str, str] = {}
            self.repos: dict[str, dict] = {}
            self.pulls: dict[str, dict[int, dict]] = {}
            self.teams: dict[tuple[str, str], dict[str, str]] = {}
            self.comments: dict[int, dict] = {}
            self.failures: list[tuple[int, dict, str]] = []
            self.requests: list[tuple[str, str]] = []
            self.next_id = 1000

    def add_user(self, login: str) -> str:
        """A user with a token; returns the token to put in GITHUB_TOKEN."""
        token = f"ghp_fake_{login}_{len(self.tokens)}"
        self.tokens[token] = login
        return token

    def add_repo(self, full_name: str, origin: Path, default_branch: str = "main"):
        self.repos[full_name] = {"full_name": full_name, "origin": Path(origin),
                                 "default_branch": default_branch}
        self.pulls.setdefault(full_name, {})

    def add_team_member(self, team: str, login: str, role: str = "member"):
        """team as 'org/slug' or '@org/slug'."""
        org, slug = team.lstrip("@").split("/")
        self.teams.setdefault((org, slug), {})[login] = role

    def add_review(self, repo: str, number: int, login: str, state: str, body: str = ""):
        """state as the API spells a submitted review: APPROVED, CHANGES_REQUESTED, COMMENTED."""
        with self.lock:
            pr = self.pulls[repo][number]
            pr["reviews"].append({"id": self._id(), "login": login, "state": state, "body": body,
                                  "commit_id": pr["head_sha"]})
            pr["requested_reviewers"].discard(login)

    def fail_next(self, status: int, count: int = 1, headers: dict | None = None, message: str = "fail"):
        """The next `count` requests get this answer instead of reaching the state."""
        self.failures += [(status, headers or {}, message)] * count

    def pull(self, repo: str, number: int) -> dict:
        return self.pulls[repo][number]

    def pull_comments(self, repo: str, number: int) -> list[dict]:
        return [c for c in self.comments.values() if c["repo"] == repo and c["number"] == number]

    def merge(self, repo: str, number: int, by: str = "maintainer") -> str:
        """Merge for real: a --no-ff merge of the head branch into the base in the bare origin."""
        with self.lock:
            pr = self.pulls[repo][number]
            if pr["state"] != "open":
                raise AssertionError(f"#{number} is {pr['state']}")
            sha = _git_merge(self.repos[repo]["origin"], pr["base"], pr["head"],
                             f"Merge pull request #{number} from {pr['head']}\n\n{pr['title']}")
            pr.update(state="closed", merged=True, merge_commit_sha=sha, merged_by=by)
            return sha

    # -- HTTP side ---------------------------------------------------------------------
    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def user(self, login: str, kind: str = "User") -> dict:
        return self.fill.make(self.fill.schema("simple-user"), {
            "login": login, "id": abs(hash(login)) % 10**6 + 1, "type": kind,
            "url": f"{self.base_url}/users/{login}", "html_url": f"{self.base_url}/{login}"})

    def repo_json(self, full_name: str) -> dict:
        repo = self.repos[full_name]
        owner, name = full_name.split("/")
        return {"id": abs(hash(full_name)) % 10**6 + 1, "name": name, "full_name": full_name,
                "owner": self.user(owner, "Organization"), "default_branch": repo["default_branch"],
                "url": f"{self.base_url}/repos/{full_name}",
                "html_url": f"{self.base_url}/{full_name}", "private": True}

    def pull_json(self, repo: str, pr: dict) -> dict:
        url = f"{self.base_url}/repos/{repo}/pulls/{pr['number']}"
        ends = {side: {"label": f"{repo.split('/')[0]}:{pr[side]}", "ref": pr[side],
                       "sha": pr[f"{side}_sha"], "user": self.user(repo.split("/")[0], "Organization"),
                       "repo": self.repo_json(repo)} for side in ("head", "base")}
        return self.fill.make(self.fill.schema("pull-request"), {
            "id": pr["id"], "number": pr["number"], "title": pr["title"], "body": pr["body"],
            "state": pr["state"], "merged": pr["merged"], "draft": False,
            "merge_commit_sha": pr.get("merge_commit_sha"),
            "merged_at": STAMP if pr["merged"] else None,
            "merged_by": self.user(pr["merged_by"]) if pr.get("merged_by") else None,
            "user": self.user(pr["author"]), "url": url,
            "html_url": f"{self.base_url}/{repo}/pull/{pr['number']}",
            "requested_reviewers": [self.user(u) for u in sorted(pr["requested_reviewers"])],
            "requested_teams": [self.team_json(t) for t in sorted(pr["requested_teams"])],
            "head": ends["head"], "base": ends["base"]})

    def team_json(self, slug: str) -> dict:
        return self.fill.make(self.fill.schema("team"), {
            "id": abs(hash(slug)) % 10**6 + 1, "slug": slug, "name": slug})

    def review_json(self, repo: str, pr: dict, review: dict) -> dict:
        return self.fill.make(self.fill.schema("pull-request-review"), {
            "id": review["id"], "user": self.user(review["login"]), "body": review["body"],
            "state": review["state"], "commit_id": review["commit_id"],
            "submitted_at": STAMP, "author_association": "MEMBER",
            "pull_request_url": f"{self.base_url}/repos/{repo}/pulls/{pr['number']}"})

    def comment_json(self, comment: dict) -> dict:
        return self.fill.make(self.fill.schema("issue-comment"), {
            "id": comment["id"], "body": comment["body"], "user": self.user(comment["login"]),
            "url": f"{self.base_url}/repos/{comment['repo']}/issues/comments/{comment['id']}",
            "html_url": f"{self.base_url}/{comment['repo']}/pull/{comment['number']}#c{comment['id']}",
            "issue_url": f"{self.base_url}/repos/{comment['repo']}/issues/{comment['number']}",
            "author_association": "MEMBER"})

    def handle(self, method: str, path: str, query: dict, body, token: str | None):
        """(status, headers, json) for one request that passed Prism's validation."""
        with self.lock:
            self.requests.append((method, path))
            if self.failures:
                status, headers, message = self.failures.pop(0)
                return status, headers, {"message": message, "documentation_url": "https://docs.github.com/rest"}
            login = self.tokens.get(token or "")
            if login is None:
                return 401, {}, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
            for pattern, verb, fn in ROUTES:
                match = re.fullmatch(pattern, path)
                if match and verb == method:
                    return fn(self, login, query, body, *match.groups())
            return 404, {}, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}

    def _repo(self, owner, name):
        full = f"{owner}/{name}"
        if full not in self.repos:
            raise _Answer(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        return full

    def _pr(self, full, number):
        pr = self.pulls[full].get(int(number))
        if pr is None:
            raise _Answer(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        return pr

    def get_repo(self, login, query, body, owner, name):
        full = self._repo(owner, name)
        return 200, {}, self.fill.make(self.fill.schema("full-repository"), self.repo_json(full))

    def create_pull(self, login, query, body, owner, name):
        full = self._repo(owner, name)
        origin = self.repos[full]["origin"]
        head, base = body["head"].split(":")[-1], body["base"]
        head_sha, base_sha = _git_sha(origin, head), _git_sha(origin, base)
        if head_sha is None or base_sha is None:
            return 422, {}, _invalid("PullRequest", "head" if head_sha is None else "base", "invalid")
        if any(p["head"] == head and p["state"] == "open" for p in self.pulls[full].values()):
            return 422, {}, _invalid("PullRequest", "head", "custom",
                                     f"A pull request already exists for {owner}:{head}.")
        number = len(self.pulls[full]) + 1
        self.pulls[full][number] = {
            "id": self._id(), "number": number, "title": body["title"], "body": body.get("body"),
            "head": head, "base": base, "head_sha": head_sha, "base_sha": base_sha, "author": login,
            "state": "open", "merged": False, "requested_reviewers": set(), "requested_teams": set(),
            "reviews": []}
        return 201, {}, self.pull_json(full, self.pulls[full][number])

    def list_pulls(self, login, query, body, owner, name):
        full = self._repo(owner, name)
        state = query.get("state", "open")
        head = query.get("head", "").split(":")[-1]
        found = [p for p in self.pulls[full].values()
                 if (state == "all" or p["state"] == state) and (not head or p["head"] == head)]
        return 200, {}, [self.pull_json(full, p) for p in found]

    def get_pull(self, login, query, body, owner, name, number):
        full = self._repo(owner, name)
        pr = self._pr(full, number)
        # the head may have moved since the PR opened (a new push); GitHub reports the tip
        pr["head_sha"] = _git_sha(self.repos[full]["origin"], pr["head"]) or pr["head_sha"]
        return 200, {}, self.pull_json(full, pr)

    def request_reviewers(self, login, query, body, owner, name, number):
        full = self._repo(owner, name)
        pr = self._pr(full, number)
        users = body.get("reviewers") or []
        if pr["author"] in users:
            return 422, {}, _invalid("PullRequest", "reviewers", "custom",
                                     "Review cannot be requested from pull request author.")
        pr["requested_reviewers"].update(users)
        pr["requested_teams"].update(body.get("team_reviewers") or [])
        return 201, {}, self.fill.make(self.fill.schema("pull-request-simple"), {
            k: v for k, v in self.pull_json(full, pr).items()
            if k in self.fill.schema("pull-request-simple")["properties"]})

    def list_reviews(self, login, query, body, owner, name, number):
        full = self._repo(owner, name)
        pr = self._pr(full, number)
        page, per_page = int(query.get("page", 1)), int(query.get("per_page", 30))
        chunk = pr["reviews"][(page - 1) * per_page: page * per_page]
        return 200, {}, [self.review_json(full, pr, r) for r in chunk]

    def team_membership(self, login, query, body, org, slug, user):
        role = self.teams.get((org, slug), {}).get(user)
        if role is None:
            return 404, {}, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
        return 200, {}, {"url": f"{self.base_url}/orgs/{org}/teams/{slug}/memberships/{user}",
                         "role": role, "state": "active"}

    def list_comments(self, login, query, body, owner, name, number):
        full = self._repo(owner, name)
        self._pr(full, number)
        return 200, {}, [self.comment_json(c) for c in self.pull_comments(full, int(number))]

    def create_comment(self, login, query, body, owner, name, number):
        full = self._repo(owner, name)
        self._pr(full, number)
        comment = {"id": self._id(), "repo": full, "number": int(number), "body": body["body"], "login": login}
        self.comments[comment["id"]] = comment
        return 201, {}, self.comment_json(comment)

    def update_comment(self, login, query, body, owner, name, comment_id):
        self._repo(owner, name)
        comment = self.comments.get(int(comment_id))
        if comment is None:
            return 404, {}, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
        comment["body"] = body["body"]
        return 200, {}, self.comment_json(comment)


class _Answer(Exception):
    def __init__(self, status, payload):
        self.status, self.payload = status, payload


def _invalid(resource, field, code, message=None) -> dict:
    error = {"resource": resource, "field": field, "code": code}
    if message:
        error["message"] = message
    return {"message": "Validation Failed", "errors": [error],
            "documentation_url": "https://docs.github.com/rest"}


_SEG = r"([^/]+)"
ROUTES = [
    (rf"/repos/{_SEG}/{_SEG}", "GET", FakeGitHub.get_repo),
    (rf"/repos/{_SEG}/{_SEG}/pulls", "POST", FakeGitHub.create_pull),
    (rf"/repos/{_SEG}/{_SEG}/pulls", "GET", FakeGitHub.list_pulls),
    (rf"/repos/{_SEG}/{_SEG}/pulls/(\d+)", "GET", FakeGitHub.get_pull),
    (rf"/repos/{_SEG}/{_SEG}/pulls/(\d+)/requested_reviewers", "POST", FakeGitHub.request_reviewers),
    (rf"/repos/{_SEG}/{_SEG}/pulls/(\d+)/reviews", "GET", FakeGitHub.list_reviews),
    (rf"/orgs/{_SEG}/teams/{_SEG}/memberships/{_SEG}", "GET", FakeGitHub.team_membership),
    (rf"/repos/{_SEG}/{_SEG}/issues/(\d+)/comments", "GET", FakeGitHub.list_comments),
    (rf"/repos/{_SEG}/{_SEG}/issues/(\d+)/comments", "POST", FakeGitHub.create_comment),
    (rf"/repos/{_SEG}/{_SEG}/issues/comments/(\d+)", "PATCH", FakeGitHub.update_comment),
]


def _git(cwd, *args, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check)


def _git_sha(origin: Path, branch: str) -> str | None:
    proc = _git(origin, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
    return proc.stdout.strip() or None


def _git_merge(origin: Path, base: str, head: str, message: str) -> str:
    work = Path(tempfile.mkdtemp(prefix="fake-merge-"))
    try:
        _git(work, "clone", "--quiet", "--branch", base, str(origin), "w")
        repo = work / "w"
        _git(repo, "merge", "--no-ff", "--quiet", "-m", message, f"origin/{head}")
        _git(repo, "push", "--quiet", "origin", f"HEAD:refs/heads/{base}")
        return _git(repo, "rev-parse", "HEAD").stdout.strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _handler(fake: FakeGitHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep pytest output clean
            pass

        def _serve(self):
            from urllib.parse import parse_qsl, urlsplit

            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            auth = self.headers.get("Authorization", "")
            token = auth.split(" ", 1)[1] if " " in auth else None
            try:
                status, headers, payload = fake.handle(self.command, url.path, dict(parse_qsl(url.query)),
                                                       body, token)
            except _Answer as answer:
                status, headers, payload = answer.status, {}, answer.payload
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, str(value))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler


def _free_port() -> int:
    return claim_block(1)  # outside the ephemeral range: no client socket takes it before prism binds


def _prism() -> str:
    prism = shutil.which("prism")
    if prism is None:
        local = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "prism"
        if local.exists():
            return str(local)
        pytest.fail("prism is not installed: run 'make test' (it runs npm install), or "
                    "'npm install' and put node_modules/.bin on PATH", pytrace=False)
    return prism


def _wait_ready(proc, port: int, log: Path, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prism exited with {proc.returncode}:\n{log.read_text()[-3000:]}", pytrace=False)
        if "Prism is listening" in log.read_text():
            return
        time.sleep(0.1)
    pytest.fail(f"prism did not start within {timeout:.0f}s:\n{log.read_text()[-3000:]}", pytrace=False)


@pytest.fixture(scope="session")
def github_server(tmp_path_factory):
    """Prism (proxy, --errors) on loopback in front of the fake; yields (fake, base URL)."""
    spec = json.loads(SPEC.read_text())
    fake = FakeGitHub(spec)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    upstream = f"http://127.0.0.1:{server.server_address[1]}"
    port = _free_port()
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([_prism(), "proxy", str(SPEC), upstream, "--errors", "--host", "127.0.0.1",
                                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "NO_COLOR": "1"})
    try:
        _wait_ready(proc, port, log)
        fake.base_url = f"http://127.0.0.1:{port}"
        fake.fill.base_url = fake.base_url
        fake.log = log
        yield fake
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        server.shutdown()


@pytest.fixture
def github(github_server, monkeypatch):
    """The fake with fresh state, and GITHUB_API_URL pointing at Prism; tests add users/repos."""
    github_server.reset()
    monkeypatch.setenv("GITHUB_API_URL", github_server.base_url)
    monkeypatch.setenv("MODELREG_GITHUB_MAX_WAIT", "0.05")
    return github_server
