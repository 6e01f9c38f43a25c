"""Queries and comparisons (issue 20): `version list --where/--sort/--limit/--all-models`,
`best` and `diff`, through the real entry point on one registry built once for the module."""
import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import git, write_weights


def mmlu(value: float) -> dict:
    return {"benchmark": "mmlu", "metric": "accuracy", "value": value}


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """llama-base@1; llama-ft@1..3 (different files, params, metrics, cards; @3 has no mmlu);
    mistral-ft@1 (staging) and @2 (deleted, the best mmlu of all)."""
    from modelreg import Registry
    from modelreg.registry import init_registry

    top = tmp_path_factory.mktemp("query")
    init_registry(top / "reg", remote=str(top / "remote"))
    reg = Registry(top / "reg")
    reg.register_model("llama-base", "base_model", tags={"team": "platform"})
    reg.create_version("llama-base", write_weights(top / "w0", 0), metrics=[mmlu(0.4)])
    reg.register_model("llama-ft", "fine_tuned", tags={"team": "support"})
    reg.create_version("llama-ft", write_weights(top / "w1", 1), parent="llama-base@1",
                       metrics=[mmlu(0.61), {"benchmark": "hella", "metric": "acc", "value": 0.5}],
                       parameters={"lr": 1e-4, "opt": "adam"}, tags={"data": "v1"}, description="first")
    second = write_weights(top / "w2", 2)
    (second / "notes.txt").write_text("x" * 100)
    (second / "chat_template.jinja").write_text("{{ messages[0].content }}")
    reg.create_version("llama-ft", second, parent="llama-base@1", metrics=[mmlu(0.66)],
                       parameters={"lr": 2e-5, "opt": "adam"}, tags={"data": "v2"}, description="second")
    reg.create_version("llama-ft", write_weights(top / "w3", 3), parent="llama-ft@2", parameters={"lr": 3e-5})
    before_cards = git(top / "reg", "rev-parse", "HEAD").strip()
    reg.set_card("llama-ft", 1, {"license": "apache-2.0", "intended_use": "support chat"})
    reg.set_card("llama-ft", 2, {"license": "mit", "intended_use": "support chat"})
    reg.transition_stage("llama-ft", 1, "staging")
    reg.transition_stage("llama-ft", 2, "staging")
    reg.register_model("mistral-ft", "fine_tuned")
    reg.create_version("mistral-ft", write_weights(top / "w4", 4), metrics=[mmlu(0.64)])
    reg.create_version("mistral-ft", write_weights(top / "w5", 5), metrics=[mmlu(0.7)])
    reg.transition_stage("mistral-ft", 1, "staging")
    reg.delete_version("mistral-ft", 2, "regressed on eval")
    reg.close()
    return {"root": top / "reg", "before_cards": before_cards}


@pytest.fixture
def q(team, run_cli):
    """`modelreg -C REGISTRY ARGS...`; with `--json`, the parsed output too."""
    def run(*args):
        result = run_cli("-C", team["root"], *args)
        result.data = json.loads(result.stdout) if "--json" in args and result.exit_code == 0 else None
        return result
    return run


def refs(data) -> list[str]:
    return [f"{v['model']}@{v['version']}" for v in data]


def test_where_sort_limit_on_one_model(q):
    found = q("version", "list", "llama-ft", "--where", "mmlu/accuracy >= 0.6", "--sort", "-mmlu/accuracy", "--json")
    assert found.exit_code == 0, found.stderr
    assert refs(found.data) == ["llama-ft@2", "llama-ft@1"]
    assert refs(q("version", "list", "llama-ft", "--sort", "-mmlu/accuracy", "--limit", "1", "--json").data) \
        == ["llama-ft@2"]
    shown = q("version", "list", "llama-ft", "--where", "stage == staging and params.opt == adam")
    assert shown.stdout.splitlines()[0].split() == ["VERSION", "STAGE", "STATUS", "ALIASES", "METRICS"]
    assert [line.split()[0] for line in shown.stdout.splitlines()[1:]] == ["1", "2"]
    assert q("version", "list", "llama-ft", "--where", "version > 5").stdout.strip() == "No versions."


def test_query_json_has_the_shape_of_a_plain_listing(q):
    """The rows --where prints are the records `version list MODEL --json` prints, nothing more."""
    plain = {f"{v['model']}@{v['version']}": v for v in q("version", "list", "llama-ft", "--json").data}
    queried = q("version", "list", "llama-ft", "--where", "version >= 1", "--json").data
    assert queried == list(plain.values())
    assert set(queried[1]) >= {"model", "version", "stage", "status", "artifacts", "aliases", "metrics"}


def test_all_models_where_sort_limit(q):
    found = q("version", "list", "--all-models", "--where", "mmlu/accuracy >= 0.6 and stage == staging",
              "--sort", "-mmlu/accuracy", "--limit", "5", "--json")
    assert refs(found.data) == ["llama-ft@2", "mistral-ft@1", "llama-ft@1"]
    assert refs(q("version", "list", "--all-models", "--sort", "created_at", "--limit", "2", "--json").data) \
        == ["llama-base@1", "llama-ft@1"]
    shown = q("version", "list", "--all-models", "--where", "model_type == base_model")
    assert shown.stdout.splitlines()[0].split()[:2] == ["MODEL", "VERSION"]
    assert shown.stdout.splitlines()[1].split()[:2] == ["llama-base", "1"]


def test_a_version_without_the_metric_neither_matches_nor_sorts_first(q):
    assert refs(q("version", "list", "llama-ft", "--where", "mmlu/accuracy != 0", "--json").data) \
        == ["llama-ft@1", "llama-ft@2"]
    for key, order in (("-mmlu/accuracy", [2, 1, 3]), ("mmlu/accuracy", [1, 2, 3])):
        assert [v["version"] for v in q("version", "list", "llama-ft", "--sort", key, "--json").data] == order
    assert refs(q("version", "list", "llama-ft", "--where", "not mmlu/accuracy > 0", "--json").data) == ["llama-ft@3"]


def test_parameters_tags_and_fields(q):
    def where(text):
        return refs(q("version", "list", "--all-models", "--where", text, "--json").data)
    assert where("params.lr < 5e-5") == ["llama-ft@2", "llama-ft@3"]
    assert where("tags.data == v2 or tags.team == platform") == ["llama-base@1", "llama-ft@2"]
    assert where("tags.team == support and not tags.data == v1") == ["llama-ft@2", "llama-ft@3"]
    assert where("model == mistral-ft or (model == llama-ft and version == 3)") == ["llama-ft@3", "mistral-ft@1"]
    assert where("created_by == 'Test User <test@example.com>' and version == 3") == ["llama-ft@3"]


def test_deleted_versions_only_when_asked(q):
    assert "mistral-ft@2" not in refs(q("version", "list", "--all-models", "--where", "version >= 1", "--json").data)
    assert "mistral-ft@2" in refs(q("version", "list", "mistral-ft", "--sort", "version", "--all", "--json").data)
    assert refs(q("version", "list", "--all-models", "--where", "status == deleted", "--json").data) \
        == ["mistral-ft@2"]


def test_bad_queries_are_one_line_and_exit_1(q):
    bad = q("version", "list", "--all-models", "--where", "mmlu/accuracy >= and stage == staging")
    assert bad.exit_code == 1 and bad.stdout == ""
    assert bad.stderr.strip() == ("error: invalid query at column 18: expected a value after '>=' (a number, a "
                                  "word or a quoted string), found 'and' in: mmlu/accuracy >= -->and stage == staging")
    as_json = q("version", "list", "llama-ft", "--where", "stag == x", "--json")
    assert as_json.exit_code == 1 and "unknown key 'stag'" in json.loads(as_json.stderr)["error"]
    typo = q("version", "list", "llama-ft", "--where", "stage == stagin")
    assert typo.exit_code == 1 and "unknown stage 'stagin'" in typo.stderr
    assert q("version", "list", "llama-ft", "--sort", "-bogus").exit_code == 1
    assert q("version", "list", "nope", "--where", "version > 1").exit_code == 1
    assert q("version", "list", "llama-ft", "--all-models").exit_code == 2
    assert q("version", "list").exit_code == 2
    assert q("version", "list", "llama-ft", "--limit", "0").exit_code == 2


def test_best(q):
    assert q("best", "llama-ft", "--metric", "mmlu/accuracy").stdout.strip() == "llama-ft@2 0.66"
    assert q("best", "llama-ft", "--metric", "mmlu/accuracy", "--min").stdout.strip() == "llama-ft@1 0.61"
    assert q("best", "llama-ft", "--metric", "mmlu/accuracy", "--max").stdout.strip() == "llama-ft@2 0.66"
    # mistral-ft@2 (0.7) is deleted: it never wins
    assert q("best", "--all-models", "--metric", "mmlu/accuracy").stdout.strip() == "llama-ft@2 0.66"
    assert q("best", "--all-models", "--metric", "mmlu/accuracy", "--where", "model != llama-ft").stdout.strip() \
        == "mistral-ft@1 0.64"
    assert q("best", "--all-models", "--metric", "mmlu/accuracy", "--min", "--stage", "staging").stdout.strip() \
        == "llama-ft@1 0.61"
    data = q("best", "--all-models", "--metric", "hella/acc", "--json").data
    assert {k: data[k] for k in ("ref", "model", "version", "metric", "value", "stage")} == {
        "ref": "llama-ft@1", "model": "llama-ft", "version": 1, "metric": "hella/acc", "value": 0.5,
        "stage": "staging"}
    none = q("best", "llama-base", "--metric", "hella/acc")
    assert none.exit_code == 1 and "no version of llama-base has a value for hella/acc" in none.stderr
    assert q("best", "llama-ft", "--metric", "stage").exit_code == 1
    assert q("best", "--metric", "mmlu/accuracy").exit_code == 2


def test_diff_two_versions(q):
    found = q("diff", "llama-ft@1", "llama-ft@2", "--json").data
    assert (found["old"]["ref"], found["new"]["ref"], found["same"]) == ("llama-ft@1", "llama-ft@2", False)
    metrics = {m["name"]: m for m in found["metrics"]}
    assert metrics["mmlu/accuracy"]["old"] == 0.61 and metrics["mmlu/accuracy"]["new"] == 0.66
    assert metrics["mmlu/accuracy"]["delta"] == pytest.approx(0.05)
    assert metrics["hella/acc"] == {"name": "hella/acc", "old": 0.5, "new": None, "delta": None}
    assert found["parameters"] == {"lr": {"old": 1e-4, "new": 2e-5}}
    assert found["tags"] == {"data": {"old": "v1", "new": "v2"}}
    assert found["fields"] == {"description": {"old": "first", "new": "second"}}
    files = found["files"]
    assert sorted(f["path"] for f in files["added"]) == ["chat_template.jinja", "notes.txt"]
    assert {f["path"] for f in files["changed"]} == {"model.safetensors", "config.json"}
    assert files["removed"] == [] and files["unchanged"] == 1  # tokenizer.json
    changed = next(f for f in files["changed"] if f["path"] == "model.safetensors")
    assert changed["old"]["sha256"] != changed["new"]["sha256"]
    assert found["parent"] is None  # both fine-tuned from llama-base@1
    assert found["card"] == {"license": {"old": "apache-2.0", "new": "mit"}}
    assert found["chat_template"]["old"] is None
    assert found["chat_template"]["new"]["source"] == "chat_template.jinja"
    shown = q("diff", "llama-ft@1", "llama-ft@2").stdout
    for line in ("llama-ft@1 -> llama-ft@2", "metrics", "mmlu/accuracy  0.61  0.66  +0.05", "files (1 unchanged)",
                 "+ notes.txt  100 B", "~ model.safetensors  4,096 B -> 4,096 B", "license  apache-2.0 -> mit",
                 "lr  0.0001 -> 2e-05", "chat template", "(none) -> chat_template.jinja sha256 "):
        assert line in shown, (line, shown)


def test_diff_across_models_shows_lineage_and_type(q):
    found = q("diff", "llama-base@1", "llama-ft@3", "--json").data
    assert found["parent"] == {"old": None, "new": {"ref": "llama-ft@2", "relation": "fine_tuned"}}
    assert found["fields"]["model_type"] == {"old": "base_model", "new": "fine_tuned"}
    shown = q("diff", "llama-ft@2", "llama-ft@3").stdout
    assert "parent  llama-base@1 (fine_tuned) -> llama-ft@2 (fine_tuned)" in shown
    assert "stage        staging -> none" in shown


def test_diff_of_a_version_with_itself_and_at_a_past_commit(q, team):
    same = q("diff", "llama-ft@1", "llama-ft@1")
    assert same.exit_code == 0 and same.stdout.splitlines()[0] == "llama-ft@1 -> llama-ft@1  (no differences)"
    assert q("diff", "llama-ft@1", "llama-ft@1", "--json").data["same"] is True
    past = q("diff", "llama-ft@1", "llama-ft@2", "--at", team["before_cards"], "--json").data
    assert "license" not in past["card"] and past["fields"].get("stage") is None
    assert q("diff", "llama-ft@1", "llama-ft@9").exit_code == 1


def test_answers_follow_new_commits_and_survive_a_broken_cache(team, tmp_path, run_cli, monkeypatch):
    """The cached rows are keyed by blob and commit: a write is seen at once; a corrupt cache
    file is ignored (rows are parsed again)."""
    from modelreg.store import reads

    monkeypatch.setattr(reads, "PARSE_BELOW", 0)  # the per-blob cache too, as a big registry uses it
    root = tmp_path / "copy"
    shutil.copytree(team["root"], root)
    args = ("-C", root, "version", "list", "--all-models", "--where", "stage == production", "--json")
    assert json.loads(run_cli(*args).stdout) == []
    assert run_cli("-C", root, "stage", "set", "llama-ft", "2", "production").exit_code == 0
    assert refs(json.loads(run_cli(*args).stdout)) == ["llama-ft@2"]
    cached = [p for p in (root / ".git" / "modelreg").rglob("*") if p.is_file()]
    assert {p.name for p in cached} >= {"blobs.json"} and len(cached) >= 3  # blobs, a table per commit
    for path in cached:
        path.write_text("{not json")  # neither JSON nor marshal (tables are marshal files, issue 23)
    assert run_cli("-C", root, "stage", "set", "llama-ft", "1", "archived").exit_code == 0
    assert refs(json.loads(run_cli(*args).stdout)) == ["llama-ft@2"]
    assert run_cli("-C", root, "best", "--all-models", "--metric", "mmlu/accuracy", "--stage", "archived")\
        .stdout.strip() == "llama-ft@1 0.61"


def test_queries_and_diff_import_no_heavy_module(team):
    code = ("import sys\nfrom modelreg.cli import main\n"
            f"root = {str(team['root'])!r}\n"
            "rc = [main(['-C', root, 'version', 'list', '--all-models', '--where', 'mmlu/accuracy > 0', "
            "'--sort', '-mmlu/accuracy', '--limit', '2', '--json']),\n"
            "      main(['-C', root, 'best', '--all-models', '--metric', 'mmlu/accuracy']),\n"
            "      main(['-C', root, 'diff', 'llama-ft@1', 'llama-ft@2', '--json'])]\n"
            "heavy = [m for m in ('dvc', 'boto3', 'obstore', 'torch', 'transformers', 'jsonschema') if m in sys.modules]\n"
            "print(rc, heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[0, 0, 0] []"


def test_a_warm_query_parses_no_record(team, tmp_path, monkeypatch):
    """Tripwire: once the rows are cached, a query across every model (a fresh Registry, memos
    cleared, as a new process) reads no YAML; only the records it prints are parsed."""
    from modelreg import Registry
    from modelreg.store import reads, snapshot, summaries

    root = tmp_path / "copy"
    shutil.copytree(team["root"], root)
    monkeypatch.setattr(reads, "PARSE_BELOW", 0)
    with Registry(root) as reg:
        assert reg.best_version("mmlu/accuracy")["ref"] == "llama-ft@2"  # builds the cache
    summaries._memo.clear()
    snapshot._memo.clear()

    def no_yaml(*args, **kwargs):
        raise AssertionError("a warm query parsed a record")
    monkeypatch.setattr(snapshot, "load_yaml", no_yaml)
    with Registry(root) as reg:
        found = reg.query_versions(where="tags.team == support", sort="-mmlu/accuracy", full=False)
        assert refs(found) == ["llama-ft@2", "llama-ft@1", "llama-ft@3"]
        assert reg.best_version("mmlu/accuracy", where="stage == staging", lowest=True)["ref"] == "llama-ft@1"


def test_readme_query_examples_run_as_written(team, tmp_path, run_cli):
    """The README's "Queries and comparisons" block, line by line (a production version and a
    v1.4.0 tag added, as after the tour)."""
    import re
    import shlex
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split("## Queries and comparisons", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    root = tmp_path / "copy"
    shutil.copytree(team["root"], root)
    assert run_cli("-C", root, "stage", "set", "llama-ft", "1", "production").exit_code == 0
    git(root, "tag", "v1.4.0")
    lines = [shlex.split(line, comments=True) for line in block.splitlines()]
    assert len(lines) == 7
    for words in lines:
        assert words[0] == "modelreg"
        result = run_cli("-C", root, *words[1:])
        assert result.exit_code == 0, (words, result.output)
