"""A till retrying its POST after `posterm serve` restarted gets the payment it already made,
however many payments with a look-alike reference came after it (finding 2: ORD-7 was found by
a substring search among the last 20 rows, so ORD-70..79 and ORD-700..709 hid it and the retry
was charged a second time)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from simulators.card.present import present_card, simulated_card
from tests.conftest import free_port
from tests.integration.ecr.test_serve_real_engine import REPO, TOKEN, wait_listening

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


@contextmanager
def serving(config: Path, base: str, log: Path) -> Iterator[None]:
    """`posterm serve` in its own process until the block ends, then SIGTERM (exit 0)."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "terminal", "--config", str(config), "serve"],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "POSTERM_LOGGING__TARGET": "stderr"},
        )
    try:
        wait_listening(f"{base}/ecr/v1/status", process, log)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()  # never leave a terminal running behind a failed test
            process.wait()
            raise AssertionError("serve did not stop: " + log.read_text(errors="replace")) from None
    assert code == 0, log.read_text(errors="replace")


def sale(reference: str, value: int, method: str = "nfc") -> dict[str, Any]:
    return {
        "amount": {"value": value, "currency": "EUR"},
        "method": method,
        "reference": reference,
    }


def pay_by_card(base: str, reader: str, reference: str, value: int) -> dict[str, Any]:
    created = httpx.post(f"{base}/ecr/v1/payments", headers=HEADERS, json=sale(reference, value))
    assert created.status_code == 202, created.text
    tap = threading.Thread(
        target=present_card,
        args=(simulated_card("visa-credit"), reader),
        kwargs={"taps": 1, "duration_s": 20},
    )
    tap.start()
    done: dict[str, Any] = httpx.get(
        f"{base}/ecr/v1/payments/{created.json()['id']}?wait=30", headers=HEADERS, timeout=40
    ).json()
    tap.join(timeout=20)
    assert done["result"] == "approved", done
    return done


def start_and_cancel(base: str, reference: str, value: int) -> None:
    """A sale with this reference that the till cancels while the terminal waits for the card:
    a journal row with the reference, nothing charged."""
    created = httpx.post(f"{base}/ecr/v1/payments", headers=HEADERS, json=sale(reference, value))
    assert created.status_code == 202, created.text
    payment = f"{base}/ecr/v1/payments/{created.json()['id']}"
    assert httpx.delete(payment, headers=HEADERS).status_code == 202
    done = httpx.get(f"{payment}?wait=20", headers=HEADERS, timeout=30).json()
    assert done["result"] == "cancelled", done


def test_retry_after_restart_is_the_first_payment_despite_look_alike_references(
    gateway_sim: Any, tmp_path: Path
) -> None:
    port = free_port()
    reader = f"udp:localhost:{free_port()}"
    config = gateway_sim.terminal_config(
        tmp_path,
        terminal_id="KIOSK007",
        devices={"nfc": reader},
        ecr={"enabled": True, "listen": f"127.0.0.1:{port}", "token": TOKEN},
        gateway={"timeout_s": 3.0, "connect_timeout_s": 1.0},
    )
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"

    with serving(config, base, log):
        first = pay_by_card(base, reader, "ORD-7", 1007)
        look_alike = pay_by_card(base, reader, "ORD-70", 1070)
        # 19 more rows whose reference contains "ORD-7": with ORD-70 they are the 20 newest
        # matches of a substring search, which is all the old rule looked at.
        for n, reference in enumerate(
            [f"ORD-{n}" for n in range(71, 80)] + [f"ORD-{n}" for n in range(700, 710)]
        ):
            start_and_cancel(base, reference, 2000 + n)

    with serving(config, base, log):
        retry = httpx.post(f"{base}/ecr/v1/payments", headers=HEADERS, json=sale("ORD-7", 1007))
        assert retry.status_code == 202, retry.text
        assert retry.json() == {"id": first["transaction_id"], "state": "completed"}
        shown = httpx.get(f"{base}{retry.headers['Location']}", headers=HEADERS).json()
        assert shown["result"] == "approved" and shown["auth_code"] == first["auth_code"]

        again = httpx.post(f"{base}/ecr/v1/payments", headers=HEADERS, json=sale("ORD-70", 1070))
        assert again.json()["id"] == look_alike["transaction_id"]

        for changed in (sale("ORD-7", 1008), sale("ORD-7", 1007, "qr-show")):
            other = httpx.post(f"{base}/ecr/v1/payments", headers=HEADERS, json=changed)
            assert other.status_code == 409, other.text
            assert other.json()["error"] == "reference_conflict"
            assert first["transaction_id"] in other.json()["message"]

        status = httpx.get(f"{base}/ecr/v1/status", headers=HEADERS).json()
        assert status["payment_in_progress"] is None  # nothing was started by the retries

    charges = [e for e in gateway_sim.ledger("KIOSK007") if e["result"] == "approved"]
    assert [e["id"] for e in charges if e["id"] == first["transaction_id"]] == [
        first["transaction_id"]
    ]
    assert sorted(e["amount"]["value"] for e in charges) == [1007, 1070]
