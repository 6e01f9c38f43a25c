"""modelreg: a Git-native model registry.

Heavy modules (jsonschema, GitPython, DVC, boto3, torch) load only when used, so
`import modelreg` stays fast.
"""
from .core.errors import (AlreadyExists, ExternalError, IntegrityError, InvalidInput, InvalidRecord, NotFound,
                          PolicyViolation, RegistryError)
from .registry import Registry, init_registry
from .store.reads import Resolved

__version__ = "0.1.0"


def __getattr__(name):
    # The loader pulls in torch/transformers: import it only when asked for.
    if name in ("load", "load_adapters", "unload"):
        from .loading import loader

        return getattr(loader, name)
    raise AttributeError(name)


__all__ = ["Registry", "Resolved", "init_registry", "load", "RegistryError", "NotFound",
           "AlreadyExists", "InvalidInput", "InvalidRecord", "PolicyViolation", "IntegrityError",
           "ExternalError"]
