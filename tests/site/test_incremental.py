"""The site's rebuild after a change reads only the model folders that changed (issue 23), and
writes the same site, byte for byte, as a fresh full build of the same commit.

Each test builds the catalog registry's site, makes one kind of change, rebuilds into the same
folder, then builds the same commit into an empty folder and compares every file, and what
each build keeps for the next one (site/state.py).
"""
import subprocess
from pathlib import Path

import pytest
import yaml

from modelreg import Registry
from modelreg.rules.check import check_models, run_check
from modelreg.site import build_site
from modelreg.site import state as site_state
from modelreg.site.builder import MANIFEST
from modelreg.store.snapshot import Snapshot
from tests.site.test_builder import make_catalog_registry


def git(cwd, *args) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def files_of(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*"))
            if p.is_file() and p.name not in (MANIFEST, site_state.STATE)}


def kept_state(site: Path) -> dict:
    import json

    return site_state.read(site, json.loads((site / MANIFEST).read_text())["state"])


@pytest.fixture
def built(tmp_path):
    """The catalog registry and its site, built once (a full build)."""
    path = make_catalog_registry(tmp_path)
    with Registry(path) as reg:
        first = build_site(reg, tmp_path / "site")
    assert first.mode == "full"
    return path, tmp_path / "site"


def rebuild_is_fresh(path: Path, site: Path, at: str | None = None, mode: str = "incremental"):
    """Rebuild `site`, build the same commit into an empty folder: the same files, the same
    kept state, the same counts."""
    fresh = site.parent / f"fresh-{len(list(site.parent.glob('fresh-*')))}"
    with Registry(path) as reg:
        again = build_site(reg, site, at=at)
        full = build_site(reg, fresh, at=at)
    assert again.mode == mode and full.mode == "full"
    mine, theirs = files_of(site), files_of(fresh)
    assert sorted(mine) == sorted(theirs)
    assert [p for p in mine if mine[p] != theirs[p]] == []
    assert kept_state(site) == kept_state(fresh)
    assert (again.models, again.versions, again.problems) == (full.models, full.versions, full.problems)
    assert again.kept + len(again.written) == full.kept + len(full.written)
    return again


def commit_edit(path: Path, rel: str, edit, message: str = "hand edit") -> None:
    target = path / rel
    target.write_text(edit(target.read_text()))
    git(path, "commit", "-qam", message)


def test_a_model_change_rewrites_only_that_models_pages(built):
    path, site = built
    with Registry(path) as reg:
        reg.update_model("support-lora", description="a new description")
    again = rebuild_is_fresh(path, site)
    pages = {p for p in again.written if p.startswith("models/")}
    assert pages and all(p.startswith("models/support-lora/") for p in pages)


def test_a_version_change(built):
    """support-lora@1 is drawn on its parents' lineage graphs: their pages change too."""
    path, site = built
    with Registry(path) as reg:
        reg.tag_version("support-lora", 1, {"data": "v2"})
    again = rebuild_is_fresh(path, site)
    assert {"models/support-lora/1.html", "models/llama-base/index.html"} <= set(again.written)


def test_a_card_change(built):
    path, site = built
    with Registry(path) as reg:
        reg.set_card("support-bot", 3, {"description": "a new card", "intended_use": "tickets"})
    rebuild_is_fresh(path, site)


def test_an_alias_move(built):
    path, site = built
    with Registry(path) as reg:
        reg.set_alias("support-bot", "canary", 2)
    rebuild_is_fresh(path, site)


def test_a_parent_that_a_childs_lineage_names(built):
    """llama-base@1 is support-bot's parent, and support-bot@2 support-lora's: deleting the
    base changes the lineage drawn on both children's pages, though their folders are the same."""
    path, site = built
    with Registry(path) as reg:
        reg.delete_version("llama-base", 1, "superseded")
    again = rebuild_is_fresh(path, site)
    assert "models/support-lora/1.html" in again.written and "models/support-bot/1.html" in again.written


def test_a_parent_edited_by_hand_its_grandchild_rechecked(built):
    """A parent's version.yaml rewritten by hand so that its own parent is missing: the child's
    check walks through it (a missing grandparent is reported on the parent)."""
    path, site = built
    commit_edit(path, "registry/support-bot/versions/2/version.yaml",
                lambda t: t.replace("model: llama-base", "model: llama-gone"))
    rebuild_is_fresh(path, site)


def test_registry_yaml_is_a_full_build(built):
    path, site = built
    settings = yaml.safe_load((path / "registry.yaml").read_text())
    settings["gates"] = {"production": {"metrics": ["mmlu/accuracy >= 0.65"]}}
    (path / "registry.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    git(path, "commit", "-qam", "tighter gate")
    rebuild_is_fresh(path, site, mode="full")


@pytest.mark.parametrize("rel", ["CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS", ".dvc/config",
                                 "schemas/model.schema.json"])
def test_a_file_outside_the_registry_that_check_reads_is_a_full_build(built, rel):
    path, site = built
    target = path / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text((target.read_text() if target.exists() else "") + "\n# registry/ @acme/platform\n")
    git(path, "add", rel)
    git(path, "commit", "-qm", f"edit {rel}")
    rebuild_is_fresh(path, site, mode="full")


def test_files_the_site_never_reads_change_nothing(built):
    """A README and code kept beside the registry: no folder is re-read, no page is written."""
    path, site = built
    for rel in ("README.md", "tool/train.py", ".github/workflows/train.yml", "docs/guide.md"):
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(f"# {rel}\n")
        git(path, "add", rel)
    git(path, "commit", "-qm", "docs and code")
    again = rebuild_is_fresh(path, site)
    assert [p for p in again.written if p.startswith("models/")] == []


def _sign_with(path: Path, key: str) -> None:
    settings = yaml.safe_load((path / "registry.yaml").read_text())
    settings["signatures"] = {"production": {"required": False, "signers": [{"key": key}]}}
    (path / "registry.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))


@pytest.mark.parametrize("key", ["keys/release.pub", "keys/[release].pub", "../outside.pub"])
def test_a_signer_key_named_outside_the_registry_is_read_by_the_site(built, key):
    """A key file registry.yaml names is policy wherever it lies: replacing it is a full build.
    A name git would read as a pattern makes every file outside registry/ count instead."""
    path, site = built
    if key.startswith(".."):  # no file of the repository's: only what registry.yaml says
        _sign_with(path, key)
        git(path, "commit", "-qam", "a signer outside the repository")
        rebuild_is_fresh(path, site, mode="full")
        (path / "README.md").write_text("# readme\n")
        git(path, "add", "README.md")
        git(path, "commit", "-qm", "a readme")
        rebuild_is_fresh(path, site, mode="full")
        return
    (path / key).parent.mkdir(parents=True, exist_ok=True)
    (path / key).write_text("not a key yet\n")
    _sign_with(path, key)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "a signer")
    rebuild_is_fresh(path, site, mode="full")
    (path / key).write_text("another key\n")
    git(path, "commit", "-qam", "the signer's key replaced")
    rebuild_is_fresh(path, site, mode="full")
    (path / "README.md").write_text("# readme\n")
    git(path, "add", "README.md")
    git(path, "commit", "-qm", "a readme")
    rebuild_is_fresh(path, site, mode="incremental" if key == "keys/release.pub" else "full")


def test_a_deleted_model(built):
    path, site = built
    git(path, "rm", "-rq", "registry/broken-model")
    git(path, "commit", "-qm", "drop the broken model")
    again = rebuild_is_fresh(path, site)
    assert "models/broken-model/1.html" in again.removed and not (site / "models/broken-model").exists()


def test_a_new_model_derived_from_an_existing_one(built):
    """A new model naming support-bot@3 as parent: support-bot's pages list it as derived."""
    path, site = built
    git(path, "rm", "-rq", "registry/broken-model")  # writes refuse a registry holding it
    git(path, "commit", "-qm", "drop the broken model")
    with Registry(path) as reg:
        reg.register_model("bot-distilled", "fine_tuned", description="smaller")
        reg.create_version("bot-distilled", source_uri="s3://bucket/distilled/", parent="support-bot@3")
    again = rebuild_is_fresh(path, site)
    assert "models/support-bot/3.html" in again.written and "models/bot-distilled/1.html" in again.written


def test_a_broken_record(built):
    path, site = built
    commit_edit(path, "registry/support-lora/versions/1/version.yaml", lambda t: t + "stage: [unclosed\n")
    again = rebuild_is_fresh(path, site)
    assert again.problems > 0


def test_several_commits_at_once(built):
    path, site = built
    with Registry(path) as reg:
        reg.set_alias("support-bot", "canary", 1)
        reg.update_model("llama-base", description="new words")
        reg.transition_stage("support-lora", 1, "staging")
    rebuild_is_fresh(path, site)


def test_a_commit_not_descended_from_the_last_build_is_a_full_build(built):
    """The site built at main, then at an older commit (full), main again (after it: incremental),
    then a branch beside main (full)."""
    path, site = built
    rebuild_is_fresh(path, site, at="HEAD~2", mode="full")
    git(path, "checkout", "-qb", "beside", "HEAD~1")
    with Registry(path) as reg:
        reg.set_alias("support-bot", "canary", 2)
    git(path, "checkout", "-q", "main")
    rebuild_is_fresh(path, site, at="main")
    rebuild_is_fresh(path, site, at="beside", mode="full")


def test_same_commit_is_a_no_op_and_a_missing_page_comes_back(built):
    path, site = built
    with Registry(path) as reg:
        assert build_site(reg, site).mode == "same"
    (site / "models/llama-base/1.html").unlink()
    again = rebuild_is_fresh(path, site)
    assert again.written == ["models/llama-base/1.html"]


def test_a_clock_note_that_arrives_later_redates_the_timelines(built):
    """The tag workflow's observation of an older commit, noted after the site was built: the
    events of that commit and of every later one move (the clock never runs backwards), with
    no change to any folder."""
    import time

    from modelreg.core.clock import NOTES_REF, iso

    path, site = built
    note = f"Modelreg-Branch: main\nModelreg-Observed: {iso(int(time.time()))}\n"
    git(path, "notes", f"--ref={NOTES_REF}", "add", "-f", "-m", note, "HEAD~1")
    again = rebuild_is_fresh(path, site)
    assert "models/support-lora/index.html" in again.written  # HEAD~1 made its version: now observed
    with Registry(path) as reg:
        reg.set_alias("support-bot", "canary", 2)
    note = f"Modelreg-Branch: main\nModelreg-Observed: {iso(int(time.time()))}\n"
    git(path, "notes", f"--ref={NOTES_REF}", "add", "-f", "-m", note, "HEAD~1")
    rebuild_is_fresh(path, site)


@pytest.mark.parametrize("spoil", ["flip a byte", "truncate", "another digest", "remove", "no state in the manifest"])
def test_a_spoiled_state_is_a_full_build(built, spoil):
    """The state is a claim: one that does not match the sha256 the manifest holds is ignored."""
    import json

    path, site = built
    with Registry(path) as reg:
        reg.set_alias("support-bot", "canary", 2)
    state, manifest = site / site_state.STATE, site / MANIFEST
    data = state.read_bytes()
    doc = json.loads(manifest.read_text())
    if spoil == "flip a byte":
        state.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    elif spoil == "truncate":
        state.write_bytes(data[: len(data) // 2])
    elif spoil == "another digest":
        manifest.write_text(json.dumps(dict(doc, state="0" * 64)))
    elif spoil == "remove":
        state.unlink()
    else:
        manifest.write_text(json.dumps({k: v for k, v in doc.items() if k != "state"}))
    rebuild_is_fresh(path, site, mode="full")


def test_a_state_in_the_right_form_but_not_this_registrys(built, tmp_path):
    """Another registry's site folder, state and all: its tree ids are not this registry's, so
    nothing of it is kept."""
    path, site = built
    other = make_catalog_registry(tmp_path / "other")
    with Registry(other) as reg:
        reg.set_card("llama-base", 1, {"description": "other words"})
    rebuild_is_fresh(other, site, mode="full")


def test_a_scoped_check_adds_up_to_the_whole_check(built):
    """check_models judged folder by folder gives, all together, what the whole check gives
    (the site keeps each folder's problems and re-judges only the folders that changed)."""
    path, _site = built
    commit_edit(path, "registry/support-bot/versions/2/version.yaml",
                lambda t: t.replace("model: llama-base", "model: llama-gone"))
    with Registry(path) as reg:
        commit = reg.git.rev_parse("HEAD")
        whole = set(run_check(reg.git, at=commit, local_files=False).problems)
        snap = Snapshot.at(reg.git, commit)
        found = set()
        for model in snap.models():
            found |= set(check_models(reg.git, commit, [model], snap.model_paths(model)))
    assert whole and found == whole


def test_the_oldest_commit_leaving_the_history_window(built, monkeypatch):
    """The timelines show the last HISTORY_COMMITS commits: a new commit pushes the oldest out,
    and the models whose events it held change with no change to their folders."""
    from modelreg.site import builder, catalog

    path, site = built
    with Registry(path) as reg:
        total = len(reg.git.log("HEAD", ["registry"]))  # the oldest: `init`, which holds no event
    monkeypatch.setattr(builder, "HISTORY_COMMITS", total - 1)
    monkeypatch.setattr(catalog, "HISTORY_COMMITS", total - 1)
    with Registry(path) as reg:
        assert build_site(reg, site).mode == "same"  # the window shrinks with the next commit
    with Registry(path) as reg:
        reg.update_model("support-lora", description="one more commit")
    again = rebuild_is_fresh(path, site)
    assert "models/llama-base/index.html" in again.written  # its registration left the window


def test_rows_holding_record_times_are_kept_as_they_were(tmp_path):
    """marshal holds no datetime: a record's timestamps are kept as tagged text and read back
    as the same values (the pages print them the same)."""
    from datetime import date, datetime, timedelta, timezone

    rows = {"a": [datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2))), date(2026, 1, 1),
                  datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc), ("alias", 3)]}
    state = {"commit": "c" * 40, "tree": "t", "pages": {}, "events": [{"to": rows}], "window": [],
             "folders": {"m": {"tree": "x", "parents": [], "problems": {}, "pages": {}, "rows": rows}}}
    digest = site_state.write(tmp_path, state)
    back = site_state.read(tmp_path, digest)
    assert back == state and [str(v) for v in back["folders"]["m"]["rows"]["a"]] == [str(v) for v in rows["a"]]
