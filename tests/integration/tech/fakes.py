"""Small simulated devices for the probe tests: an ESC/POS printer and a customer display on
TCP (opened by the probes through pyserial's socket:// handler), and a bound UDP port standing
in for a simulated card that stays silent."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from tests.conftest import free_port


class FakeEscPosPrinter:
    """Answers DLE EOT n with the status bytes set on it; records everything it receives."""

    def __init__(self, *, printer: int = 0x12, cause: int = 0x12, paper: int = 0x12) -> None:
        self.status = {1: printer, 2: cause, 4: paper}
        self.silent = False
        self.received = bytearray()
        self.port = free_port()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                pending = b""
                while chunk := conn.recv(1024):
                    self.received += chunk
                    pending += chunk
                    while (start := pending.find(b"\x10\x04")) >= 0 and len(pending) > start + 2:
                        n = pending[start + 2]
                        pending = pending[start + 3 :]
                        if not self.silent and n in self.status:
                            conn.sendall(bytes([self.status[n]]))

    def close(self) -> None:
        self.server.close()


class FakeDisplay:
    """A customer display on TCP that echoes what it gets (or stays silent)."""

    def __init__(self, *, echo: bool = True) -> None:
        self.echo = echo
        self.received = bytearray()
        self.port = free_port()
        self.server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                while chunk := conn.recv(1024):
                    self.received += chunk
                    if self.echo:
                        conn.sendall(chunk)

    def close(self) -> None:
        self.server.close()


@contextmanager
def silent_udp_peer() -> Iterator[str]:
    """A bound UDP port that never answers: a simulated card slot with no card in it."""
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", port))
        yield f"udp:localhost:{port}"


def render_frames(folder: Path, count: int, size: tuple[int, int] = (640, 480)) -> str:
    """Write `count` numbered PNG frames; returns the OpenCV image-sequence pattern."""
    width, height = size
    for n in range(count):
        frame = np.full((height, width, 3), 40 * n % 255, dtype=np.uint8)
        cv2.putText(frame, str(n), (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
        cv2.imwrite(str(folder / f"frame-{n:03d}.png"), frame)
    return str(folder / "frame-%03d.png")


@contextmanager
def simulated_card(profile: str = "visa-credit") -> Iterator[str]:
    """`posterm sim card` in its own process on a free UDP port; yields the reader path."""
    import subprocess
    import sys
    import time

    port = free_port()
    path = f"udp:localhost:{port}"
    card = subprocess.Popen(
        [sys.executable, "-m", "terminal", "sim", "card", "--profile", profile, "--reader", path],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # ready once it has bound the port
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    break
            time.sleep(0.05)
        yield path
    finally:
        card.terminate()
        card.wait(10)


class PtyPrinter:
    """An ESC/POS printer behind a pseudo-terminal: the probe opens a real tty device node
    (/dev/pts/N) with termios, as it would /dev/ttyUSB0."""

    def __init__(self, status: int = 0x12) -> None:
        import os
        import tty

        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.status = status
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import os
        import select

        pending = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                pending += os.read(self.master, 1024)
            except OSError:
                return
            while (start := pending.find(b"\x10\x04")) >= 0 and len(pending) > start + 2:
                pending = pending[start + 3 :]
                os.write(self.master, bytes([self.status]))

    def close(self) -> None:
        import os

        self._stop.set()
        self.thread.join(2)
        os.close(self.master)
        os.close(self.slave)
