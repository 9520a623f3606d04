"""Helpers of the fleet tests: real `posterm serve` processes and real `posterm fleet` runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fixtures.mosquitto import OPERATOR as OPERATOR  # re-exported for the tests
from tests.fixtures.mosquitto import Broker

REPO = Path(__file__).resolve().parents[3]


def posterm(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "terminal", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "POSTERM_LOGGING__TARGET": "stderr"},
    )


class Serve:
    """One `posterm serve` process of a terminal configured for the fleet."""

    def __init__(self, config: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "terminal", "--config", str(config), "serve"],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "POSTERM_LOGGING__TARGET": "stderr", **(env or {})},
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no goodbye, only the broker's last will
        self.process.wait(timeout=10)


def operator_config(broker: Broker, folder: Path, **fleet: Any) -> Path:
    """The technician's site file: the operator's account on the broker."""
    from terminal.settings.toml_text import tables_text

    path = folder / "operator.toml"
    path.write_text(
        tables_text(
            {
                "terminal": {"data_dir": str(folder / "operator-data")},
                "fleet": broker.operator_fleet(**fleet),
            }
        )
        + "\n",
        encoding="utf-8",
    )
    return path


def fleet_status(config: Path, *extra: str) -> list[dict[str, Any]]:
    run = posterm("--config", str(config), "fleet", "status", "--json", *extra)
    assert run.returncode == 0, run.stderr
    statuses: list[dict[str, Any]] = json.loads(run.stdout)
    return statuses


def wait_for(
    probe: Callable[[], Any], what: str, timeout_s: float = 30, serve: Serve | None = None
) -> Any:
    """Poll `probe` until it returns something true; fail saying `what` was not seen."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.3)
    detail = f"\n--- serve log ---\n{serve.output()}" if serve is not None else ""
    raise AssertionError(f"{what} not seen within {timeout_s} s (last: {last!r}){detail}")


TOKEN = "fleet-till-token-0123456789"


def till_sale(
    port: int, reader: str, minor: int, reference: str, card: str = "visa-credit"
) -> dict[str, Any]:
    """A card sale through the ECR API with the simulated card tapped: the answer the till
    sees at the end."""
    import threading

    import httpx

    from simulators.card.present import present_card, simulated_card

    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    created = httpx.post(
        f"{base}/ecr/v1/payments",
        headers=headers,
        json={
            "amount": {"value": minor, "currency": "EUR"},
            "method": "nfc",
            "reference": reference,
        },
    )
    assert created.status_code == 202, created.text
    tap = threading.Thread(
        target=present_card,
        args=(simulated_card(card), reader),
        kwargs={"taps": 1, "duration_s": 20},
    )
    tap.start()
    done: dict[str, Any] = httpx.get(
        f"{base}/ecr/v1/payments/{created.json()['id']}?wait=40", headers=headers, timeout=50
    ).json()
    tap.join(timeout=20)
    return done


def ecr_status(port: int) -> dict[str, Any]:
    import httpx

    answer: dict[str, Any] = httpx.get(
        f"http://127.0.0.1:{port}/ecr/v1/status",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    ).json()
    return answer


def ecr_listening(port: int) -> bool:
    import httpx

    try:
        ecr_status(port)
    except httpx.HTTPError:
        return False
    return True
