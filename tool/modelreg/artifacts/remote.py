"""Opening the store behind a DVC remote: S3, GCS or Azure Blob Storage (objstore.py, the only
obstore user) or a folder (local.py).

A store exposes the few operations pull, push, verify and doctor need on the DVC 3 layout
`<remote>/files/md5/<2>/<30>[.dir]`: `check()` access, `size`/`sizes` of objects, `read` a
small one, `stream` a big one in order, `download` one in chunks handed over with their
offsets, `upload`, `list_objects`, `delete`, `close`.
"""
from pathlib import Path

from ..core.errors import InvalidInput
from .config import RemoteConfig


def open_store(config: RemoteConfig, jobs: int | None = None):
    if config.is_cloud:
        from .objstore import ObjStore

        return ObjStore(config, jobs=jobs)
    if "://" in config.url:
        raise InvalidInput(f"remote {config.name}: {config.url} is not supported; use s3://, gs://, azure:// "
                           "or a local folder")
    from .local import LocalStore

    return LocalStore(Path(config.url))
