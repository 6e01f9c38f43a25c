"""extras: which optional extra brings a module, read from the package metadata; require() refuses a missing one."""
import tomllib
from pathlib import Path

import pytest

from modelreg.core import extras
from modelreg.core.errors import ExternalError

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@pytest.fixture(autouse=True)
def fresh_cache():
    extras.extras.cache_clear()
    yield
    extras.extras.cache_clear()


@pytest.mark.parametrize("module, extra", [
    ("torch", "hf"), ("transformers", "hf"), ("peft", "hf"), ("peft.tuners", "hf"), ("safetensors", "hf"),
    ("huggingface_hub", "hf"), ("boto3", "s3"), ("botocore", "s3"), ("botocore.client", "s3"),
    ("dvc_s3", "s3"), ("model_signing", "supply"), ("OpenSSL", "supply"), ("picklescan", "supply"),
    ("cyclonedx", "supply"), ("sigstore", "supply"), ("jinja2", "site"), ("codeowners", "github"),
    ("gguf", "gguf"), ("mlflow", "mlflow"), ("yaml", None), ("pytest", None), ("os", None),
    ("", None), (None, None),
])
def test_extra_for(module, extra):
    assert extras.extra_for(module) == extra


def test_every_user_extra_in_pyproject_is_known():
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    wanted = set(declared) - extras.INTERNAL_EXTRAS
    assert wanted and wanted <= set(extras.extras().values()), wanted - set(extras.extras().values())
    assert "test" not in extras.extras().values()
    assert "modelreg" not in extras.extras(), "the self-reference gguf = [modelreg[hf], ...] is not a package"


def test_the_pyproject_fallback_agrees_with_the_installed_metadata(monkeypatch):
    installed = extras.extras()
    extras.extras.cache_clear()
    monkeypatch.setattr(extras, "_requirements", extras._source_requirements)
    assert extras.extras() == installed


def test_require_refuses_a_missing_module_naming_the_extra():
    with pytest.raises(ExternalError) as caught:
        extras.require("s3", ("no_such_module_for_modelreg_tests", "json"), "pushing weights")
    assert caught.value.hint == "extra" and caught.value.hint_args == {"extra": "s3", "install": extras.install_command("s3")}
    message = str(caught.value)
    assert "pushing weights needs no_such_module_for_modelreg_tests, from modelreg's s3 extra" in message
    assert "json" not in message, "only the missing module is named"


def test_require_passes_for_installed_modules():
    extras.require("site", ("json", "yaml.constructor"), "anything")


def test_installed_never_raises():
    assert extras.installed("json")
    assert not extras.installed("no_such_module_for_modelreg_tests")
    assert not extras.installed("no_such_module_for_modelreg_tests.sub")
    assert not extras.installed("json.no_such_submodule")


def test_normalize_is_pep_503():
    assert extras.normalize("Cyclonedx_Python.Lib") == "cyclonedx-python-lib"
