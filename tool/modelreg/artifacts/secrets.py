"""Credentials that must never be committed: AWS keys, Azure storage keys and connection strings,
secrets in DVC config, private keys, passwords and signatures in URLs.

`find_credentials(path, text)` returns (where, message) pairs for `check`; `where` is
"line N". The value itself is never echoed back, only a masked prefix.
"""
import re

_QUERY_KEYS = (r"(?:x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|"
               r"sig|signature|token|access_token|id_token|refresh_token|api_key|apikey|client_secret|"
               r"private_token|password)")
_RULES = [
    (re.compile(r"\b((?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16})\b"), "an AWS access key id"),
    (re.compile(r"(?i)\b(?:aws_)?secret_access_key\b\s*[=:]\s*['\"]?([^\s'\"#]{8,})"), "an AWS secret access key"),
    (re.compile(r"(?i)\b(?:aws_)?session_token\b\s*[=:]\s*['\"]?([^\s'\"#]{16,})"), "an AWS session token"),
    (re.compile(r"(?i)\baccess_key_id\b\s*[=:]\s*['\"]?([^\s'\"#]{8,})"), "an access key id"),
    # Azure Storage: a connection string's key or SAS, DVC's azure options (config.local only)
    (re.compile(r"(?i)\b(?:accountkey|sharedaccesssignature)=([^;\s'\"]{8,})"), "an Azure storage key"),
    (re.compile(r"(?i)\b(?:connection_string|account_key|sas_token)\b\s*[=:]\s*['\"]?([^\s'\"#]{8,})"),
     "an Azure storage credential"),
    (re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----()"), "a private key"),
    (re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,})\b"), "a GitHub token"),
    # scheme://user:password@host: a password (or token) in a URL's userinfo
    (re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'\"]*:([^/\s@'\"]+)@"), "a URL with a password"),
    # ?X-Amz-Signature=... / &sig=... / &access_token=...: a presigned or token-bearing URL
    (re.compile(r"(?i)://[^\s'\"]*[?&]" + _QUERY_KEYS + r"=([^&#\s'\"]+)"), "a URL with a credential in its query"),
]
# A superset of _RULES (their key prefixes, key names, PEM header, token prefixes): keep in step.
_ANY = re.compile(rb"(?i)AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|secret_access_key|session_token|"
                  rb"access_key_id|PRIVATE KEY|gh[pousr]_|accountkey=|sharedaccesssignature=|connection_string|"
                  rb"account_key|sas_token|://[^/\s@]*@|[?&]" + _QUERY_KEYS.encode() + rb"=")
_PLACEHOLDER = re.compile(r"(?i)^(?:\$\{?[A-Z_]+\}?|<[^>]*>|x+|\*+|changeme|example|none|null|\.\.\.)$")


def find_credentials(path: str, text: str) -> list[tuple[str, str]]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for pattern, what in _RULES:
            match = pattern.search(line)
            value = match.group(1) if match else None
            if match is None or (value and _PLACEHOLDER.match(value)):
                continue
            shown = f"{value[:4]}..." if value else ""
            found.append((f"line {number}", f"{path} holds {what} {shown}".rstrip()
                          + "; remove it, rotate the key, and keep credentials in the environment, "
                          "an AWS profile or .dvc/config.local (git-ignored)"))
            break
    return found


# _ANY, split for speed, on the lowercased bytes (what (?i) means for bytes): its words in one
# factored pattern, then its two URL patterns only where their characters occur (issue 23: the
# case-insensitive alternation alone cost ~10 s of a whole check at 100,000 versions)
_WORDS = re.compile(rb"a(?:kia|sia|gpa|ida|roa|npa|nva|ipa|ccess_key_id|ccountkey=|ccount_key)|secret_access_key|"
                    rb"session_token|private key|gh[pousr]_|sharedaccesssignature=|connection_string|sas_token")
_USERINFO = re.compile(rb"://[^/\s@]*@")
_QUERY = re.compile(rb"[?&]" + _QUERY_KEYS.encode() + rb"=")


def may_hold_credentials(data: bytes) -> bool:
    """False when no rule above can match anywhere in `data`: one search instead of a scan per line.
    The same verdict as `_ANY.search(data) is not None` (tests/artifacts/test_secrets.py compares them)."""
    lower = data.lower()
    if _WORDS.search(lower):
        return True
    if b"@" in lower and b"://" in lower and _USERINFO.search(lower):
        return True
    return (b"?" in lower or b"&" in lower) and _QUERY.search(lower) is not None
