"""`remote set`: point the registry's DVC remote elsewhere (one commit of .dvc/config)."""
from ..core.errors import InvalidInput

DVC_CONFIG = ".dvc/config"


def set_remote(tree, url: str, endpoint_url: str | None = None) -> dict:
    """Change the DVC remote's URL (and endpoint) in .dvc/config and commit that one file."""
    from ..artifacts import dvc
    from ..artifacts.config import checked_url, show_remote, worktree_config

    url = checked_url(url, endpoint_url)
    name = tree.settings.remote_name
    with tree.write_lock():
        if tree.git.dirty_paths([DVC_CONFIG]):
            raise InvalidInput(f"uncommitted changes in {DVC_CONFIG}; commit or discard them first")
        dvc.set_remote(tree.root, name, url, endpoint_url)
        tree.git.commit_paths([DVC_CONFIG], f"modelreg: set remote {name} to {url}\n\nModelreg-Action: remote.set")
    return show_remote(worktree_config(tree.root, name))
