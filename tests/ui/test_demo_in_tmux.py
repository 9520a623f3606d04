"""The real `posterm demo` in a real terminal: tmux at 80 × 24, keys typed with send-keys, the
screen read with capture-pane. The demo starts its gateway simulator and simulated devices
itself; F6 taps the simulated Visa card on the simulated NFC reader. With mosquitto installed
it starts a local broker too, and the demo terminal shows in `posterm fleet status`."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO_PORTS = (18443, 18445, 18446, 18765, 18883)
_SESSIONS = itertools.count()

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Pane:
    def __init__(self, command: list[str]) -> None:
        self.tmux = ["tmux", "-L", f"posterm-test-{os.getpid()}-{next(_SESSIONS)}"]
        shell = " ".join(f"'{part}'" for part in command)
        subprocess.run(
            [*self.tmux, "new-session", "-d", "-x", "80", "-y", "24", "-s", "demo", shell],
            check=True,
            cwd=REPO,
            env={**os.environ, "TERM": "xterm-256color"},
        )

    def text(self) -> str:
        return subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-t", "demo"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    def wait_for(self, words: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.text()
            if words in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{words!r} did not appear; the screen shows:\n{self.text()}")

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", "demo", *keys], check=True)

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def demo() -> Iterator[Pane]:
    busy = [port for port in DEMO_PORTS if port_in_use(port)]
    if busy:
        pytest.skip(f"a posterm demo is already running here (ports {busy} in use)")
    pane = Pane([sys.executable, "-m", "terminal", "demo"])
    try:
        yield pane
    finally:
        pane.keys("C-q")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(port_in_use(p) for p in DEMO_PORTS):
            time.sleep(0.2)
        pane.close()


def test_demo_takes_a_tapped_card_to_approved(demo: Pane) -> None:
    demo.wait_for("Type the amount", timeout=90)
    demo.keys("1", "2", "3", "4")
    demo.keys("Enter")
    screen = demo.wait_for("Tip for", timeout=10)  # the demo site offers tips
    assert "EUR 12.34" in screen
    demo.keys("0")  # no tip
    demo.wait_for("Present card", timeout=20)
    demo.keys("F6")  # the customer taps the simulated Visa card
    screen = demo.wait_for("Approved", timeout=45)
    assert "Auth code" in screen
    assert "476173******0010" in screen  # the masked PAN of the simulated card
    assert "4761739001010010" not in screen  # never the full one


def test_demo_terminal_appears_in_fleet_status(demo: Pane) -> None:
    import json

    from simulators.broker import mosquitto_installed

    if not mosquitto_installed():
        pytest.skip("the demo runs with the fleet off without mosquitto")
    demo.wait_for("Type the amount", timeout=90)
    operator = REPO / "config" / "demo-operator.toml"
    deadline = time.monotonic() + 30
    statuses: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        done = subprocess.run(
            [sys.executable, "-m", "terminal", "--config", str(operator), "fleet", "status",
             "--json"],
            cwd=REPO, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        statuses = [s for s in json.loads(done.stdout) if s["terminal_id"] == "DEMO0001"]
        if statuses and statuses[0]["online"] is True:
            break
        time.sleep(0.5)
    assert statuses and statuses[0]["online"] is True, statuses
    assert statuses[0]["merchant_id"] == "DEMOMERCHANT001"
