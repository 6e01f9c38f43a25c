"""Lineage: a version, then its parent, the parent's parent, and so on. The one walk.

`walk(lookup, start, follow)` goes down the `parent` fields from `start`, asking
`lookup(model, number)` for each parent's record (None when there is none). It never
raises: it returns the chain it could walk and, when the walk stopped short, why (a
`Break`: the parent does not exist, or the chain loops). Who needs a whole chain
(`lineage`, `load`) turns a break into an error with `strict`; who reports or draws
(check's rules, the adapter checks, the site) reads the break.

`follow(link)` says whether to go below a link: every parent for a lineage, only an
adapter's for the loader (a fine-tuned model's parent is history, not something to load).
"""

from .errors import NotFound, PolicyViolation
from .values import field, value


@value
class Link:
    """One version in a chain, with its record."""
    model: str
    version: int
    record: dict = field(compare=False, repr=False)

    @property
    def name(self) -> str:
        return f"{self.model}@{self.version}"

    @property
    def model_type(self) -> str:
        return self.record.get("model_type", "base_model")


@value
class Break:
    """Why a walk stopped short: `child`'s parent field names `parent`, which is
    `missing` (no such version) or closes a `cycle`."""
    kind: str
    child: Link
    parent: tuple

    @property
    def parent_name(self) -> str:
        return f"{self.parent[0]}@{self.parent[1]}"


def every_parent(_link: Link) -> bool:
    return True


def adapters_only(link: Link) -> bool:
    """The loader's walk: an adapter needs its base; full weights stand alone."""
    return link.model_type == "adapter"


def parent_of(record: dict) -> tuple | None:
    """(model, version) a record's parent field names, or None when it names none."""
    parent = record.get("parent") if isinstance(record, dict) else None
    if not isinstance(parent, dict):
        return None
    model, version = parent.get("model"), parent.get("version")
    if isinstance(version, str) and version.isdigit():
        version = int(version)
    return model, version


def walk(lookup, start: Link, follow=every_parent) -> tuple[list[Link], Break | None]:
    """The chain from `start` down, and the break that ended it early (None: it reached a root)."""
    chain, seen = [start], {(start.model, start.version)}
    while follow(chain[-1]):
        key = parent_of(chain[-1].record)
        if key is None:
            return chain, None
        if key in seen:
            return chain, Break("cycle", chain[-1], key)
        seen.add(key)
        record = lookup(*key) if _plausible(key) else None
        if record is None:
            return chain, Break("missing", chain[-1], key)
        chain.append(Link(key[0], key[1], record))
    return chain, None


def strict(lookup, start: Link, follow=every_parent) -> list[Link]:
    """The whole chain, or NotFound (a parent that does not exist) / PolicyViolation (a cycle)."""
    chain, broken = walk(lookup, start, follow)
    if broken is None:
        return chain
    if broken.kind == "cycle":
        path = " -> ".join([link.name for link in chain] + [broken.parent_name])
        raise PolicyViolation(f"lineage cycle: {path}; fix the parent fields")
    raise NotFound(f"{broken.child.name} names parent {broken.parent_name}, which is not in the registry")


def _plausible(key: tuple) -> bool:
    model, number = key
    return isinstance(model, str) and isinstance(number, int) and not isinstance(number, bool) and number >= 1
