"""Progress is the caller's business: the core reports through a callback and never renders.

A progress callback is `progress(phase, total_bytes) -> bar`, where `bar.update(n)` is called
as bytes go by and `bar.close()` at the end (a tqdm bar fits; the CLI supplies one).
"""


class _Silent:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Bar(_Silent):
    """The caller's bar, usable in a `with` whether or not it is a context manager itself."""

    def __init__(self, bar):
        self.bar = bar

    def update(self, n: int) -> None:
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def start(progress, phase: str, total: int):
    """The caller's bar for `phase`, or a silent one when there is no callback."""
    return _Bar(progress(phase, total)) if progress else _Silent()
