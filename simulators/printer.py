"""A fake ESC/POS printer on a TCP port, for `socket://127.0.0.1:PORT` in tests and the demo.

It records every byte it is sent and answers the real-time status requests (DLE EOT n) the way
a printer does, so out-of-paper and offline can be simulated. Run it alone with
`python -m simulators.printer --port 9100 --out receipts.bin`.
"""

from __future__ import annotations

import argparse
import socket
import threading
from pathlib import Path
from types import TracebackType

# Status bytes a healthy printer sends: fixed bits 0b0xx1xx10.
ONLINE = 0x12
PAPER_PRESENT = 0x12
PAPER_OUT = 0x12 | 0x60
PRINTER_OFFLINE = 0x12 | 0x08


class FakePrinter:
    """A TCP printer; `received` holds everything printed so far.

    Each connection is served on its own thread, so a technician's `posterm devices probe` is
    answered while the terminal keeps its own connection open (as a print server does).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, out: Path | None = None) -> None:
        self._server = socket.create_server((host, port))
        self._server.settimeout(0.2)
        self.host, self.port = self._server.getsockname()[:2]
        self.out = out
        self.paper = True
        self.online = True
        self.answers_status = True
        """False: behaves like a printer that is switched off behind a serial server."""
        self._received = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-printer", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    @property
    def received(self) -> bytes:
        with self._lock:
            return bytes(self._received)

    def clear(self) -> None:
        with self._lock:
            self._received.clear()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(
                target=self._serve_client, args=(conn,), name="fake-printer-client", daemon=True
            ).start()

    def _serve_client(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.2)
            self._client(conn)

    def _client(self, conn: socket.socket) -> None:
        pending = b""
        while not self._stop.is_set():
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            pending += data
            # Status requests are answered at once and are not part of the printout.
            while True:
                index = pending.find(b"\x10\x04")
                if index < 0 or index + 2 >= len(pending):
                    break
                kind = pending[index + 2]
                self._record(pending[:index])
                pending = pending[index + 3 :]
                if self.answers_status:
                    conn.sendall(bytes([self._status(kind)]))
            keep = 2 if pending.endswith(b"\x10\x04") else 1 if pending.endswith(b"\x10") else 0
            self._record(pending[: len(pending) - keep])
            pending = pending[len(pending) - keep :]

    def _status(self, kind: int) -> int:
        if kind == 4:
            return PAPER_PRESENT if self.paper else PAPER_OUT
        if kind == 1:
            return ONLINE if self.online else PRINTER_OFFLINE
        return ONLINE

    def _record(self, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            self._received += data
        if self.out is not None:
            with self.out.open("ab") as handle:
                handle.write(data)

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(timeout=2)

    def __enter__(self) -> FakePrinter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake ESC/POS printer on a TCP port.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", type=Path, help="append printed bytes to this file")
    args = parser.parse_args()
    printer = FakePrinter(args.host, args.port, args.out)
    print(f"fake printer at {printer.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        printer.close()


if __name__ == "__main__":
    main()
