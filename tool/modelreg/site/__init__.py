"""The static catalog site: `build_site(registry, out, at=None)` (see builder.py)."""
from .builder import BuildResult, build_site

__all__ = ["BuildResult", "build_site"]
