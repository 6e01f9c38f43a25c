"""The only module that talks to GitHub: pull requests, reviewers, reviews, teams, comments.

Standard library only (urllib), so CI needs nothing beyond `pip install modelreg`. The
operations used are exactly those in tests/resources/github-openapi-subset.json, which the
contract tests serve with Prism; a call outside it fails there with "no path matched".

Where things come from (never from files in the registry):
- token: GITHUB_TOKEN, then GH_TOKEN, then gh's hosts.yml (`gh auth login`)
- API base: GITHUB_API_URL (as Actions sets it; GitHub Enterprise users set their own),
  else the API of the origin remote's host: https://api.github.com for github.com,
  https://HOST/api/v3 for an Enterprise host. registry.yaml's forge.api_url may only pick
  between those two forms: the token is never sent to a host the registry's own files chose,
  and never over plain http (loopback http only from GITHUB_API_URL, as the tests use it)
- repository: GITHUB_REPOSITORY, then registry.yaml forge.repository, then the origin URL
- pull request number in a workflow: the event file at GITHUB_EVENT_PATH
"""
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from ...core.errors import ExternalError, InvalidInput, NotFound

log = logging.getLogger(__name__)

DEFAULT_API = "https://api.github.com"
ATTEMPTS = 4  # one try and three retries on 5xx and rate limits
USER_AGENT = "modelreg"
_REMOTE = re.compile(r"(?:[:/])([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")


# -- configuration ---------------------------------------------------------------------------
def api_url(settings=None, origin_url: str | None = None) -> str:
    """Where the token may go: the environment's API, or https on the configured host."""
    env = os.environ.get("GITHUB_API_URL", "").strip()
    if env:
        return _checked_env_api(env.rstrip("/"))
    host = remote_host(origin_url) or "github.com"
    allowed = _host_apis(host)
    forge = (settings.get("forge") or {}) if settings else {}
    chosen = forge.get("api_url") if isinstance(forge, dict) else None
    if chosen:
        chosen = str(chosen).rstrip("/")
        if chosen not in allowed:
            raise ExternalError(f"registry.yaml's forge.api_url {chosen!r} is not the API of {host} "
                                f"({' or '.join(allowed)}); the GitHub token is only sent there or to "
                                "GITHUB_API_URL: set GITHUB_API_URL to use another API")
        return chosen
    return allowed[0]


def _host_apis(host: str) -> list[str]:
    if host in ("github.com", "api.github.com"):
        return [DEFAULT_API]
    return [f"https://{host}/api/v3", f"https://api.{host}"]


def _checked_env_api(url: str) -> str:
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme == "https" or (parts.scheme == "http" and loopback):
        return url
    raise ExternalError(f"GITHUB_API_URL {url!r} is not https; the GitHub token is never sent over "
                        "plain http (only loopback http is allowed, for local test servers)")


def remote_host(origin_url: str | None) -> str | None:
    """The host of the origin remote (https://HOST/..., ssh://git@HOST/..., git@HOST:...)."""
    if not origin_url:
        return None
    text = origin_url.strip()
    if "://" in text:
        return urlsplit(text).hostname
    match = re.fullmatch(r"[A-Za-z0-9_.-]+@([A-Za-z0-9.-]+):.*", text)
    return match.group(1) if match else None


def web_host(api: str) -> str:
    """github.com for the public API; the Enterprise host for https://HOST/api/v3."""
    host = urlsplit(api).hostname or "github.com"
    return "github.com" if host == "api.github.com" else host


def token(api: str) -> str:
    for var in ("GITHUB_TOKEN", "GH_TOKEN"):
        value = os.environ.get(var, "").strip()
        if value:
            return _check_token(value, var)
    value = _gh_config_token(web_host(api))
    if value:
        return _check_token(value, "gh's hosts.yml")
    raise ExternalError("no GitHub token: set GITHUB_TOKEN (a token with pull-request write access) "
                        "or run 'gh auth login'")


def _check_token(value: str, where: str) -> str:
    # a token goes into an HTTP header: refuse anything that could break out of it
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,255}", value):
        raise ExternalError(f"the GitHub token from {where} is malformed; set a valid GITHUB_TOKEN")
    return value


def _gh_config_token(host: str) -> str | None:
    base = os.environ.get("GH_CONFIG_DIR") or Path(
        os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "gh"
    path = Path(base) / "hosts.yml"
    if not path.is_file():
        return None
    from ...core.records import load_yaml

    try:
        hosts = load_yaml(path.read_bytes(), str(path)) or {}
    except Exception:
        return None
    entry = hosts.get(host) if isinstance(hosts, dict) else None
    return entry.get("oauth_token") if isinstance(entry, dict) else None


def repository(settings=None, origin_url: str | None = None) -> str:
    forge = (settings.get("forge") or {}) if settings else {}
    name = os.environ.get("GITHUB_REPOSITORY") or forge.get("repository")
    if not name and origin_url:
        match = _REMOTE.search(origin_url.strip())
        name = f"{match.group(1)}/{match.group(2)}" if match else None
    if not name or not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", name):
        raise InvalidInput("cannot tell the GitHub repository: set GITHUB_REPOSITORY=OWNER/NAME "
                           "or forge.repository in registry.yaml")
    return name


def event_pull_number() -> int | None:
    """The PR number of the pull_request / pull_request_review event a workflow runs for."""
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path or not Path(path).is_file():
        return None
    try:
        event = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    return number if isinstance(number, int) else None


def configured(settings) -> bool:
    """A forge is configured when registry.yaml says github (or a workflow gives a repository)."""
    forge = settings.get("forge") or {}
    return forge.get("type") == "github"


# -- the client ------------------------------------------------------------------------------
class GitHub:
    def __init__(self, repo: str, token_value: str, api: str = DEFAULT_API,
                 attempts: int = ATTEMPTS, max_wait: float | None = None):
        self.repo = repo
        self.api = api.rstrip("/")
        self._token = token_value
        self.attempts = attempts
        self.max_wait = float(os.environ.get("MODELREG_GITHUB_MAX_WAIT", 60)) if max_wait is None else max_wait

    @classmethod
    def from_env(cls, settings=None, origin_url: str | None = None) -> "GitHub":
        api = api_url(settings, origin_url)
        return cls(repository(settings, origin_url), token(api), api)

    # -- HTTP with bounded retries ---------------------------------------------------------
    def request(self, method: str, path: str, body=None, query: dict | None = None):
        url = self.api + path + (f"?{urlencode(query)}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(1, self.attempts + 1):
            status, headers, payload = self._send(method, url, data)
            wait = self._retry_wait(status, headers, payload, attempt)
            if wait is None:
                break
            log.warning("GitHub answered %s to %s %s; retrying in %.1fs", status, method, path, wait)
            time.sleep(wait)
        if status >= 400:
            raise self._error(status, headers, payload, method, path)
        return payload

    def _send(self, method, url, data):
        req = urllib.request.Request(url, data=data, method=method, headers={
            "Accept": "application/vnd.github+json", "Authorization": f"Bearer {self._token}",
            "X-GitHub-Api-Version": "2022-11-28", "User-Agent": USER_AGENT,
            **({"Content-Type": "application/json"} if data is not None else {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.headers, _json(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, _json(exc.read())
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ExternalError(f"cannot reach GitHub at {self.api}: {reason}; check GITHUB_API_URL "
                                "and the network") from None

    def _retry_wait(self, status, headers, payload, attempt) -> float | None:
        """Seconds to wait before retrying, or None when the answer is final."""
        if attempt >= self.attempts or not _transient(status, headers, payload):
            return None
        hinted = headers.get("Retry-After")
        if hinted is None and headers.get("x-ratelimit-remaining") == "0":
            reset = headers.get("x-ratelimit-reset")
            hinted = max(0.0, float(reset) - time.time()) if reset and reset.isdigit() else None
        try:
            wait = float(hinted) if hinted is not None else 2.0 ** (attempt - 1)
        except ValueError:
            wait = 2.0 ** (attempt - 1)
        return min(wait, self.max_wait)

    def _error(self, status, headers, payload, method, path) -> Exception:
        message = payload.get("message", "") if isinstance(payload, dict) else ""
        details = "; ".join(e.get("message") or f"{e.get('field')} {e.get('code')}"
                            for e in (payload.get("errors") or []) if isinstance(e, dict)) \
            if isinstance(payload, dict) else ""
        said = f"{message} ({details})" if details else message
        if status == 401:
            return ExternalError("GitHub refused the token (401 Bad credentials): set a valid GITHUB_TOKEN")
        if _transient(status, headers, payload):
            return ExternalError(f"GitHub kept answering {status} to {method} {path} after "
                                 f"{self.attempts} tries ({said or 'no message'}); try again later")
        if status == 404:
            return NotFound(f"GitHub has no {path} (404), or the token cannot see {self.repo}")
        if status == 403:
            return ExternalError(f"GitHub refused {method} {path} (403 {said}): the token needs "
                                 "pull-request and contents write access")
        return ExternalError(f"GitHub answered {status} to {method} {path}: {said or 'no message'}")

    def _pages(self, path: str, query: dict | None = None, limit: int = 20) -> list:
        items = []
        for page in range(1, limit + 1):
            chunk = self.request("GET", path, query={**(query or {}), "per_page": 100, "page": page})
            items += chunk
            if len(chunk) < 100:
                break
        return items

    # -- operations --------------------------------------------------------------------------
    @property
    def _r(self) -> str:
        return f"/repos/{self.repo}"

    def get_repo(self) -> dict:
        return self.request("GET", self._r)

    def create_pull(self, title: str, head: str, base: str, body: str) -> dict:
        return self.request("POST", f"{self._r}/pulls",
                            {"title": title, "head": head, "base": base, "body": body})

    def find_pull(self, head: str) -> dict | None:
        owner = self.repo.split("/")[0]
        found = self.request("GET", f"{self._r}/pulls", query={"head": f"{owner}:{head}", "state": "open"})
        return found[0] if found else None

    def get_pull(self, number: int) -> dict:
        return self.request("GET", f"{self._r}/pulls/{int(number)}")

    def request_reviewers(self, number: int, users: list[str], teams: list[str]) -> dict:
        return self.request("POST", f"{self._r}/pulls/{int(number)}/requested_reviewers",
                            {"reviewers": sorted(users), "team_reviewers": sorted(teams)})

    def reviews(self, number: int) -> list[dict]:
        return self._pages(f"{self._r}/pulls/{int(number)}/reviews")

    def is_team_member(self, org: str, team: str, login: str) -> bool:
        path = f"/orgs/{quote(org)}/teams/{quote(team)}/memberships/{quote(login)}"
        try:
            membership = self.request("GET", path)
        except NotFound:
            return False
        return membership.get("state") == "active"

    def upsert_comment(self, number: int, marker: str, body: str) -> dict:
        """Keep ONE comment carrying `marker` on the PR: edit it if there, else post it."""
        for comment in self._pages(f"{self._r}/issues/{int(number)}/comments"):
            if marker in (comment.get("body") or ""):
                return self.request("PATCH", f"{self._r}/issues/comments/{comment['id']}", {"body": body})
        return self.request("POST", f"{self._r}/issues/{int(number)}/comments", {"body": body})


def _transient(status, headers, payload) -> bool:
    if status >= 500 or status == 429:
        return True
    if status == 403:
        message = (payload.get("message") or "").lower() if isinstance(payload, dict) else ""
        return headers.get("x-ratelimit-remaining") == "0" or "rate limit" in message
    return False


def _json(raw: bytes):
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"message": raw[:200].decode(errors="replace")}
