"""Security alarms reach the fleet: a running `posterm serve` reports a burst of wrong ECR
tokens, a supervisor PIN lockout (its own ECR door), a technician PIN lockout (a `posterm config
set` in another process) and a bank answer that does not verify as `security_alarm` events on
`.../events` of the real broker, each once, and no event carries the PIN, the token or the
card number."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from joserfc.jwk import OKPKey

from simulators.loopback import free_port
from tests.fixtures.mosquitto import OPERATOR, OPERATOR_PASSWORD, Broker
from tests.integration.fleet.mqtt_peer import Peer
from tests.integration.fleet.terminals import TOKEN, Serve, ecr_listening, till_sale, wait_for

MERCHANT = "SHOP66"
TERMINAL = "ALARM001"
PIN = "246810"
VISA_PAN = "4761739001010010"
SEEN: list[dict[str, Any]] = []
"""Every event the watcher took, in order."""


def alarms_of(watcher: Peer, wanted: str, *, timeout_s: float = 60) -> tuple[dict[str, Any], bytes]:
    """The next `security_alarm` of kind `wanted` (other events are skipped), with its bytes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            _, payload = watcher.messages.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        event = json.loads(payload)
        SEEN.append(event)
        if event.get("event") == "security_alarm" and event.get("alarm") == wanted:
            return event, payload
    raise AssertionError(f"no {wanted} alarm within {timeout_s} s")


def test_token_burst_pin_lockout_and_forged_answer_are_reported(
    gateway_sim: Any, mosquitto: Broker, tmp_path: Path
) -> None:
    mosquitto.add_user(TERMINAL, "pw-alarm")
    # The terminal pins a gateway signing key the simulator does not hold: every answer the
    # real simulator signs is, for this terminal, a forgery.
    rogue = tmp_path / "rogue-gateway-signing.jwk"
    rogue.write_text(json.dumps(OKPKey.generate_key("Ed25519").as_dict(private=False)))
    port, reader = free_port(), f"udp:localhost:{free_port()}"
    config = gateway_sim.terminal_config(
        tmp_path,
        terminal_id=TERMINAL,
        merchant_id=MERCHANT,
        fleet=mosquitto.fleet(TERMINAL, "pw-alarm", heartbeat_s=2),
        devices={"nfc": reader},
        ecr={
            "enabled": True,
            "listen": f"127.0.0.1:{port}",
            "token": TOKEN,
            "refunds": "supervisor_pin",
        },
        ui={
            "supervisor_pin_hash": PasswordHasher().hash(PIN),
            "technician_pin_hash": PasswordHasher().hash(PIN),
        },
        gateway={"timeout_s": 2.0, "connect_timeout_s": 1.0, "signing_key": str(rogue)},
    )
    serve = Serve(config, tmp_path / "serve-alarm.log")
    received: list[bytes] = []
    try:
        with Peer(mosquitto, OPERATOR, OPERATOR_PASSWORD) as watcher:
            watcher.subscribe(f"posterm/{MERCHANT}/{TERMINAL}/events")
            wait_for(lambda: ecr_listening(port), "the ECR API", serve=serve)
            wait_for(lambda: "fleet: connected" in serve.output() or _status_seen(mosquitto),
                     "the terminal on the broker", serve=serve)  # fmt: skip
            base = f"http://127.0.0.1:{port}/ecr/v1"

            guesses = [f"guess-{n:04d}-0123456789" for n in range(6)]
            for guess in guesses:
                answer = httpx.get(
                    f"{base}/status", headers={"Authorization": f"Bearer {guess}"}, timeout=5
                )
                assert answer.status_code == 401
            burst, raw = alarms_of(watcher, "ecr_bad_token_burst")
            received.append(raw)
            assert burst["terminal_id"] == TERMINAL and burst["merchant_id"] == MERCHANT
            assert burst["refused"] == 5 and burst["last_from"] == "127.0.0.1"

            headers = {"Authorization": f"Bearer {TOKEN}"}
            for wrong in ("000000", "111111", "222222"):
                refused = httpx.post(
                    f"{base}/payments/SOMESALE/refund",
                    headers=headers,
                    json={"supervisor_pin": wrong},
                    timeout=30,
                )
                assert refused.status_code == 403, refused.text
            assert "locked" in refused.json()["message"]
            lockout, raw = alarms_of(watcher, "pin_lockout")
            received.append(raw)
            assert lockout["role"] == "supervisor" and lockout["failures"] == 3
            assert lockout["locked_for_s"] == 30

            # A technician command in another process, guessing the technician PIN: the
            # lockout is shared through the attempts file and reported by the running terminal.
            for wrong in ("000000", "111111", "222222"):
                guess = subprocess.run(
                    [sys.executable, "-m", "terminal", "--config", str(config), "config", "set",
                     "ui.language", "de", "--pin-stdin"],
                    input=f"{wrong}\n", capture_output=True, text=True, timeout=60,
                )  # fmt: skip
                assert guess.returncode != 0, guess.stdout
            assert "locked" in guess.stderr
            technician, raw = alarms_of(watcher, "pin_lockout")
            received.append(raw)
            assert technician["role"] == "technician" and technician["failures"] == 3

            done = till_sale(port, reader, 1999, "FORGED-1")
            assert done["result"] != "approved", done  # an answer that does not verify is none
            forged, raw = alarms_of(watcher, "forged_bank_answer")
            received.append(raw)
            assert forged["link"] == "posterm-v1"
            assert "verif" in forged["reason"] or "signature" in forged["reason"]
            try:  # what else came: a lockout reported twice would be here
                while True:
                    SEEN.append(json.loads(watcher.messages.get(timeout=3)[1]))
            except queue.Empty:
                pass
            lockouts = [e["role"] for e in SEEN if e.get("alarm") == "pin_lockout"]
            assert sorted(lockouts) == ["supervisor", "technician"]  # each reported once
    finally:
        assert serve.stop() == 0, serve.output()
    everything = b"".join(received)
    for secret in (PIN.encode(), TOKEN.encode(), VISA_PAN.encode(), b"000000", b"guess-"):
        assert secret not in everything
    assert "security alarm ecr_bad_token_burst reported" in serve.output()


def _status_seen(mosquitto: Broker) -> bool:
    with Peer(mosquitto, OPERATOR, OPERATOR_PASSWORD) as peer:
        peer.subscribe(f"posterm/{MERCHANT}/{TERMINAL}/status")
        try:
            peer.next_json(timeout_s=1)
        except Exception:
            return False
    return True
