"""Fleet fixtures: a publisher key named in registry.yaml, and its private half in the environment."""
import pytest

from tests.supply.conftest import set_policy

KEY_ENV = "MODELREG_FEED_KEY"


@pytest.fixture
def feed_key(monkeypatch):
    """(private, public): a fresh Ed25519 key pair, the private half in $MODELREG_FEED_KEY."""
    from modelreg.fleet.signing import keygen

    private, public = keygen()
    monkeypatch.setenv(KEY_ENV, private)
    return private, public


def trust_publisher(reg, public):
    set_policy(reg, "feed publishers", feed={"key_env": KEY_ENV, "publishers": [public]})


def open_remote(reg):
    """The weights remote main names, opened as a store (the caller closes it)."""
    from modelreg.artifacts.remote import open_store
    from modelreg.loading.weights import remote_at

    return open_store(remote_at(reg.at(), reg.root), jobs=1)


def promote(reg, model, version):
    reg.transition_stage(model, version, "staging")
    reg.transition_stage(model, version, "production")
