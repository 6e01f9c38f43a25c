"""The alias feed: every model's alias -> version at one commit of main, signed, on the weights remote.

The tag workflow publishes it after each merge (`publish`); serving hosts follow it with one
conditional GET per poll (`Follower`: If-None-Match on S3, a stat on a folder), so a fleet
that polls every 30 s costs the forge nothing while no alias moves. A host trusts a feed only
when `verify` finds a signature by a key registry.yaml's `feed.publishers` names, and the
caller (loading/serving.py) has checked the commit against its own Git view of main.

The object is an envelope: `{"payload": "<JSON text>", "signatures": [{"keyid", "sig"}]}`.
The payload is signed as the exact text it is, so no canonical JSON is needed.
"""
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone

from ..core.errors import IntegrityError, InvalidInput, NotFound, PolicyViolation
from . import signing

FEED_KEY = "modelreg/feed.json"
FEED_TYPE = "modelreg.feed"
FEED_VERSION = 1


@dataclass(frozen=True)
class Feed:
    """A verified feed."""
    commit: str
    main_branch: str
    published: str
    models: dict  # model -> {"aliases": {alias: version}, "versions": {"N": {"sha256": {path: hex}}}}
    keyid: str

    def alias(self, model: str, alias: str) -> int | None:
        return ((self.models.get(model) or {}).get("aliases") or {}).get(alias)

    def aliases(self) -> dict[str, dict[str, int]]:
        return {name: dict(entry.get("aliases") or {}) for name, entry in self.models.items()}

    def to_dict(self) -> dict:
        return {"commit": self.commit, "main_branch": self.main_branch, "published": self.published,
                "keyid": self.keyid, "models": self.models}


def now_text() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(snap, published: str | None = None) -> dict:
    """The payload for the snapshot of main: each model's aliases and the sha256s of the versions
    they name (a model without aliases is listed with none, so a host sees it exists)."""
    models = {}
    for name in snap.models():
        aliases = dict(sorted(snap.aliases(name).items()))
        versions = {}
        for number in sorted(set(aliases.values())):
            record = snap.version(name, number) or {}
            versions[str(number)] = {"sha256": {a["path"]: a["sha256"] for a in record.get("artifacts") or []}}
        models[name] = {"aliases": aliases, "versions": versions}
    return {"type": FEED_TYPE, "version": FEED_VERSION, "main_branch": snap.settings.main_branch,
            "commit": snap.commit, "published": published or now_text(), "models": models}


def signed(payload: dict, key, public: str) -> bytes:
    """The envelope's bytes: the payload as JSON text and one signature over exactly that text."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    envelope = {"payload": text, "signatures": [{"keyid": public, "sig": signing.sign(key, text.encode())}]}
    return (json.dumps(envelope, indent=1) + "\n").encode()


def publisher_key(policy, environ=None):
    """(private key, its public text) from the variable registry.yaml's feed.key_env names; the
    key must be one the policy lists, or every host would refuse what it signs."""
    if policy is None:
        raise PolicyViolation("registry.yaml names no feed publishers (feed: {publishers: [ed25519:...]}); "
                              "add the public key before publishing", hint="feed_keygen")
    text = (environ if environ is not None else os.environ).get(policy.key_env)
    if not text:
        raise InvalidInput(f"the feed's private key is not set: put it in the environment variable "
                           f"{policy.key_env} (registry.yaml feed.key_env)", hint="feed_keygen")
    key = signing.private_key(text, f"${policy.key_env}")
    public = signing.public_text(key)
    if public not in policy.publishers:
        raise PolicyViolation(f"the key in ${policy.key_env} ({public}) is not one registry.yaml's "
                              "feed.publishers names; hosts would refuse its feed")
    return key, public


def publish(snap, store, environ=None, published: str | None = None) -> dict:
    """Sign the feed of `snap` (main) and write it to `store` (the weights remote)."""
    key, public = publisher_key(snap.settings.feed, environ)
    payload = build(snap, published)
    etag = store.put(FEED_KEY, signed(payload, key, public))
    return {"commit": snap.commit, "where": f"{store.where}/{FEED_KEY}", "keyid": public, "etag": etag,
            "published": payload["published"], "models": len(payload["models"]),
            "aliases": sum(len(m["aliases"]) for m in payload["models"].values())}


def verify(data: bytes, policy) -> Feed:
    """The feed in `data` if a key `policy` (registry.yaml's feed) names signed it; IntegrityError if not."""
    if policy is None:
        raise PolicyViolation("registry.yaml names no feed publishers, so no feed can be trusted")
    try:
        envelope = json.loads(data)
        text, signatures = envelope["payload"], envelope["signatures"]
        good = [s["keyid"] for s in signatures if s.get("keyid") in policy.publishers
                and signing.verifies(s["keyid"], text.encode(), s.get("sig", ""))]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IntegrityError("the feed is not a signed alias feed (unreadable envelope)") from exc
    if not good:
        raise IntegrityError("the feed's signature does not verify with any key registry.yaml's "
                             "feed.publishers names")
    return _parse(text, good[0])


def _parse(text: str, keyid: str) -> Feed:
    try:
        payload = json.loads(text)
        ok = (payload.get("type") == FEED_TYPE and payload.get("version") == FEED_VERSION
              and isinstance(payload.get("commit"), str) and len(payload["commit"]) in (40, 64)
              and isinstance(payload.get("models"), dict))
    except (ValueError, AttributeError):
        ok = False
    if not ok:
        raise IntegrityError("the feed's payload is not an alias feed of a format this version reads")
    return Feed(payload["commit"], payload.get("main_branch", "main"), payload.get("published", ""),
                payload["models"], keyid)


class Follower:
    """One host's view of the feed: conditional GETs, so an unchanged feed costs one small request."""

    def __init__(self, opener):
        self._opener = opener  # () -> store; opened on the first poll
        self.etag: str | None = None
        self.requests = 0
        self.downloads = 0

    def poll(self) -> bytes | None:
        """The feed's bytes when they changed since the last poll, else None; NotFound if absent."""
        self.requests += 1
        data, etag = self._opener().get_if_changed(FEED_KEY, self.etag)
        if data is None:
            return None
        self.etag, self.downloads = etag, self.downloads + 1
        return data


def read(store, policy) -> Feed:
    """The feed on `store`, verified (for `feed show` and `deployments`)."""
    try:
        data, _ = store.get_if_changed(FEED_KEY)
    except NotFound as exc:
        raise NotFound(f"no feed on {store.where} yet: publish one first", hint="feed_publish") from exc
    return verify(data, policy)
