"""modelreg's log records on stderr as `LEVEL: message`, for the click application and the fast path."""
import logging
import sys


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (tests swap it between invocations)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def setup_logging(level: int) -> None:
    """modelreg's log records on stderr as `LEVEL: message` (both paths)."""
    log = logging.getLogger("modelreg")
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        log.addHandler(handler)
    log.setLevel(level)
