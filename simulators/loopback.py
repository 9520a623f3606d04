"""Free loopback ports for simulators started next to a terminal (tests, benchmarks, labs)."""

from __future__ import annotations

import random
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


def loopback_address_with(port: int) -> str:
    """A loopback address 127.a.b.c whose `port` is free right now.

    For clients with a fixed port (the nexo clients always dial 8443): Linux routes all of
    127.0.0.0/8 to the loopback interface, so each test terminal gets its own address without
    root and without colliding with other runs on the machine.
    """
    for _ in range(200):
        address = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        with socket.socket() as probe:
            try:
                probe.bind((address, port))
            except OSError:
                continue
        return address
    raise RuntimeError(f"no loopback address with port {port} free")
