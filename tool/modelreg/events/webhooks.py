"""Delivery: main's events POSTed to registry.yaml's webhooks, signed per Standard Webhooks.

The only user of `standardwebhooks` and of HTTP to receivers. Each POST carries
`webhook-id` (stable per event and webhook: receivers de-duplicate on it), `webhook-timestamp`
(the time of sending) and `webhook-signature` (v1, HMAC-SHA256 of id.timestamp.body under the
secret named by secret_env). The body is `{"type", "timestamp", "data"}` (the event, `timestamp`
its time on the registry's clock), or `{"text"}` for `format: slack`.

Retries: 5xx, 429 and connection errors, with back-off (Retry-After honoured, capped), a
bounded number of times; any other answer is final (a 4xx is reported, not retried; a
redirect is not followed: it could lead off https or to another host). Events reach a webhook
in order: after a failure the rest wait for the next run.

What was delivered is kept in Git (record.py); without `since`, a run sends what came after
the newest commit the record says was wholly delivered, skipping events it says were sent
(the first run for a webhook: the head commit's events only).
"""
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from binascii import Error as Base64Error
from datetime import datetime, timezone
from http.client import HTTPException

from ..core.clock import NOTES_REF
from ..core.errors import ExternalError, InvalidInput
from ..core.urls import redact_url, webhook_url_problem
from ..store.snapshot import Snapshot
from . import record as rec
from .compute import commits_between, describe, events_of

log = logging.getLogger(__name__)

DELAYS = (0.5, 1.0, 2.0, 4.0)  # seconds before each retry: five tries at most
MAX_RETRY_AFTER = 30.0
TIMEOUT = 10.0
USER_AGENT = "modelreg-webhooks"
_SECRET = re.compile(r"(?:whsec_)?[A-Za-z0-9+/]{16,}={0,2}")  # 12 bytes or more, base64


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 3xx comes back as an HTTPError: final, reported


_OPENER = urllib.request.build_opener(_NoRedirect)


def send_events(git, main: str, since: str | None = None, env=None, delays=DELAYS, push: bool = True) -> dict:
    """Deliver main's new events to every webhook; returns what was sent, skipped and failed."""
    env = os.environ if env is None else env
    ops = git.branches
    remote = push and ops.has_remote("origin")
    if remote:  # a fresh clone: the record and the clock's observations live on origin
        ops.fetch_notes(rec.DELIVERIES_REF)
        ops.fetch_notes(NOTES_REF)
    head = git.rev_parse(main)
    hooks = [_prepared(hook, env) for hook in Snapshot.at(git, head).settings_in_force.webhooks]
    result = {"head": head, "webhooks": len(hooks), "events": 0, "deliveries": [], "skipped": 0, "recorded": []}
    if not hooks:
        return result
    record = rec.read(git.first_parent_line(head, rec.DELIVERIES_REF), {h["key"]: h["secret"] for h in hooks})
    starts = {h["key"]: since if since is not None else record.through.get(h["key"]) for h in hooks}
    commits = _window(git, head, starts)
    order = [c.sha for c in commits]
    events = events_of(git, head, commits)
    result["events"] = len(events)
    for hook in hooks:
        _deliver_all(hook, _after(events, order, starts[hook["key"]], git, head), record, result, delays,
                     mark=since is None, head=head, order=order)
    result["recorded"] = rec.write(ops, record)
    if remote and result["recorded"]:
        try:
            ops.push(f"{rec.DELIVERIES_REF}:{rec.DELIVERIES_REF}")
        except ExternalError as exc:  # delivered all the same: the next run resends what it cannot see
            result["push_error"] = str(exc)
    return result


def _prepared(hook: dict, env) -> dict:
    """The hook with its URL, label, key and secret; a missing variable is one line naming it."""
    from standardwebhooks import Webhook
    from standardwebhooks.webhooks import EmptyWebhookSecretError

    url = hook.get("url") or env.get(hook["url_env"])
    if not url:
        raise InvalidInput(f"the webhook URL variable {hook['url_env']} is not set")
    label = redact_url(hook["url"]) if hook.get("url") else f"${hook['url_env']}"
    problem = webhook_url_problem(url)
    if problem:
        raise InvalidInput(f"webhook {label}: {problem}")
    secret = env.get(hook["secret_env"])
    if not secret:
        raise InvalidInput(f"the webhook secret variable {hook['secret_env']} is not set (for {label})")
    try:
        if not _SECRET.fullmatch(secret):  # base64 decoding alone skips stray characters
            raise ValueError("not base64")
        signer = Webhook(secret)
    except (Base64Error, ValueError, EmptyWebhookSecretError):
        raise InvalidInput(f"the webhook secret in {hook['secret_env']} is not a Standard Webhooks secret "
                           "(whsec_ followed by base64)") from None
    return {**hook, "url": url, "label": label, "key": rec.hook_key(hook), "secret": secret.encode(),
            "signer": signer}


def _window(git, head: str, starts: dict) -> list:
    """Main's commits after the oldest start, oldest first (a hook with no start needs the head
    commit). Starts are commits of main's line, so each window holds the newer ones."""
    windows = [commits_between(git, head, start) for start in set(starts.values()) if start is not None]
    if None in starts.values():
        windows.append(git.log(head, [], limit=1))
    return max(windows, key=len)


def _after(events: list[dict], order: list[str], start, git, head) -> list[dict]:
    """The events a hook's window holds: after its start (None: the head commit's only)."""
    if start is None:
        return [e for e in events if e["commit"] == head]
    start = git.rev_parse(start)
    first = order.index(start) + 1 if start in order else 0
    kept = set(order[first:])
    return [e for e in events if e["commit"] in kept]


def _deliver_all(hook, events, record, result, delays, mark: bool, head: str, order: list[str]) -> None:
    wanted = [e for e in events if "*" in hook["events"] or e["type"] in hook["events"]]
    last_done = head
    for event in wanted:
        msg = rec.message_id(event["id"], hook["key"])
        item = {"webhook": hook["label"], "id": msg, "event": event["id"], "type": event["type"],
                "commit": event["commit"], "what": describe(event)}
        if msg in record.delivered[hook["key"]]:
            result["skipped"] += 1
            continue
        status, attempts, error = _post(hook, msg, _body(hook, event), delays)
        result["deliveries"].append({**item, "status": status, "attempts": attempts, "error": error})
        if status != "sent":
            index = order.index(event["commit"])
            last_done = order[index - 1] if index > 0 else None
            break
        record.note(hook["key"], hook["secret"], event["commit"], msg)
    if mark and last_done is not None and record.through.get(hook["key"]) != last_done:
        record.mark_through(hook["key"], hook["secret"], last_done)


def _body(hook: dict, event: dict) -> bytes:
    if hook.get("format") == "slack":
        pr = f" (PR #{event['pr']})" if event.get("pr") else ""
        payload = {"text": f"modelreg: {describe(event)}{pr}, commit {event['commit'][:10]}"}
    else:
        payload = {"type": event["type"], "timestamp": event["time"], "data": event}
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def _post(hook: dict, msg: str, body: bytes, delays) -> tuple[str, int, str | None]:
    """("sent" | "failed", attempts, why): retries 5xx, 429 and connection errors only."""
    error = None
    for attempt in range(1, len(delays) + 2):
        now = datetime.now(timezone.utc)
        headers = {"content-type": "application/json", "user-agent": USER_AGENT, "webhook-id": msg,
                   "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": hook["signer"].sign(msg, now, body)}
        status, retry_after, error = _once(hook["url"], body, headers, hook["label"])
        if status is not None and 200 <= status < 300:
            return "sent", attempt, None
        if (status is not None and status != 429 and status < 500) or attempt > len(delays):
            break
        wait = min(retry_after, MAX_RETRY_AFTER) if retry_after is not None else delays[attempt - 1]
        log.warning("webhook %s: %s; retrying in %.1fs", hook["label"], error, wait)
        time.sleep(wait)
    return "failed", attempt, error


def _once(url: str, body: bytes, headers: dict, label: str) -> tuple[int | None, float | None, str]:
    """(HTTP status or None for no answer, Retry-After seconds, what happened)."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as response:
            response.read()
            return response.status, None, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        retry = exc.headers.get("Retry-After") if exc.headers else None
        return exc.code, _seconds(retry), f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, ConnectionError, HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, None, f"cannot reach {label}: {reason}"


def _seconds(value) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None

