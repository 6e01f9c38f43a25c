"""Name rules. Names become paths, so they are checked before any path is built."""
import re

from .errors import InvalidInput

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
# Version-like suffixes belong in version numbers, not in names (llama_v2, bert-new).
_VERSION_SUFFIX = re.compile(r".*[-_](v\d+|new|old|legacy|copy|final|latest|backup|tmp)")
_RESERVED_ALIASES = {"latest"}
_TAG_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}")

MAX_NAME = 64


def is_name(name) -> bool:
    """A valid model (or alias) name, without raising: readers of history skip what check flags."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def check_name(name: str, what: str = "model name") -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"invalid {what} {name!r}: use 1-{MAX_NAME} lowercase letters, digits, '-' or '_',"
            " starting with a letter"
        )
    if _VERSION_SUFFIX.fullmatch(name):
        raise InvalidInput(
            f"invalid {what} {name!r}: no version-like suffix (_v2, -new, _old, ...);"
            " register a new version of the model instead"
        )
    return name


def check_alias(alias: str) -> str:
    if isinstance(alias, str) and (alias in _RESERVED_ALIASES or re.fullmatch(r"v?\d+", alias)):
        raise InvalidInput(f"invalid alias {alias!r}: 'latest' and version numbers are reserved")
    return check_name(alias, "alias")


def check_tag_key(key: str) -> str:
    if not _TAG_KEY.fullmatch(key or ""):
        raise InvalidInput(
            f"invalid tag key {key!r}: use letters, digits and '_.:/-', at most 128 characters"
        )
    return key
