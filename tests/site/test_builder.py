"""The static catalog site (issue 11): pages, JSON mirror, escaping, bad input, incremental builds.

The browser half (search, charts, lineage, accessibility) is tests/site/test_browser.py.
"""
import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from modelreg.core.extras import install_command
from modelreg import Registry
from modelreg.cli import main
from modelreg.registry import init_registry
from modelreg.site import build_site
from tests.conftest import write_weights

SCRIPT = '<script>alert("pwned")</script>'
METRICS = {1: 0.61, 2: 0.66, 3: 0.58}


def git(cwd, *args) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_catalog_registry(root: Path) -> Path:
    """A registry with a base, a fine-tuned model with three versions, an adapter across models,
    a production gate, stage and alias moves (one through a 'merged PR'), a card holding a
    <script>, and a schema-invalid model committed by hand."""
    path = root / "reg"
    init_registry(path, remote=str(root / "remote"))
    settings = yaml.safe_load((path / "registry.yaml").read_text())
    settings["gates"] = {"production": {"metrics": ["mmlu/accuracy >= 0.6"]}}
    (path / "registry.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    git(path, "commit", "-qam", "gate production on mmlu/accuracy")
    with Registry(path) as reg:
        reg.register_model("llama-base", "base_model", description="Upstream base", owners=["@acme/platform"])
        reg.create_version("llama-base", write_weights(root / "w-base", seed=3))
        reg.register_model("support-bot", "fine_tuned", description=f"Support bot {SCRIPT}",
                           owners=["@acme/ml-leads"], tags={"team": "support"})
        for n, value in METRICS.items():
            reg.create_version("support-bot", source_uri=f"s3://bucket/run-{n}/", parent="llama-base@1",
                               metrics=[{"benchmark": "mmlu", "metric": "accuracy", "value": value}],
                               parameters={"lr": 1e-5 * n}, card={"description": f"v{n} card {SCRIPT}",
                                                                  "intended_use": "answer tickets"})
        for n in (1, 2):
            reg.transition_stage("support-bot", n, "staging")
            reg.transition_stage("support-bot", n, "production")
        reg.set_alias("support-bot", "canary", 3)
        git(path, "commit", "-q", "--amend", "-m", "Merge pull request #7 from acme/canary")
        reg.register_model("support-lora", "adapter", description="LoRA on the bot", tags={"team": "support"})
        reg.create_version("support-lora", source_uri="s3://bucket/lora/", parent="support-bot@2")
    broken = path / "registry" / "broken-model" / "versions" / "1"
    broken.mkdir(parents=True)
    (broken.parent.parent / "model.yaml").write_text("name: broken-model\nmodel_type: base_model\n")
    (broken / "version.yaml").write_text("version: 1\nmodel_type: base_model\nstage: prod\nstatus: active\n")
    git(path, "add", "registry/broken-model")
    git(path, "commit", "-qm", "a hand-written, schema-invalid version")
    return path


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """One registry and its built site, shared by the tests that only read them."""
    root = tmp_path_factory.mktemp("catalog")
    path = make_catalog_registry(root)
    with Registry(path) as reg:
        result = build_site(reg, root / "site", repo_url="https://github.com/acme/registry")
    return path, root / "site", result


class Elements(HTMLParser):
    """Start tags with their attributes, and the page's text."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag, **attrs) -> list[dict]:
        wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}  # class_ -> class
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in wanted.items())]


def page(site: Path, rel: str) -> Elements:
    return Elements((site / rel).read_text())


def test_every_page_type_is_written(catalog):
    _, site, result = catalog
    for rel in ("index.html", "as-of.html", "assets/site.js", "assets/site.css", "api/models.json",
                "models/support-bot/index.html", "models/support-bot/1.html", "models/support-lora/1.html",
                "api/models/support-bot.json", "models/broken-model/1.html"):
        assert (site / rel).is_file(), rel
    assert result.models == 4 and result.versions == 6
    assert result.index == site / "index.html"


def test_index_lists_models_with_aliases_and_filters(catalog):
    _, site, _ = catalog
    index = page(site, "index.html")
    rows = {a["data-name"]: a for a in index.find("tr") if "data-name" in a}
    assert set(rows) == {"broken-model", "llama-base", "support-bot", "support-lora"}
    assert json.loads(rows["support-bot"]["data-tags"]) == ["team=support"]
    assert json.loads(rows["support-bot"]["data-stages"]) == ["archived", "none", "production"]
    assert json.loads(rows["support-lora"]["data-types"]) == ["adapter"]
    links = [a["href"] for a in index.find("a")]
    assert "models/support-bot/index.html" in links
    assert "models/support-bot/2.html" in links and "models/support-bot/3.html" in links  # production, canary



def test_links_are_relative_and_resolve(catalog):
    """Works from file:// and under a Pages sub-path: no absolute or network URL (but the
    repository's commit and PR links), and every relative link lands on a built file."""
    _, site, _ = catalog
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 5, pages  # index, as-of, the model pages and their versions
    for html in pages:
        for tag, attrs in Elements(html.read_text()).tags:
            for key in ("href", "src"):
                value = attrs.get(key)
                if value is None or value.startswith(("#", "data:")):
                    continue
                if value.startswith("https://github.com/acme/registry/"):
                    continue
                assert not value.startswith(("/", "http:", "https:", "//")), (html, value)
                assert (html.parent / re.split("[#?]", value)[0]).resolve().is_file(), (html, value)


def test_site_build_imports_no_heavy_library(catalog, tmp_path):
    """A read-only command: building the site imports neither DVC, boto3 nor torch."""
    import subprocess
    import sys

    path, _, _ = catalog
    code = ("import sys; from modelreg.cli import main; main(['-C', sys.argv[1], 'site', 'build', '-o', sys.argv[2]]);"
            "print(sorted(m for m in ('dvc', 'boto3', 'torch', 'transformers', 'peft') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "s")], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_model_page_chart_points_match_the_records(catalog):
    path, site, _ = catalog
    model = page(site, "models/support-bot/index.html")
    points = model.find("circle")
    assert {int(p["data-version"]): float(p["data-value"]) for p in points} == METRICS
    with Registry(path) as reg:
        assert {int(p["data-version"]): p["data-stage"] for p in points} == {
            n: reg.get_version("support-bot", n)["stage"] for n in METRICS}
    gates = model.find("line", class_="gate")
    assert [(g["data-gate-stage"], g["data-gate-op"], float(g["data-gate-value"])) for g in gates] == [
        ("production", ">=", 0.6)]


def test_model_page_timeline_links_commits_and_prs(catalog):
    path, site, _ = catalog
    html = (site / "models/support-bot/index.html").read_text()
    assert 'href="https://github.com/acme/registry/pull/7"' in html
    commits = set(re.findall(r"https://github.com/acme/registry/commit/([0-9a-f]{40})", html))
    assert git(path, "log", "--format=%H", "-n", "1", "--grep", "pull request #7").strip() in commits
    assert "support-bot@2: staging -&gt; production" in html
    assert "alias support-bot@canary: -&gt; 3" in html


def test_version_page_files_lineage_commands_and_check(catalog):
    path, site, _ = catalog
    with Registry(path) as reg:
        artifacts = reg.get_version("llama-base", 1)["artifacts"]
    base = (site / "models/llama-base/1.html").read_text()
    for artifact in artifacts:
        assert artifact["sha256"] in base and artifact["path"] in base
    lora = page(site, "models/support-lora/1.html")
    chain = [(a["data-model"], a["data-version"]) for a in lora.find("a", class_="lineage-link")]
    assert chain == [("support-lora", "1"), ("support-bot", "2"), ("llama-base", "1")]
    text = (site / "models/support-lora/1.html").read_text()
    assert "modelreg pull support-lora@1" in text and "modelreg lock support-lora@1 -o models.lock" in text
    assert 'id="check-ok"' in text
    derived = page(site, "models/support-bot/2.html").find("a", class_="derived-link")
    assert [d["href"] for d in derived] == ["../../models/support-lora/1.html"]


def test_script_in_card_and_description_is_text(catalog):
    """issue 11 bad input: a card containing <script> shows as text."""
    _, site, _ = catalog
    for rel in ("models/support-bot/1.html", "models/support-bot/index.html", "index.html"):
        html = (site / rel).read_text()
        assert "<script>alert" not in html, rel
        assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html, rel
        assert html.count("<script") == 1, rel  # only the site's own script tag


def test_schema_invalid_record_is_a_problem_on_the_page(catalog):
    """issue 11 bad input: a record the site cannot render is shown as a problem, the build goes on."""
    _, site, result = catalog
    html = (site / "models/broken-model/1.html").read_text()
    assert "version.yaml is not a valid record" in html
    assert "&#39;prod&#39; is not one of" in html or "'prod' is not one of" in html
    assert "stage: prod" in html  # the record as committed
    model = json.loads((site / "api/models/broken-model.json").read_text())
    assert model["versions"][0]["status"] == "invalid" and model["versions"][0]["problems"]
    assert result.problems > 0


def test_api_mirror_matches_the_registry(catalog):
    path, site, _ = catalog
    index = json.loads((site / "api/models.json").read_text())
    with Registry(path) as reg:
        assert index["commit"] == reg.commit_of()
        names = [m["name"] for m in reg.list_models()]
        assert [m["name"] for m in index["models"]] == sorted(names) and "broken-model" in names
        bot = json.loads((site / "api/models/support-bot.json").read_text())
        assert bot["aliases"] == reg.aliases("support-bot") == {"production": 2, "canary": 3}
        assert bot["stages"] == {"archived": [1], "production": [2], "none": [3]}
        assert [v["record"] for v in bot["versions"]] == reg.list_versions("support-bot")


def test_as_of_page_has_the_production_periods(catalog):
    _, site, _ = catalog
    rows = {a["data-model"]: json.loads(a["data-spans"]) for a in page(site, "as-of.html").find("tr")
            if "data-model" in a}
    spans = rows["support-bot"]
    assert [s["version"] for s in spans] == [1, 2]
    assert spans[0]["until"] == spans[1]["from"] and spans[1]["until"] is None
    assert rows["llama-base"] == []


def test_as_of_periods_agree_with_resolve_as_of(catalog):
    """The as-of page answers what `resolve NAME --as-of T` answers, at every period's start."""
    path, site, _ = catalog
    rows = {a["data-model"]: json.loads(a["data-spans"]) for a in page(site, "as-of.html").find("tr")
            if "data-model" in a}
    with Registry(path) as reg:
        for span in rows["support-bot"]:
            if span["until"] is None or span["until"] > span["from"]:  # moves within one second share it
                assert reg.resolve("support-bot@production", as_of=span["from"]).version == span["version"]


def test_rebuild_rewrites_only_what_changed(tmp_path):
    """issue 11: builds incrementally; pages of a removed model go away."""
    path = make_catalog_registry(tmp_path)
    out = tmp_path / "site"
    with Registry(path) as reg:
        first = build_site(reg, out)
        again = build_site(reg, out)
        assert again.written == [] and again.kept == len(first.written)
        reg.set_card("llama-base", 1, {"description": "new words"})
        third = build_site(reg, out)
    changed = set(third.written) - {"index.html", "as-of.html", "api/models.json"}
    assert "models/llama-base/1.html" in changed and "models/support-lora/1.html" not in changed
    assert "new words" in (out / "models/llama-base/1.html").read_text()
    git(path, "rm", "-rq", "registry/broken-model")
    git(path, "commit", "-qm", "drop the broken model")
    with Registry(path) as reg:
        fourth = build_site(reg, out)
    assert "models/broken-model/1.html" in fourth.removed
    assert not (out / "models/broken-model").exists()


def test_cli_builds_and_prints_the_index_path(tmp_path, capsys):
    path = make_catalog_registry(tmp_path)
    out = tmp_path / "public"
    assert main(["-C", str(path), "site", "build", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out / "index.html")
    assert "4 model(s), 6 version(s)" in captured.err
    assert main(["-C", str(path), "site", "build", "-o", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["index"] == str(out / "index.html") and summary["written"] == 0 and summary["kept"] > 10
    reports = []
    with Registry(path) as reg:
        other = build_site(reg, tmp_path / "other", progress=lambda done, total: reports.append((done, total)))
    assert reports and reports[-1] == (len(other.written), len(other.written)) and len(other.written) > 10


def test_unknown_ref_is_exit_1_and_writes_nothing(registry_dir, tmp_path, capsys):
    """issue 11 bad input: a ref that does not exist is exit 1."""
    out = tmp_path / "site"
    assert main(["-C", str(registry_dir), "site", "build", "-o", str(out), "--at", "no-such-ref"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-ref" in err
    assert not out.exists()


def test_refuses_a_folder_that_is_not_a_site(registry_dir, tmp_path, capsys):
    out = tmp_path / "docs"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["-C", str(registry_dir), "site", "build", "-o", str(out)]) == 1
    assert "not empty" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_at_builds_an_older_ref(tmp_path):
    path = make_catalog_registry(tmp_path)
    git(path, "tag", "before-lora", "HEAD~3")
    with Registry(path) as reg:
        result = build_site(reg, tmp_path / "old", at="before-lora")
    assert result.commit == git(path, "rev-parse", "before-lora^{commit}").strip()
    assert not (tmp_path / "old/models/support-lora").exists()
    assert (tmp_path / "old/models/support-bot/3.html").exists()


def test_empty_registry_builds(registry_dir, tmp_path):
    with Registry(registry_dir) as reg:
        result = build_site(reg, tmp_path / "site")
    assert result.models == 0 and "0 model(s)" in (tmp_path / "site/index.html").read_text()


def test_pages_workflow_is_pinned_least_privilege_and_parses():
    """issue 11: .github/workflows/modelreg-site.yml publishes the site to Pages."""
    from tests.test_workflows import load, modelreg_calls, parses

    doc = load("modelreg-site.yml")
    assert doc["on"]["push"] == {"branches": ["main"]}
    assert doc["permissions"] == {}
    assert doc["jobs"]["build"]["permissions"] == {"contents": "read"}
    assert doc["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    uses = [s["uses"] for job in doc["jobs"].values() for s in job["steps"] if "uses" in s]
    assert uses and all(re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", u) for u in uses), uses
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    calls = modelreg_calls(doc)
    assert calls == [["site", "build", "-o", "_site", "--repo-url", "UNSET/UNSET"]]
    parses(calls[0])
    steps = doc["jobs"]["build"]["steps"]
    assert next(s for s in steps if "upload-pages-artifact" in s.get("uses", ""))["with"]["path"] == "_site"
    assert not any("${{" in str(s.get("run", "")) for s in steps)


def test_init_scaffolds_the_pages_workflow(tmp_path):
    """issue 11: `modelreg init` writes the Pages workflow, installing the pinned source with the
    site extra (the templates need jinja2)."""
    from modelreg.writes.scaffold import _PINNED_INSTALL, REQUIREMENTS, requirements_text

    path = tmp_path / "newreg"
    init_registry(path, remote=str(tmp_path / "remote"))
    text = (path / ".github/workflows/modelreg-site.yml").read_text()
    assert text.count(_PINNED_INSTALL) == 1 and "'.[site]'" not in text
    assert git(path, "ls-files", ".github/workflows/modelreg-site.yml").strip()
    assert (path / REQUIREMENTS).exists()
    pinned = requirements_text("git+https://github.com/acme/modelreg@" + "a" * 40, "/tmp/x").splitlines()[-1]
    assert pinned.startswith("modelreg[github,site] @ ")


def test_same_commit_rebuild_reads_nothing(tmp_path, monkeypatch):
    """issue 11 incremental builds: rebuilding the commit already built skips the registry
    read entirely, unless a page went missing: then only that model's folder is read again
    (issue 23), and only the missing page is written."""
    from modelreg.site import catalog as catalog_module

    path = make_catalog_registry(tmp_path)
    out = tmp_path / "site"
    with Registry(path) as reg:
        first = build_site(reg, out)
        calls = []
        real = catalog_module.read_catalog
        monkeypatch.setattr("modelreg.site.builder.read_catalog", lambda *a: calls.append(a) or real(*a))
        again = build_site(reg, out)
        assert calls == [] and again.kept == len(first.written) and again.models == first.models
        (out / "models/support-bot/2.html").unlink()
        third = build_site(reg, out)
    assert calls == [] and third.mode == "incremental" and third.written == ["models/support-bot/2.html"]


def test_times_are_shown_in_utc(tmp_path):
    """A record may carry a time with an offset; the pages say UTC, so they convert."""
    path = make_catalog_registry(tmp_path)
    record = path / "registry/llama-base/versions/1/version.yaml"
    text = record.read_text()
    stamp = re.search(r"created_at: '([^']+)'", text).group(1)
    record.write_text(text.replace(stamp, "2026-03-01T12:30:00+02:00"))
    git(path, "commit", "-qam", "a hand-written time with an offset")
    with Registry(path) as reg:
        build_site(reg, tmp_path / "site")
    html = (tmp_path / "site/models/llama-base/index.html").read_text()
    assert "2026-03-01 10:30" in html and "12:30" not in html


def test_forked_workers_write_the_same_site(tmp_path, monkeypatch):
    """Big builds render in forked workers: byte for byte the same site as one process."""
    from modelreg.site import builder

    path = make_catalog_registry(tmp_path)
    with Registry(path) as reg:
        one = build_site(reg, tmp_path / "one")
        monkeypatch.setattr(builder, "PARALLEL_MIN_PAGES", 1)
        monkeypatch.setattr(builder, "CHUNK", 3)
        monkeypatch.setattr(builder, "MAX_WORKERS", 2)
        monkeypatch.setattr(builder.os, "cpu_count", lambda: 2)
        reports = []
        many = build_site(reg, tmp_path / "many", progress=lambda done, total: reports.append((done, total)))
    assert many.written == one.written and reports[-1] == (len(one.written), len(one.written))
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "many") for p in (tmp_path / "many").rglob("*") if p.is_file())
    for rel in files:
        if rel.name not in (builder.MANIFEST, builder.site_state.STATE):  # the build's own records
            assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "many" / rel).read_bytes(), rel


def test_without_jinja2_one_line_and_nothing_written(registry_dir, tmp_path, monkeypatch, capsys):
    """A registry whose CI pin predates the site extra: a clear line, exit 1, no folder."""
    import sys

    monkeypatch.setitem(sys.modules, "jinja2", None)
    out = tmp_path / "site"
    assert main(["-C", str(registry_dir), "site", "build", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and install_command("site") in err
    assert not out.exists()


def test_signature_and_chat_template_files_are_listed_as_text(tmp_path):
    """Record folders hold more than YAML (issue 12's model.sig, chat_template.jinja): the site
    lists them, escaped, and keeps building."""
    path = make_catalog_registry(tmp_path)
    folder = path / "registry/support-bot/versions/2"
    (folder / "chat_template.jinja").write_text("{% for m in messages %}" + SCRIPT + "{% endfor %}")
    (folder / "model.sig").write_text('{"not": "a real bundle"}')
    git(path, "add", "registry/support-bot/versions/2")
    git(path, "commit", "-qm", "a template and a (bad) signature")
    with Registry(path) as reg:
        build_site(reg, tmp_path / "site")
    html = (tmp_path / "site/models/support-bot/2.html").read_text()
    assert "<code>chat_template.jinja</code>" in html and "<code>model.sig</code>" in html
    assert "&lt;script&gt;alert" in html and html.count("<script") == 1


def test_a_url_credential_in_a_record_is_never_published(registry, tmp_path):
    """issue 19 item 11: a record holding a URL with a password or a signature (written by hand,
    or before URLs were redacted) and a --repo-url with a token: no page, JSON file or the
    manifest of the built site carries either secret."""
    registry.register_model("external", "base_model", description="mirror at https://bob:hunter2-pw@h.example/m")
    registry.create_version("external", source_uri="https://models.example.com/llama")
    path = registry.root / "registry" / "external" / "versions" / "1" / "version.yaml"
    path.write_text(path.read_text().replace("https://models.example.com/llama",
                                             "https://alice:s3cr3t-pw@models.example.com/llama?sig=deadbeefsig"))
    git(registry.root, "commit", "-qam", "a record holding credentials")
    site = tmp_path / "site"
    build_site(registry, site, repo_url="https://x-access-token:ghs_tokentoken@github.com/acme/registry")
    texts = [p.read_text(errors="replace") for p in site.rglob("*") if p.is_file()]
    assert any("models.example.com/llama" in t for t in texts)  # the source is shown, without its secrets
    for secret in ("s3cr3t-pw", "deadbeefsig", "hunter2-pw", "ghs_tokentoken"):
        assert not any(secret in t for t in texts), secret


def test_a_deprecated_model_shows_its_reason_not_a_dict(registry, tmp_path):
    """issue 20: the model page says why a model is deprecated, in words."""
    registry.register_model("old", "base_model")
    registry.deprecate_model("old", "superseded by new")
    build_site(registry, tmp_path / "site")
    text = (tmp_path / "site" / "models" / "old" / "index.html").read_text()
    assert '<dt>Deprecated</dt><dd class="warn">superseded by new</dd>' in text and "{&#39;value&#39;" not in text
    assert "'value'" not in text
    registry.undeprecate_model("old")
    build_site(registry, tmp_path / "site2")
    assert "<dt>Deprecated</dt>" not in (tmp_path / "site2" / "models" / "old" / "index.html").read_text()
