"""URLs as they may be recorded, printed or published: without the credentials they carry.

`redact_url` drops a URL's userinfo (`https://user:token@host/x` -> `https://host/x`) and the
query parameters that carry a credential (presigned S3/GCS signatures, SAS `sig`, OAuth
tokens, API keys). `scrub_text` does the same to every URL inside free text (an error message,
a description). Both are pure: they never fail and leave anything that is not a URL alone (an
scp-like `git@host:path` keeps its user, which is not a secret).
"""
import re
from urllib.parse import unquote

# Query parameter names (lowercased) whose value is a credential.
SECRET_PARAMS = frozenset({
    "x-amz-signature", "x-amz-credential", "x-amz-security-token", "x-goog-signature",
    "x-goog-credential", "sig", "signature", "token", "access_token", "id_token", "refresh_token",
    "auth", "authorization", "api_key", "apikey", "api-key", "key", "password", "passwd", "pwd",
    "secret", "client_secret", "private_token", "sas",
})
URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]*[^\s'\"<>`.,;:)\]]")  # not a final '.' etc.


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def redact_url(url):
    """`url` without userinfo and without credential query parameters (non-URLs unchanged)."""
    if not isinstance(url, str) or not _SCHEME.match(url):
        return url
    if "://" not in url:  # runs:/ID/path?token=..., mailto:, ...: no authority, maybe a query
        return _drop_secret_params(url)
    scheme, _, rest = url.partition("://")
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    return f"{scheme}://{authority.rpartition('@')[2]}{_drop_secret_params(tail)}"


def _drop_secret_params(tail: str) -> str:
    path, mark, query = tail.partition("?")
    if not mark:
        return tail
    query, hash_, fragment = query.partition("#")
    kept = [p for p in query.split("&") if not is_secret_param(p.split("=", 1)[0])]
    return path + ("?" + "&".join(kept) if any(kept) else "") + hash_ + fragment


def is_secret_param(name: str) -> bool:
    return unquote(name).strip().lower() in SECRET_PARAMS


def has_credentials(url) -> bool:
    """True when `redact_url` would change `url`."""
    return redact_url(url) != url


def scrub_text(text):
    """`text` with every URL in it redacted (anything else unchanged)."""
    if not isinstance(text, str) or "://" not in text:
        return text
    return URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def scrub(data):
    """Every string in a JSON-like value scrubbed (dicts and lists walked; a new value)."""
    if isinstance(data, str):
        return scrub_text(data)
    if isinstance(data, dict):
        return {k: scrub(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [scrub(v) for v in data]
    return data


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def webhook_url_problem(url) -> str | None:
    """Why `url` may not receive webhooks, or None: https only, plain http only to this machine
    (127.0.0.1, localhost, [::1]); no credentials in the URL (they would be printed and logged)."""
    from urllib.parse import urlsplit

    if not isinstance(url, str) or not url.strip():
        return "a webhook URL must be text"
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an https:// URL"
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        return "must be https (plain http only to 127.0.0.1, localhost or [::1])"
    if parts.username or parts.password:
        return "must not carry credentials (user:password@); put the secret in secret_env"
    return None
