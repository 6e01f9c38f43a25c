"""Skips are expected only where the machine cannot run a test: a missing optional package
skips with a reason locally, but CI (MODELREG_STRICT_SKIPS=1, set by .ci/run) installs
everything, so there any skip whose reason is not listed here fails the run."""
import os

import pytest

EXPECTED = ("needs a CUDA GPU",)  # CI machines have no GPU; bench/gpu_check.py covers it on one
_skipped: list[tuple[str, str]] = []


def pytest_runtest_logreport(report):
    if report.skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        _skipped.append((report.nodeid, reason.removeprefix("Skipped: ")))


def unexpected(skipped) -> list[tuple[str, str]]:
    return [(node, reason) for node, reason in skipped if not reason.startswith(EXPECTED)]


def pytest_sessionfinish(session):
    if not os.environ.get("MODELREG_STRICT_SKIPS"):
        return
    found = unexpected(_skipped)
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"{len(found)} unexpected skip(s) under MODELREG_STRICT_SKIPS:", red=True)
            for node, reason in found:
                reporter.write_line(f"  {node}: {reason}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
