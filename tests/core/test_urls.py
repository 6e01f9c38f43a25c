"""core/urls: a URL as it may be recorded, printed or published (issue 19 item 11)."""
import pytest

from modelreg.core.urls import has_credentials, redact_url, scrub, scrub_text


@pytest.mark.parametrize("url,shown", [
    ("https://alice:s3cr3t@git.example.com/org/r.git", "https://git.example.com/org/r.git"),
    ("https://ghp_abcdef@github.com/org/r", "https://github.com/org/r"),
    ("http://bob:pw@127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F&X-Amz-Signature=abc",
     "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4"),
    ("https://acct.blob.core.windows.net/c/m?sv=2024&sig=abc%3D", "https://acct.blob.core.windows.net/c/m?sv=2024"),
    ("https://storage.googleapis.com/b/o?X-Goog-Signature=ff&x=1", "https://storage.googleapis.com/b/o?x=1"),
    ("https://host/p?access_token=t&token=u#frag", "https://host/p#frag"),
    ("runs:/abc/model?token=tok", "runs:/abc/model"),
    ("https://user@host:8443?api_key=k", "https://host:8443"),
])
def test_userinfo_and_credential_parameters_are_dropped(url, shown):
    assert redact_url(url) == shown and has_credentials(url)
    assert redact_url(shown) == shown  # idempotent


@pytest.mark.parametrize("url", [
    "s3://bucket/run-1/", "mlflow-artifacts:/1/abc/artifacts/model", "git@github.com:org/repo.git",
    "/srv/models/x", "sqlite:///tmp/mlflow.db", "https://host/p?a=1&b=2", "models:/llama@champion", None, 3,
])
def test_anything_without_credentials_is_unchanged(url):
    assert redact_url(url) == url and not has_credentials(url)


def test_text_and_nested_values_are_scrubbed():
    text = "cannot reach MLflow at http://bob:pw@127.0.0.1:9: refused; see https://h/x?sig=abc."
    assert scrub_text(text) == "cannot reach MLflow at http://127.0.0.1:9: refused; see https://h/x."
    doc = {"source": {"uri": "https://u:p@h/x"}, "list": ["ok", "s3://b?token=z"], "n": 1}
    assert scrub(doc) == {"source": {"uri": "https://h/x"}, "list": ["ok", "s3://b"], "n": 1}
