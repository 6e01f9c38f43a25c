"""Schema verdicts, remembered per blob: "the record with blob id B fits the KIND schema".

A whole `check` validates every record against its schema: ~7 s of 100,000 versions (issue 23).
A blob id names the bytes, and the verdict depends on nothing else but the schemas and the
code that reads and validates them, so the verdict is kept under a key that names all of
those (`fingerprint`): it can be missing, never wrong. Only passes are kept; a record with
problems is validated again, so its messages are always fresh. A working-tree check (no blob
ids) keeps nothing.

The file is a marshal'd set of "kind:blob" strings in the repository's Git directory, written
whole and renamed into place. Like the hooks beside it, it is trusted as this clone's own: a
fresh clone (CI) has none and validates everything.
"""
import hashlib
import marshal
import os
import threading
from functools import lru_cache
from pathlib import Path

from ..core import schema

VERSION = 1
_CODE = ("core/schema.py", "core/fastschema.py", "core/records.py", "core/fastyaml.py")


@lru_cache(maxsize=None)
def fingerprint() -> str:
    """What a verdict depends on besides the bytes: the packaged schemas and the reading code."""
    digest = hashlib.sha256(f"v{VERSION}".encode())
    for kind in schema.KINDS:
        digest.update((schema.schema_dir() / f"{kind}.schema.json").read_bytes())
    package = Path(__file__).resolve().parents[1]
    for name in _CODE:
        digest.update((package / name).read_bytes())
    return digest.hexdigest()[:32]


class Verdicts:
    """The passes known for this clone; `passed(kind, sha)`, `add(kind, sha)`, then `save()`."""

    def __init__(self, git_dir: Path | None):
        self.path = Path(git_dir) / "modelreg" / f"verdicts-{fingerprint()}.marshal" if git_dir else None
        self.known: set[str] = self._load()
        self.added: set[str] = set()

    def _load(self) -> set[str]:
        if self.path is None:
            return set()
        try:
            found = marshal.loads(self.path.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            return set()
        return found if isinstance(found, (set, frozenset)) else set()

    def passed(self, kind: str, sha: str | None) -> bool:
        return sha is not None and f"{kind}:{sha}" in self.known

    def add(self, kind: str, sha: str | None) -> None:
        if sha is not None and self.path is not None:
            self.added.add(f"{kind}:{sha}")

    def save(self, keep: set[str] | None = None) -> None:
        """Write the passes (`keep`: only these of the old ones, so the file follows the registry)."""
        if self.path is None or not self.added:
            return
        kept = self.known if keep is None else {k for k in self.known if k.split(":", 1)[1] in keep}
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(marshal.dumps(kept | self.added))
            os.replace(tmp, self.path)
            for old in self.path.parent.glob("verdicts-*.marshal"):
                if old != self.path:  # made by other schemas or code: never true again here
                    old.unlink(missing_ok=True)
        except OSError:
            tmp.unlink(missing_ok=True)
