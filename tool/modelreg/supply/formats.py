"""The weight-format policy: which files may enter the registry, and what happens to pickle.

registry.yaml: `formats: {allowed: [safetensors, gguf, json, txt, model], pickle: refuse|scan}`.
An entry of `allowed` matches a file's suffix (`safetensors`) or its whole name (`LICENSE`).
Pickle files (by suffix, or by their first bytes whatever their name) are governed by
`pickle`: `refuse` (the default) keeps them out; `scan` lets one in only when picklescan
finds nothing dangerous in it, and records the verdict in version.yaml. Scanners can be
bypassed, which is why the allow-list is the policy and the scan only a second line; the
loader still never unpickles without `allow_pickle`.
"""
import hashlib
import json
import os
import struct
import zipfile
from pathlib import Path

from ..core.errors import InvalidRecord, PolicyViolation
from ..core.extras import install_command

DEFAULT_ALLOWED = ("safetensors", "gguf", "json", "txt", "model", "jinja", "md")
PICKLE_SUFFIXES = frozenset({"bin", "pt", "pth", "pkl", "pickle", "ckpt", "joblib"})
PICKLE_MODES = ("refuse", "scan")
TEMPLATE_CARRIERS = ("chat_template.jinja", "chat_template.json", "tokenizer_config.json")  # and *.gguf, named


class FormatPolicy:
    def __init__(self, raw: dict | None):
        raw = raw if isinstance(raw, dict) else {}  # a mistyped section is reported by check
        self.allowed = frozenset(str(a).lower().lstrip(".") for a in raw.get("allowed") or DEFAULT_ALLOWED)
        self.pickle = raw.get("pickle") or "refuse"
        if self.pickle not in PICKLE_MODES:
            raise InvalidRecord(f"registry.yaml: formats.pickle is {self.pickle!r}; use refuse or scan")

    @classmethod
    def of(cls, settings) -> "FormatPolicy":
        return cls(settings.get("formats"))

    def allows_name(self, relpath: str) -> bool:
        name = relpath.rsplit("/", 1)[-1].lower()
        return suffix(relpath) in self.allowed or name in self.allowed

    def describe(self) -> str:
        return ", ".join(sorted(self.allowed))


def suffix(relpath: str) -> str:
    return os.path.splitext(relpath.rsplit("/", 1)[-1])[1].lower().lstrip(".")


def looks_like_pickle(path: Path) -> bool:
    """A pickle stream (protocol 2+) or a torch.save zip, whatever the file is called."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    if head[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as zf:
                return any(n.endswith(".pkl") for n in zf.namelist())
        except zipfile.BadZipFile:
            return False
    return False


def is_pickle_name(relpath: str) -> bool:
    return suffix(relpath) in PICKLE_SUFFIXES


# -- when files enter (version create) --------------------------------------------------------
def check_files(settings, files: list[tuple[str, Path]]) -> dict[str, dict]:
    """Apply the policy to a folder's files before anything is written.

    Returns relpath -> scan verdict for each pickle let in by `pickle: scan`; raises
    PolicyViolation naming the first file that may not enter.
    """
    policy = FormatPolicy.of(settings)
    verdicts = {}
    for rel, path in files:
        pickled = is_pickle_name(rel) or looks_like_pickle(path)
        if pickled:
            if policy.pickle != "scan":
                raise PolicyViolation(f"{rel}: pickle files are refused by registry.yaml's formats policy "
                                      "(pickle can run code when loaded); convert it to safetensors")
            verdicts[rel] = scan_pickle(rel, path)
        elif not policy.allows_name(rel):
            raise PolicyViolation(f"{rel}: format {suffix(rel) or 'without suffix'!r} is not in registry.yaml's "
                                  f"formats.allowed ({policy.describe()}); remove the file or allow its format")
    return verdicts


def scan_pickle(rel: str, path: Path) -> dict:
    """picklescan's verdict on one file; a dangerous or unreadable one is refused."""
    from importlib.metadata import version as installed

    try:
        from picklescan.scanner import SafetyLevel, scan_file_path
    except ImportError as exc:
        raise PolicyViolation(f"{rel}: registry.yaml asks for pickle files to be scanned, but picklescan "
                              "is not installed", hint="extra", extra="supply",
                              install=install_command("supply")) from exc
    result = scan_file_path(str(path))
    flagged = sorted({f"{g.module}.{g.name}" for g in result.globals if g.safety == SafetyLevel.Dangerous})
    if result.scan_err:
        raise PolicyViolation(f"{rel}: picklescan could not parse this pickle; refusing it")
    if flagged or result.issues_count:
        raise PolicyViolation(f"{rel}: picklescan flags dangerous imports ({', '.join(flagged) or 'unknown'}); "
                              "refusing it")
    return {"tool": f"picklescan {installed('picklescan')}", "verdict": "clean",
            "globals": sorted({f"{g.module}.{g.name}" for g in result.globals})[:50]}


NAMED_TEMPLATES = "additional_chat_templates/"


def templates_in(files: list[tuple[str, Path]]) -> list[tuple[str, str]]:
    """(source, text) of every chat template transformers would find among these files:
    chat_template.jinja, chat_template.json, tokenizer_config.json's chat_template, and each
    additional_chat_templates/NAME.jinja."""
    found = []
    for rel, path in sorted(files):
        if rel == "chat_template.jinja" or rel.startswith(NAMED_TEMPLATES):
            found.append((rel, _template_text(rel, path.read_bytes())))
        elif rel in ("chat_template.json", "tokenizer_config.json"):
            text = template_in_config(path)
            if text is not None:
                found.append((rel, text))
        elif suffix(rel) == "gguf":
            found += [(rel, text) for text in _gguf_template(rel, path)]
    return found


GGUF_TEMPLATE = "tokenizer.chat_template"
GGUF_HEAD = 256 << 20  # check --remote reads this much of a GGUF for its metadata (vocabularies are MBs)
# GGUF value types: fixed sizes, 8 string, 9 array (gguf.md in ggml's repository)
_GGUF_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def _gguf_template(rel: str, path: Path) -> list[str]:
    """The chat template in a GGUF file's metadata ([] or [text]), read from its header
    without the gguf package: llama.cpp and transformers (gguf_file=) apply it. Named ones
    (tokenizer.chat_template.NAME) are refused like additional_chat_templates/."""
    with open(path, "rb") as fh:
        found = _GgufHeader(rel, fh).templates()
    named = sorted(k for k in found if k != GGUF_TEMPLATE)
    if named:
        raise PolicyViolation(f"{rel}: named chat templates in its GGUF metadata ({', '.join(named)}) are not "
                              "recorded or reviewed; remove them from the file")
    return [_template_text(rel, found[GGUF_TEMPLATE])] if GGUF_TEMPLATE in found else []


class _GgufHeader:
    """A GGUF header's key/value metadata, walked once; only template strings are kept."""

    def __init__(self, rel: str, fh):
        self.rel, self.fh = rel, fh

    def templates(self) -> dict[str, bytes]:
        if self.fh.read(4) != b"GGUF":
            return {}  # not a GGUF file at all: no loader reads a template from it
        (version,) = self.unpack("<I")
        if version not in (2, 3):  # e.g. a big-endian file: some llama.cpp builds would read it
            raise PolicyViolation(f"{self.rel}: GGUF version {version} is not one whose chat template can be "
                                  "read here (2 or 3, little-endian); convert the file")
        _tensors, count = self.unpack("<QQ")
        found = {}
        for _ in range(count):
            key, (kind,) = self.string().decode("utf-8", "replace"), self.unpack("<I")
            if key.startswith(GGUF_TEMPLATE) and kind == 8:
                found[key] = self.string()
            else:
                self.skip(kind)
        return found

    def take(self, n: int) -> bytes:
        data = self.fh.read(n) if n < 1 << 30 else b""  # no GGUF string or header part is a GiB
        if len(data) != n:
            raise PolicyViolation(f"{self.rel}: its GGUF metadata is cut short or malformed; cannot read its "
                                  "chat template")
        return data

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def string(self) -> bytes:
        return self.take(self.unpack("<Q")[0])

    def seek(self, n: int) -> None:
        if self.fh.tell() + n > os.fstat(self.fh.fileno()).st_size:
            self.take(1 << 30)  # past the end: cut short
        self.fh.seek(n, 1)

    def skip(self, kind: int, depth: int = 0) -> None:
        if kind in _GGUF_SIZES:
            self.take(_GGUF_SIZES[kind])
        elif kind == 8:
            self.string()
        elif kind == 9:
            inner, count = self.unpack("<IQ")
            if inner in _GGUF_SIZES:
                self.seek(_GGUF_SIZES[inner] * count)
            elif depth < 8:  # arrays of arrays nest a level or two; a thousand is an attack
                for _ in range(count):
                    self.skip(inner, depth + 1)
            else:
                self.take(1 << 30)
        else:
            raise PolicyViolation(f"{self.rel}: its GGUF metadata has an unknown value type {kind}")


def _template_text(rel: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyViolation(f"{rel}: a chat template must be UTF-8 text") from None
    if "\r" in text:  # read back with universal newlines it would not be these bytes
        raise PolicyViolation(f"{rel}: a chat template must use LF line endings; convert it")
    return text


def chat_template(files: list[tuple[str, Path]]) -> tuple[dict, str] | None:
    """The one chat template a folder carries: ({source, sha256}, text). It is executable text
    that changes the model's behaviour, so its text is kept in Git beside version.yaml where
    reviews see it, and a folder whose templates disagree, or that carries named templates
    (which would be applied unrecorded), is refused (19.4)."""
    found = templates_in(files)
    named = [source for source, _ in found if source.startswith(NAMED_TEMPLATES)]
    if named:
        raise PolicyViolation(f"{named[0]}: named chat templates are not recorded or reviewed; keep one "
                              f"template (chat_template.jinja) and remove {NAMED_TEMPLATES}")
    texts = list(dict.fromkeys(text for _, text in found))
    if len(texts) > 1:
        raise PolicyViolation(f"{found[0][0]} and {found[1][0]} carry different chat templates; keep one "
                              "(which one transformers applies depends on its version)")
    if not found:
        return None
    source, text = found[0]
    return {"source": source, "sha256": template_sha256(text)}, text


def template_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def applied_template_problem(record: dict, applied) -> str | None:
    """Why the template a loaded tokenizer will apply is not the one the record reviewed, or
    None: `applied` is the tokenizer's chat_template (None, text, or {name: text})."""
    if isinstance(applied, dict):  # named templates, as template_in_config records a list of them
        applied = json.dumps([{"name": k, "template": v} for k, v in applied.items()], sort_keys=True)
    recorded = (record.get("chat_template") or {}).get("sha256") if isinstance(record.get("chat_template"), dict) \
        else None
    if applied is None:
        return None  # nothing will be applied
    if recorded is None:
        return "its files carry a chat template that version.yaml does not record"
    if template_sha256(str(applied)) != recorded:
        return "the chat template in its files is not the one version.yaml records"
    return None


def template_in_config(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    value = doc.get("chat_template") if isinstance(doc, dict) else None
    if isinstance(value, list):  # named templates: [{name, template}, ...]
        value = json.dumps(value, sort_keys=True)
    return value if isinstance(value, str) else None


# -- in `check --remote`: the bytes again, never the record's claims ---------------------------
def carries_template(relpath: str) -> bool:
    """A file a chat template is read from (named templates are refused by the record alone)."""
    return relpath in TEMPLATE_CARRIERS or suffix(relpath) == "gguf"


def unrecorded_templates(files: list[tuple[str, Path]], record: dict) -> list[str]:
    """Each of these files that carries a chat template other than the one version.yaml records
    (none recorded: any template at all), named; a template that is not text is named too."""
    info = record.get("chat_template")
    recorded = info.get("sha256") if isinstance(info, dict) else None
    found = []
    for rel, path in files:
        try:
            carried = templates_in([(rel, path)])
        except PolicyViolation as exc:
            found.append(str(exc))
            continue
        found += [f"{source} in the weights carries a chat template that version.yaml does not record"
                  for source, text in carried if template_sha256(text) != recorded]
    return found


class RemoteBytes:
    """The deep remote check of one new version, on the bytes as they stream: an object that is
    a pickle by its name or first bytes is judged again by the policy in force (refused, or
    scanned here and now) whatever verdict version.yaml records (19.5), and a file carrying a
    chat template must carry the recorded one (19.4): the record is the PR author's claim."""

    def __init__(self, settings, record: dict):
        self.policy, self.record = FormatPolicy.of(settings), record

    @classmethod
    def factory(cls, settings):
        return lambda record: cls(settings, record)

    def wants(self, relpath: str, first: bytes) -> bool:
        magic = len(first) >= 2 and first[0] == 0x80 and 2 <= first[1] <= 5
        return is_pickle_name(relpath) or magic or first[:4] == b"PK\x03\x04" or carries_template(relpath)

    def limit(self, relpath: str, first: bytes) -> int | None:
        """How many bytes to keep: a GGUF (not a pickle) only for its metadata, at its head."""
        pickled = len(first) >= 2 and first[0] == 0x80 or first[:4] == b"PK\x03\x04" or is_pickle_name(relpath)
        return GGUF_HEAD if suffix(relpath) == "gguf" and not pickled else None

    def problems(self, relpath: str, path: Path) -> list[str]:
        found = unrecorded_templates([(relpath, path)], self.record) if carries_template(relpath) else []
        if not (is_pickle_name(relpath) or looks_like_pickle(path)):
            return found
        if self.policy.pickle != "scan":
            return found + [f"{relpath}: its bytes are a pickle, which registry.yaml's formats policy refuses"]
        try:
            scan_pickle(relpath, path)
        except PolicyViolation as exc:
            found.append(f"{exc} (re-scanned from the remote's bytes)")
        return found


# -- in `check`: the record alone, no bytes ---------------------------------------------------
def record_problems(settings, record: dict) -> list[tuple[str, str]]:
    """(pointer, message) for each artifact a version.yaml lists that the policy refuses."""
    policy = FormatPolicy.of(settings)
    found = []
    for i, art in enumerate(record.get("artifacts") or []):
        rel = art.get("path") if isinstance(art, dict) else None
        if not isinstance(rel, str):
            continue
        pickled = is_pickle_name(rel) or art.get("format") == "pytorch"
        if pickled and policy.pickle != "scan":
            found.append((f"/artifacts/{i}/path", f"{rel}: pickle files are refused by registry.yaml's "
                          "formats policy; convert it to safetensors"))
        elif pickled and (art.get("scan") or {}).get("verdict") != "clean":
            found.append((f"/artifacts/{i}/scan", f"{rel}: a pickle file needs a clean scan verdict recorded "
                          "when it entered the registry; register it with 'modelreg version create'"))
        elif not pickled and not policy.allows_name(rel):
            found.append((f"/artifacts/{i}/path", f"{rel}: format {suffix(rel) or 'without suffix'!r} is not in "
                          f"registry.yaml's formats.allowed ({policy.describe()})"))
    return found


class Admission:
    """What `admit` found in a folder: scan verdicts per pickle, and the chat template."""

    def __init__(self, verdicts: dict[str, dict], template):
        self.verdicts = verdicts
        self.template, self.template_text = template if template else (None, None)

    def annotate(self, artifacts: list[dict]) -> list[dict]:
        """The artifact entries with each scanned pickle's verdict attached."""
        return [dict(a, scan=self.verdicts[a["path"]]) if a.get("path") in self.verdicts else a
                for a in artifacts]


def admit(settings, files: list[tuple[str, Path]]) -> Admission:
    """The format policy for a folder entering the registry (raises naming the file)."""
    return Admission(check_files(settings, files), chat_template(files))
