"""The site beside issue 12's files: a version with a chat template (and so a file the site
does not render) still builds."""
from modelreg import Registry
from modelreg.registry import init_registry
from modelreg.site import build_site
from tests.conftest import write_weights


def test_site_builds_a_version_that_carries_a_chat_template(tmp_path):
    """Regression (integration of issues 11 and 12): `site build` raised KeyError on
    registry/<m>/versions/N/chat_template.jinja (and model.sig) and `make demo` exited 3."""
    root = tmp_path / "reg"
    init_registry(root, remote=str(tmp_path / "remote"))
    weights = write_weights(tmp_path / "w", seed=1)
    (weights / "chat_template.jinja").write_text("{% for m in messages %}{{ m.content }}{% endfor %}")
    with Registry(root) as reg:
        reg.register_model("chat", "base_model")
        reg.create_version("chat", weights)
        assert reg.git.read(reg.commit_of(), "registry/chat/versions/1/chat_template.jinja")
        build_site(reg, tmp_path / "site")
    assert "chat" in (tmp_path / "site" / "index.html").read_text()
