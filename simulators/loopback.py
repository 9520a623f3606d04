"""Free loopback ports for simulators started next to a terminal (tests, benchmarks, labs)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A free TCP port on 127.0.0.1 that /etc/services does not name (nfcpy's parser)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        try:
            socket.getservbyport(port)
        except OSError:
            return port
