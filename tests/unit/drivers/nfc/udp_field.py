"""Test helper: wait until a simulated card listens on its UDP port, so the reader's first poll
finds it (nfcpy's UDP reader otherwise waits a full second for an answer that cannot come)."""

from __future__ import annotations

import time
from pathlib import Path


def listening(port: int) -> bool:
    """True when a UDP socket is bound to `port` (Linux /proc/net/udp and udp6)."""
    wanted = f":{port:04X}"
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        if any(line.split()[1].endswith(wanted) for line in lines if len(line.split()) > 1):
            return True
    return False


def wait_listening(path: str, timeout: float = 15.0) -> None:
    """Block until the card for reader path `udp:HOST:PORT` listens (or `timeout` passes)."""
    port = int(path.rsplit(":", 1)[1])
    deadline = time.monotonic() + timeout
    while not listening(port) and time.monotonic() < deadline:
        time.sleep(0.01)
