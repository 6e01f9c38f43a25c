"""Loopback ports for the suite's servers, without the race that `bind(0)`-then-close has.

Probing with `bind(("127.0.0.1", 0))` returns a port from the kernel's ephemeral range, the same
range every outgoing connection (boto3, git, a browser) takes its source port from: between
the probe and the server's own bind, any of those may take it ("bind: address already in use",
issue 20). So ports are picked below the ephemeral range, where no outgoing connection lands,
and claimed with a lock file for this process's lifetime, so two test runs on one machine never
pick the same block either.
"""
import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path

_CLAIMS: list = []  # open lock files: a claim lasts as long as the process
_LOW = 20000


def ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 49152, 65535  # the IANA range, what macOS and Windows use


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def claim_block(count: int = 1) -> int:
    """A port P with P..P+count-1 free on loopback, outside the ephemeral range, claimed by this process."""
    low, _high = ephemeral_range()
    top = low - count if low - count > _LOW + 1000 else 65535 - count
    bottom = _LOW if top < low else max(ephemeral_range()[1] + 1, _LOW)
    claims = Path(tempfile.gettempdir()) / "modelreg-test-ports"
    claims.mkdir(exist_ok=True)
    rng = random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), "little"))
    for _ in range(500):
        base = rng.randrange(bottom, top) // 10 * 10
        lock = open(claims / f"{base}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        if all(port_free(base + i) for i in range(count)):
            _CLAIMS.append(lock)
            return base
        lock.close()
    raise RuntimeError(f"no block of {count} free loopback ports between {bottom} and {top}")
