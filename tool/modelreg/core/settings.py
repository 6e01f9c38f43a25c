"""registry.yaml: registry-wide settings, with the defaults `init` writes."""
import posixpath
import re

from .errors import InvalidInput, InvalidRecord, PolicyViolation
from .values import field, value

DEFAULT_SETTINGS = {
    "version": 1,
    "main_branch": "main",
    "stages": ["none", "development", "staging", "production", "archived"],
    "initial_stage": "none",
    "transitions": {
        "none": ["development", "staging", "archived"],
        "development": ["staging", "archived"],
        "staging": ["production", "development", "archived"],
        "production": ["archived"],
        # archived -> production is how a rollback returns an earlier version
        "archived": ["staging", "production"],
    },
    "exclusive_stages": ["production"],
    "stage_aliases": {"production": "production"},
    "protected_aliases": ["production"],
    "remote": {"name": "storage"},
    "forge": {"type": "none"},
}


_STR_LIST = ("stages", "exclusive_stages", "protected_aliases")
_MAPPINGS = ("transitions", "stage_aliases", "remote", "forge", "gates", "approvals",
             "signatures", "formats", "retention", "feed")  # tag_format may also be a preset name: checked below


def shape_problems(raw) -> list[tuple[str, str]]:
    """The types the code relies on (cheap, no jsonschema): a mistyped file is a problem, not a crash."""
    if not isinstance(raw, dict):
        return [("/", "registry.yaml must be a mapping of settings")]
    found = []
    for key in _STR_LIST:
        value = raw.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            found.append((f"/{key}", "must be a list of names"))
    for key in _MAPPINGS:
        if raw.get(key) is not None and not isinstance(raw.get(key), dict):
            found.append((f"/{key}", "must be a mapping"))
    if raw.get("tag_format") is not None and not isinstance(raw.get("tag_format"), (dict, str)):
        found.append(("/tag_format", "must be a preset name (gto) or a mapping of formats"))
    for src, targets in (raw.get("transitions") or {}).items() if isinstance(raw.get("transitions"), dict) else ():
        if not (isinstance(targets, list) and all(isinstance(t, str) for t in targets)):
            found.append((f"/transitions/{src}", "must be a list of stages"))
    for key in ("main_branch", "initial_stage"):
        if raw.get(key) is not None and not isinstance(raw.get(key), str):
            found.append((f"/{key}", "must be text"))
    if isinstance(raw.get("stages"), list) and not raw["stages"]:
        found.append(("/stages", "must name at least one stage"))
    if raw.get("webhooks") is not None and not (isinstance(raw["webhooks"], list)
                                                and all(isinstance(h, dict) for h in raw["webhooks"])):
        found.append(("/webhooks", "must be a list of mappings (url, events, secret_env)"))
    return found + _rule_shapes(raw) + _retention_shapes(raw.get("retention")) + feed_problems(raw.get("feed"))


def _text_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _rule_shapes(raw: dict) -> list[tuple[str, str]]:
    """gates and approvals, which the PR rules read field by field."""
    found = []
    for key, fields in (("gates", ("metrics", "card_fields")), ("approvals", ("groups",))):
        rules = raw.get(key)
        for stage, rule in rules.items() if isinstance(rules, dict) else ():
            if not isinstance(rule, dict):
                found.append((f"/{key}/{stage}", "must be a mapping"))
                continue
            for name in fields:
                value = rule.get(name)
                ok = value is None or (all(_text_list(g) for g in value) if name == "groups" and
                                       isinstance(value, list) else _text_list(value))
                if not ok:
                    found.append((f"/{key}/{stage}/{name}", "must be a list of text" if name != "groups"
                                  else "must be a list of groups (lists of @user or @org/team)"))
    for key in ("stage_aliases", "remote", "forge", "tag_format"):
        value = raw.get(key)
        for name, item in value.items() if isinstance(value, dict) else ():
            if not isinstance(item, str):
                found.append((f"/{key}/{name}", "must be text"))
    return found


_DURATION = re.compile(r"([0-9]{1,6})([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
RETENTION_KEYS = ("keep_last", "purge_deleted_after", "purge_archived_after")


def parse_duration(text) -> int | None:
    """A duration (30d, 12h, 0d) in seconds; None for anything else."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    return int(match.group(1)) * _UNIT[match.group(2)] if match else None


def _retention_shapes(value) -> list[tuple[str, str]]:
    """retention: keep_last a count, the purge windows durations; a typo must not keep or purge
    anything by surprise, so an unknown key is a problem too."""
    if not isinstance(value, dict):
        return []
    found = [(f"/retention/{key}", f"unknown retention setting (known: {', '.join(RETENTION_KEYS)})")
             for key in value if key not in RETENTION_KEYS]
    keep = value.get("keep_last")
    if keep is not None and (not isinstance(keep, int) or isinstance(keep, bool) or keep < 0):
        found.append(("/retention/keep_last", f"must be a whole number of versions >= 0, not {keep!r}"))
    for key in RETENTION_KEYS[1:]:
        if value.get(key) is not None and parse_duration(value[key]) is None:
            found.append((f"/retention/{key}", f"{value[key]!r} is not a duration: use a number and a "
                          "unit s, m, h, d or w (30d, 12h, 0d)"))
    return found


# The events `modelreg events` computes from main's history, and webhooks may subscribe to.
EVENT_TYPES = ("model.registered", "version.created", "stage.changed", "alias.moved", "version.deleted",
               "policy.changed")
WEBHOOK_FORMATS = ("standard", "slack")


def webhook_problems(hooks) -> list[tuple[str, str]]:
    """webhooks: each names exactly one of url/url_env, a secret_env, known event types and
    format; a url is https (plain http only to loopback). Checked by `check` and again at send."""
    from .urls import webhook_url_problem

    found = []
    for i, hook in enumerate(hooks if isinstance(hooks, list) else []):
        where = f"/webhooks/{i}"
        if not isinstance(hook, dict):
            found.append((where, "must be a mapping (url, events, secret_env)"))
            continue
        if ("url" in hook) == ("url_env" in hook):
            found.append((where, "name exactly one of url or url_env"))
        elif "url" in hook and webhook_url_problem(hook["url"]):
            found.append((f"{where}/url", webhook_url_problem(hook["url"])))
        for key in ("secret_env", "url_env"):
            if key in hook and not (isinstance(hook[key], str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", hook[key])):
                found.append((f"{where}/{key}", "must name an environment variable (letters, digits, _)"))
        if "secret_env" not in hook:
            found.append((f"{where}/secret_env", "name the environment variable holding the signing secret"))
        events = hook.get("events", ["*"])
        if not _text_list(events) or not events:
            found.append((f"{where}/events", "must be a list of event types (or [\"*\"])"))
        else:
            found += [(f"{where}/events", f"unknown event type {e!r} (known: {', '.join(EVENT_TYPES)})")
                      for e in events if e != "*" and e not in EVENT_TYPES]
        if hook.get("format", "standard") not in WEBHOOK_FORMATS:
            found.append((f"{where}/format", f"must be one of {', '.join(WEBHOOK_FORMATS)}"))
    return found


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ED25519 = re.compile(r"ed25519:[A-Za-z0-9+/]{43}=")  # 32 raw bytes, base64


def feed_problems(value) -> list[tuple[str, str]]:
    """feed: key_env names the variable holding the publisher's private key; publishers lists
    the public keys a host accepts a feed from (ed25519:BASE64 of the 32 raw bytes)."""
    if not isinstance(value, dict):
        return []
    found = [(f"/feed/{key}", "unknown feed setting (known: key_env, publishers)")
             for key in value if key not in ("key_env", "publishers")]
    if "key_env" in value and not (isinstance(value["key_env"], str) and _ENV_NAME.fullmatch(value["key_env"])):
        found.append(("/feed/key_env", "must name an environment variable (letters, digits, _)"))
    keys = value.get("publishers")
    if not (isinstance(keys, list) and keys and all(isinstance(k, str) and _ED25519.fullmatch(k) for k in keys)):
        found.append(("/feed/publishers", "must list at least one public key written ed25519:BASE64 "
                      "(the 32 raw bytes)"))
    return found


@value
class FeedPolicy:
    """registry.yaml's feed: who may publish the alias feed serving hosts follow."""
    key_env: str = "MODELREG_FEED_KEY"
    publishers: tuple[str, ...] = ()


@value
class Retention:
    """registry.yaml's retention: which weights `modelreg gc` may purge. The defaults keep everything."""
    keep_last: int = 0  # per model, the newest N versions not deleted keep their weights
    purge_deleted_after: int | None = None  # seconds; None: never
    purge_archived_after: int | None = None

    def window(self, state: str) -> int | None:
        """The purge window for a version `deleted` or `archived` on main."""
        return {"deleted": self.purge_deleted_after, "archived": self.purge_archived_after}.get(state)


@value(frozen=False)
class Settings:
    raw: dict = field(default_factory=lambda: dict(DEFAULT_SETTINGS))

    @classmethod
    def load(cls, raw, path: str = "registry.yaml") -> "Settings":
        """Settings from a parsed registry.yaml; InvalidRecord (exit 1) when a value has the wrong type."""
        if raw is None:
            return cls({})
        found = shape_problems(raw)
        if found:
            pointer, message = found[0]
            raise InvalidRecord(f"{path}:{pointer}: {message}; fix it by hand", hint="check")
        return cls(raw)

    def get(self, key):
        return self.raw.get(key, DEFAULT_SETTINGS.get(key))

    @property
    def main_branch(self) -> str:
        return self.get("main_branch")

    @property
    def stages(self) -> list[str]:
        return self.get("stages")

    @property
    def initial_stage(self) -> str:
        return self.get("initial_stage") or self.stages[0]

    @property
    def exclusive_stages(self) -> list[str]:
        return self.get("exclusive_stages") or []

    @property
    def stage_aliases(self) -> dict:
        return self.get("stage_aliases") or {}

    @property
    def protected_aliases(self) -> set[str]:
        return set(self.get("protected_aliases") or []) | set(self.stage_aliases.values())

    @property
    def remote_name(self) -> str:
        return (self.get("remote") or {}).get("name", "storage")

    @property
    def retention(self) -> Retention:
        """What `modelreg gc` may purge (InvalidRecord for a malformed retention section: never
        fall back to a guess about what may be deleted)."""
        raw = self.get("retention") or {}
        found = shape_problems({"retention": raw})
        if found:
            raise InvalidRecord(f"registry.yaml:{found[0][0]}: {found[0][1]}; fix it by hand", hint="check")
        return Retention(raw.get("keep_last") or 0, parse_duration(raw.get("purge_deleted_after")),
                         parse_duration(raw.get("purge_archived_after")))

    @property
    def webhooks(self) -> list[dict]:
        """Where `events --send` delivers (InvalidRecord for a malformed entry: never send to a
        URL the policy does not allow)."""
        hooks = self.get("webhooks") or []
        found = shape_problems({"webhooks": hooks}) + webhook_problems(hooks)
        if found:
            raise InvalidRecord(f"registry.yaml:{found[0][0]}: {found[0][1]}; fix it by hand", hint="check")
        return [{"events": ["*"], "format": "standard", **hook} for hook in hooks]

    @property
    def feed(self) -> FeedPolicy | None:
        """Who may sign the alias feed (None: registry.yaml names no publisher; InvalidRecord for a
        malformed section: never accept a feed from a key the policy does not clearly name)."""
        raw = self.get("feed")
        if raw is None:
            return None
        found = shape_problems({"feed": raw})
        if found:
            raise InvalidRecord(f"registry.yaml:{found[0][0]}: {found[0][1]}; fix it by hand", hint="check")
        return FeedPolicy(raw.get("key_env", FeedPolicy.key_env), tuple(raw["publishers"]))

    @property
    def named_files(self) -> list[str]:
        """Files in the registry this policy reads as policy: the signers' keys and certificate
        chains (inline PEMs name no file). Replacing one changes the policy, so it is judged
        and owned as registry.yaml is."""
        found = []
        for rule in (self.get("signatures") or {}).values():
            for signer in (rule or {}).get("signers") or [] if isinstance(rule, dict) else ():
                for key in ("key", "certificate_chain"):
                    ref = signer.get(key) if isinstance(signer, dict) else None
                    if isinstance(ref, str) and ref.strip() and not ref.lstrip().startswith("-----BEGIN"):
                        found.append(posixpath.normpath(ref.strip()).lstrip("/"))
        return sorted(set(found))

    def check_stage(self, stage: str) -> str:
        if stage not in self.stages:
            raise InvalidInput(f"unknown stage {stage!r}: registry.yaml defines {', '.join(self.stages)}")
        return stage

    def allowed(self, src: str, dst: str) -> bool:
        return src == dst or dst in (self.get("transitions") or {}).get(src, [])

    def check_transition(self, what: str, src: str, dst: str) -> None:
        if not self.allowed(src, dst):
            targets = (self.get("transitions") or {}).get(src, [])
            allowed = ", ".join(targets) if targets else "nothing"
            raise PolicyViolation(
                f"{what}: registry.yaml does not allow {src} -> {dst} (from {src} only to {allowed})")

    def problems(self) -> list[tuple[str, str]]:
        """Consistency rules the schema cannot express, as (JSON pointer, message)."""
        found = []
        stages = set(self.stages)
        for src, targets in (self.get("transitions") or {}).items():
            if src not in stages:
                found.append((f"/transitions/{src}", f"unknown stage {src!r}"))
            found += [(f"/transitions/{src}", f"unknown stage {t!r}") for t in targets if t not in stages]
        for key in ("exclusive_stages",):
            found += [(f"/{key}", f"unknown stage {s!r}") for s in self.get(key) or [] if s not in stages]
        # a misspelt stage would make a signature requirement silently apply to nothing (issue 12)
        found += [(f"/signatures/{s}", f"unknown stage {s!r}") for s in self.get("signatures") or {}
                  if s not in stages]
        found += _signer_problems(self.get("signatures") or {})
        for stage in self.stage_aliases:
            if stage not in self.exclusive_stages:
                found.append((f"/stage_aliases/{stage}", "only an exclusive stage can own an alias"))
        if self.initial_stage not in stages:
            found.append(("/initial_stage", f"unknown stage {self.initial_stage!r}"))
        return found + webhook_problems(self.get("webhooks"))


def _signer_problems(policy: dict) -> list[tuple[str, str]]:
    """Each signer names exactly one of key, certificate_chain, sigstore (kept out of the schema:
    a oneOf there would send every registry.yaml with signers to the slow validator)."""
    found = []
    for stage, rule in policy.items():
        for i, signer in enumerate((rule or {}).get("signers") or [] if isinstance(rule, dict) else []):
            kinds = [k for k in ("key", "certificate_chain", "sigstore") if isinstance(signer, dict) and k in signer]
            if len(kinds) != 1:
                found.append((f"/signatures/{stage}/signers/{i}",
                              "name exactly one of key, certificate_chain or sigstore"))
        # no signer would leave a bundle unverifiable, or the stage closed for good (19.6)
        if isinstance(rule, dict) and rule.get("required") is True and not rule.get("signers"):
            found.append((f"/signatures/{stage}", "a required signature needs at least one signer in "
                          "signers (a key, a certificate chain or a sigstore identity)"))
    return found
