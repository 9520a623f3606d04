"""`posterm serve` under a stand-in for systemd: READY=1 once up, WATCHDOG=1 at half the
watchdog interval from its event loop, STOPPING=1 on SIGTERM, then a clean exit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.fixtures.gateway_sim import GatewaySim

REPO = Path(__file__).resolve().parents[3]


def receive(sock: socket.socket, until: float, stop_at: str = "") -> list[str]:
    found: list[str] = []
    while time.monotonic() < until and (not stop_at or stop_at not in found):
        sock.settimeout(max(0.01, until - time.monotonic()))
        try:
            found.append(sock.recv(4096).decode())
        except TimeoutError:
            break
    return found


def test_serve_reports_ready_feeds_the_watchdog_and_says_stopping(
    tmp_path: Path, gateway_sim_module: GatewaySim
) -> None:
    config = gateway_sim_module.terminal_config(
        tmp_path, terminal_id="SERVE001", devices={"nfc": "none"}
    )
    notify = tmp_path / "notify.socket"
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind(str(notify))
    env = {**os.environ, "NOTIFY_SOCKET": str(notify), "WATCHDOG_USEC": "400000"}
    serve = subprocess.Popen(
        [sys.executable, "-m", "terminal", "--config", str(config), "serve"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        manager.settimeout(60)
        first = manager.recv(4096).decode()
        assert first.startswith("READY=1\nSTATUS=terminal SERVE001 ready"), first
        fed = receive(manager, time.monotonic() + 1.0)
        assert 3 <= fed.count("WATCHDOG=1") <= 7, fed
        serve.send_signal(signal.SIGTERM)
        rest = receive(manager, time.monotonic() + 20, stop_at="STOPPING=1")
        assert "STOPPING=1" in rest
        assert serve.wait(30) == 0, serve.stderr.read() if serve.stderr else ""
    finally:
        if serve.poll() is None:
            serve.kill()
        manager.close()


def test_operator_screen_reports_ready_and_feeds_the_watchdog_on_a_console(
    tmp_path: Path, gateway_sim_module: GatewaySim
) -> None:
    import pty
    import threading

    config = gateway_sim_module.terminal_config(
        tmp_path, terminal_id="KIOSK001", devices={"nfc": "none"}
    )
    notify = tmp_path / "notify.socket"
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind(str(notify))
    master, console = pty.openpty()  # stands in for /dev/tty1
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(notify),
        "WATCHDOG_USEC": "400000",
        "TERM": "linux",
        "COLUMNS": "80",
        "LINES": "24",
    }
    screen = subprocess.Popen(
        [sys.executable, "-m", "terminal", "--config", str(config), "run"],
        cwd=REPO,
        env=env,
        stdin=console,
        stdout=console,
        stderr=console,
        start_new_session=True,
    )
    drained = threading.Thread(target=_drain, args=(master,), daemon=True)
    drained.start()
    try:
        manager.settimeout(60)
        first = manager.recv(4096).decode()
        assert first == "READY=1\nSTATUS=operator screen of terminal KIOSK001 ready", first
        fed = receive(manager, time.monotonic() + 1.0)
        assert 3 <= fed.count("WATCHDOG=1") <= 7, fed
    finally:
        screen.kill()
        screen.wait(10)
        os.close(console)
        os.close(master)
        manager.close()


def _drain(fd: int) -> None:
    """Read the screen's output so the console never fills up."""
    while True:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return
