"""The site's compare page and its marking of deleted versions (issue 20).

The page's differences are computed by its script, so they are asserted in Chromium (the
browser stack of test_browser.py); what the build writes (the data, the links, the deleted
marks in charts and lineage graphs) is asserted on the files.
"""
import functools
import json
import re
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from modelreg import Registry
from modelreg.site import build_site
from tests.conftest import write_weights
from tests.site.test_browser import QuietHandler, Visitor, browser  # noqa: F401 (the module's browser)
from tests.site.test_builder import SCRIPT, make_catalog_registry, page


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """The catalog registry, plus a second base version with other files, and support-bot@1
    deleted; built once."""
    root = tmp_path_factory.mktemp("compare-site")
    path = make_catalog_registry(root)
    with Registry(path) as reg:
        reg.create_version("llama-base", write_weights(root / "w-base2", seed=8, size=5000))
        reg.delete_version("support-bot", 1, reason="trained on leaked eval data")
        build_site(reg, root / "site")
    return path, root / "site"


def compare_data(site: Path, model: str) -> dict:
    text = (site / "models" / model / "compare.html").read_text()
    found = re.search(r'<script type="application/json" id="compare-data">(.*?)</script>', text, re.S)
    return json.loads(found.group(1))


# -- what the build writes -----------------------------------------------------------------------
def test_compare_page_carries_every_version_on_the_lineage(compared):
    path, site = compared
    data = compare_data(site, "support-bot")
    ids = [v["id"] for v in data["versions"]]
    assert ids[:3] == ["support-bot@1", "support-bot@2", "support-bot@3"]  # its own first, then the lineage
    assert ids[3:] == ["llama-base@1", "support-lora@1"]  # llama-base@2 is on no lineage of it
    assert (data["a"], data["b"]) == ("support-bot@2", "support-bot@3")
    by_id = {v["id"]: v for v in data["versions"]}
    with Registry(path) as reg:
        record = reg.get_version("support-bot", 2)
    assert by_id["support-bot@2"]["metrics"] == {"mmlu/accuracy": record["metrics"][0]["value"]}
    assert by_id["support-bot@2"]["parent"] == "llama-base@1 (fine_tuned)"
    assert by_id["support-bot@1"]["status"] == "deleted"
    assert by_id["support-bot@1"]["deleted"]["reason"] == "trained on leaked eval data"
    base = compare_data(site, "llama-base")["versions"]
    files = {v["id"]: v["files"] for v in base}
    assert files["llama-base@1"]["model.safetensors"]["size"] == 4096
    assert files["llama-base@2"]["model.safetensors"]["size"] == 5000
    # a card's <script> stays data: escaped inside the JSON block, never a tag
    assert SCRIPT not in (site / "models/support-bot/compare.html").read_text()


def test_a_base_offers_its_versions_and_a_bounded_number_derived(compared, tmp_path, monkeypatch):
    """A base many models derive from keeps a small compare page: its own versions, then at
    most COMPARE_DERIVED versions derived directly from them."""
    from modelreg.site import pages

    assert [v["id"] for v in compare_data(compared[1], "llama-base")["versions"]] == \
        ["llama-base@1", "llama-base@2", "support-bot@1", "support-bot@2", "support-bot@3"]
    monkeypatch.setattr(pages, "COMPARE_DERIVED", 2)
    with Registry(compared[0]) as reg:
        build_site(reg, tmp_path / "site")
    assert [v["id"] for v in compare_data(tmp_path / "site", "llama-base")["versions"]] == \
        ["llama-base@1", "llama-base@2", "support-bot@1", "support-bot@2"]


def test_model_and_version_pages_link_the_compare_page(compared):
    _, site = compared
    assert "compare.html" in [a["href"] for a in page(site, "models/support-bot/index.html").find("a", class_="compare-link")]
    links = [a["href"] for a in page(site, "models/support-bot/2.html").find("a", class_="compare-link")]
    assert links == ["compare.html?b=support-bot%402"]


def test_deleted_versions_are_marked_in_charts_and_lineage_graphs(compared):
    """issue 20: a deleted version keeps its point and node, drawn in a style of its own, with
    "deleted" in its tooltip and a legend line; active ones are unmarked."""
    _, site = compared
    text = (site / "models/support-bot/index.html").read_text()
    model = page(site, "models/support-bot/index.html")
    points = {p["data-version"]: p for p in model.find("circle") if "data-version" in p}
    assert points["1"]["data-status"] == "deleted" and "deleted" in points["1"]["class"].split()
    assert points["2"]["data-status"] == "active" and "deleted" not in points["2"]["class"].split()
    assert "<title>v1: 0.61 (archived, deleted)</title>" in text
    assert "hollow grey point: a deleted version (1)" in text
    nodes = {f"{a['data-model']}@{a['data-version']}": a for a in model.find("a", class_="lineage-node deleted")}
    assert set(nodes) == {"support-bot@1"}
    assert "<title>support-bot@1: deleted</title>" in text and "a deleted version (1)" in text
    # the base's page draws the same node the same way; a graph with no deleted node has no legend
    base = (site / "models/llama-base/1.html").read_text()
    assert "<title>support-bot@1: deleted</title>" in base
    assert "a deleted version" not in (site / "models/support-lora/1.html").read_text()
    options = (site / "models/support-bot/compare.html").read_text()
    assert re.search(r'<option value="support-bot@1">support-bot@1 · archived · deleted</option>', options)


# -- in the browser --------------------------------------------------------------------------------
@pytest.fixture
def visit(browser, compared, tmp_path):  # noqa: F811
    browser.get_log("browser")
    visitor = Visitor(browser, compared[1], tmp_path / "screenshots")
    yield visitor
    visitor.settle()


def choose(visit, side: str, value: str):
    from selenium.webdriver.support.ui import Select

    Select(visit.css(f"#compare-{side}")[0]).select_by_value(value)


def row(visit, table: str, key: str) -> list[str]:
    found = [r for r in visit.css(f"#compare-{table} tbody tr") if r.get_attribute("data-key") == key]
    assert found, f"no row {key} in #compare-{table}"
    return [c.text for c in found[0].find_elements("css selector", "th, td")]


def test_pick_two_versions_and_see_the_deltas(visit):
    """issue 20: select two versions; metrics show B - A, parameters and the parent side by side."""
    visit.open("models/support-bot/compare.html")
    assert row(visit, "metrics", "mmlu/accuracy") == ["mmlu/accuracy", "0.66", "0.58", "−0.08 (−12.1%)"]
    choose(visit, "a", "support-bot@1")
    choose(visit, "b", "support-bot@2")
    assert row(visit, "metrics", "mmlu/accuracy") == ["mmlu/accuracy", "0.61", "0.66", "+0.05 (+8.2%)"]
    assert row(visit, "params", "lr") == ["lr", "1e-05", "2e-05", "+0.00001 (+100.0%)"]
    assert row(visit, "overview", "Status") == ["Status", "deleted: trained on leaked eval data", "active", "changed"]
    assert row(visit, "card", "description")[1:] == [f"v1 card {SCRIPT}", f"v2 card {SCRIPT}", "changed"]
    assert "difference(s) between support-bot@1 and support-bot@2" in visit.css("#compare-summary")[0].text
    visit.shot("compare-1-2")
    # any two versions on the lineage: the base against a fine-tune of it
    choose(visit, "a", "llama-base@1")
    assert row(visit, "overview", "Parent") == ["Parent", "-", "llama-base@1 (fine_tuned)", "changed"]
    assert row(visit, "metrics", "mmlu/accuracy")[1:] == ["-", "0.66", "only in B"]
    visit.css("#compare-swap")[0].click()
    assert row(visit, "metrics", "mmlu/accuracy")[1:] == ["0.66", "-", "only in A"]
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        visit.driver.switch_to.alert.text


def test_files_show_sha256_and_size_changes(visit):
    visit.open("models/llama-base/compare.html")
    cells = row(visit, "files", "model.safetensors")
    assert cells[2] == "4096" and cells[4] == "5000" and cells[5] == "changed, size +904 B"
    assert cells[1] != cells[3] and len(cells[1]) == 12
    assert row(visit, "files", "tokenizer.json")[5] == "same"


def test_a_version_page_link_opens_it_against_the_version_before(visit):
    visit.open("models/support-bot/3.html")
    visit.css("a.compare-link")[0].click()
    visit.settle()
    assert visit.css("#compare-a")[0].get_attribute("value") == "support-bot@2"
    assert visit.css("#compare-b")[0].get_attribute("value") == "support-bot@3"


@pytest.mark.parametrize("rel", ["models/support-bot/compare.html", "models/support-bot/index.html"])
def test_axe_finds_no_serious_violation(visit, rel):
    """The compare page, and a model page drawing a deleted version, pass axe like the others."""
    from tests.site.test_browser import AXE, missing

    if not AXE.exists():
        missing("axe-core is not installed: run npm install (make install)")
    visit.open(rel)
    visit.shot(rel.replace("/", "-"))
    violations = visit.axe()
    assert not violations, json.dumps(violations, indent=1)


class CSPHandler(QuietHandler):
    """Serves the site as a host with a strict Content-Security-Policy would."""

    def end_headers(self):
        self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:")
        super().end_headers()


def test_compare_works_offline_under_a_strict_csp(browser, compared, tmp_path):  # noqa: F811
    """No CDN, no inline script or style: the page works served with `default-src 'self'`
    (a CSP violation is a console error, which fails the visit); the probe shows the policy bites."""
    site = compared[1]
    (site.parent / "csp-probe.html").write_text('<!doctype html><html lang="en"><head><title>p</title></head>'
                                                '<body><script>document.title = "ran"</script></body></html>')
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(CSPHandler, directory=str(site.parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        browser.get_log("browser")
        visitor = Visitor(browser, site, tmp_path / "shots")
        base = f"http://127.0.0.1:{server.server_port}/"
        browser.get(base + f"{site.name}/models/support-bot/compare.html?a=support-bot%401&b=support-bot%402")
        visitor.settle()
        assert row(visitor, "metrics", "mmlu/accuracy")[3] == "+0.05 (+8.2%)"
        browser.get(base + "csp-probe.html")
        assert browser.title == "p"
        with pytest.raises(AssertionError, match="Content Security Policy"):
            visitor.settle()
    finally:
        server.shutdown()
        server.server_close()
