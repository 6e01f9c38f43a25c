"""The static catalog site: `build_site(registry, out, at=None)` (see builder.py).

catalog (the records, check's problems and history at one commit), charts (chart and lineage
geometry), pages (what each page shows and depends on), builder (the incremental writer).
"""
from .builder import BuildResult, build_site

__all__ = ["BuildResult", "build_site"]
