"""What was delivered: a record in Git that survives CI's fresh clones, and that a forger
can at worst make us re-send.

The record is a git note per commit of main under refs/notes/modelreg-deliveries (pushed to
origin, as the clock's notes are), one line per fact:

    Modelreg-Delivered: <hook> <message id> <mac>    this event reached this webhook
    Modelreg-Delivered-Through: <hook> <mac>          every event up to this commit did

`mac` is an HMAC-SHA256 of (hook, commit, message id) under the webhook's own secret, which
only the sender holds. A line whose mac does not verify (written by hand, copied from another
commit, kept from a rotated secret) is ignored, so a forged or stale record can only make the
sender re-send what it already sent; what is sent is always computed from main's history,
never read from the record, so no record can make it send something else.
"""
import hashlib
import hmac
from collections import defaultdict
from dataclasses import dataclass, field

DELIVERIES_REF = "refs/notes/modelreg-deliveries"
DELIVERED = "Modelreg-Delivered"
THROUGH = "Modelreg-Delivered-Through"


def hook_key(hook: dict) -> str:
    """A webhook's name in the record and in message ids: its URL (or the variable naming it)."""
    target = hook.get("url") or f"env:{hook.get('url_env')}"
    return hashlib.sha256(target.encode()).hexdigest()[:12]


def message_id(event_id: str, key: str) -> str:
    """The `webhook-id`: the same for an event and a webhook on every run, so receivers de-duplicate."""
    return "msg_" + hashlib.sha256(f"{event_id}\0{key}".encode()).hexdigest()[:24]


def mac(secret: bytes, key: str, commit: str, what: str) -> str:
    data = f"modelreg-delivery-record\n{key}\n{commit}\n{what}".encode()
    return hmac.new(secret, data, hashlib.sha256).hexdigest()[:32]


@dataclass
class Record:
    """The verified facts of the record along main's first-parent line, for the hooks we hold secrets of."""
    delivered: dict = field(default_factory=lambda: defaultdict(set))  # hook key -> message ids
    through: dict = field(default_factory=dict)  # hook key -> newest commit wholly delivered
    notes: dict = field(default_factory=dict)  # commit -> the note's text as read
    added: dict = field(default_factory=lambda: defaultdict(list))  # commit -> new lines

    def note(self, key: str, secret: bytes, commit: str, msg: str) -> None:
        self.delivered[key].add(msg)
        self.added[commit].append(f"{DELIVERED}: {key} {msg} {mac(secret, key, commit, msg)}")

    def mark_through(self, key: str, secret: bytes, commit: str) -> None:
        self.through[key] = commit
        self.added[commit].append(f"{THROUGH}: {key} {mac(secret, key, commit, 'through')}")


def read(line, secrets: dict[str, bytes]) -> Record:
    """The record as `line` (first_parent_line with the deliveries notes, newest first) holds it;
    `secrets`: hook key -> its secret (lines of other hooks are kept, unread)."""
    record = Record()
    for sha, _committed, _parents, note in line:
        if not note:
            continue
        record.notes[sha] = note
        for text in note.splitlines():
            name, _, rest = text.partition(": ")
            parts = rest.split()
            key = parts[0] if parts else None
            if key not in secrets:
                continue
            if name == DELIVERED and len(parts) == 3 and _ok(parts[2], mac(secrets[key], key, sha, parts[1])):
                record.delivered[key].add(parts[1])
            elif name == THROUGH and len(parts) == 2 and key not in record.through \
                    and _ok(parts[1], mac(secrets[key], key, sha, "through")):
                record.through[key] = sha  # the newest one counts: the line is read newest first
    return record


def _ok(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def write(ops, record: Record) -> list[str]:
    """Add the new lines to each commit's note, in one notes commit (the note's other printable
    ASCII lines kept: other webhooks' facts); returns the commits noted."""
    notes = {}
    for commit, lines in record.added.items():
        old = [line for line in record.notes.get(commit, "").splitlines() if line.isascii() and line.isprintable()]
        notes[commit] = "\n".join(old + lines) + "\n"
    ops.set_notes(DELIVERIES_REF, notes)
    return list(notes)
