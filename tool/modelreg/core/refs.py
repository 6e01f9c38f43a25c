"""Parsing of model references: NAME, NAME@ALIAS, NAME@3, NAME@v3, NAME@latest."""
from functools import lru_cache

from .errors import InvalidInput
from .names import check_alias, check_name
from .values import value

DEFAULT_ALIAS = "production"


@value
class ModelRef:
    model: str
    version: int | None = None  # a pinned number
    alias: str | None = None  # an alias name, or "latest"

    def __str__(self) -> str:
        return f"{self.model}@{self.version if self.version is not None else self.alias}"


@lru_cache(maxsize=4096)
def parse_ref(text: str) -> ModelRef:
    """`llama@production`, `llama@3`, `llama@v3`, `llama@latest`, or `llama` (= @production)."""
    if not isinstance(text, str) or not text:
        raise InvalidInput("empty model reference: use NAME, NAME@ALIAS, NAME@N or NAME@latest")
    name, sep, selector = text.partition("@")
    check_name(name)
    if not sep:
        return ModelRef(name, alias=DEFAULT_ALIAS)
    if selector == "latest":
        return ModelRef(name, alias="latest")
    digits = selector[1:] if selector[:1] == "v" else selector
    if digits.isdigit() and digits.isascii():
        number = int(digits)
        if number < 1:
            raise InvalidInput(f"invalid version in {text!r}: versions start at 1")
        return ModelRef(name, version=number)
    if not selector:
        raise InvalidInput(f"invalid reference {text!r}: nothing after '@'")
    return ModelRef(name, alias=check_alias(selector))


def parse_version(text) -> int:
    """A version number given alone: 3 or v3."""
    raw = str(text)
    digits = raw[1:] if raw[:1] == "v" else raw
    if not (digits.isdigit() and digits.isascii()) or int(digits) < 1:
        raise InvalidInput(f"invalid version {raw!r}: use a number such as 3 or v3")
    return int(digits)
