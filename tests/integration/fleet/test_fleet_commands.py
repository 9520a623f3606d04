"""Signed commands through the real broker to a running `posterm serve`: each runs once and
answers with its figures; the same command id again gets the same answer without a second run;
a command signed by an unknown key, expired, or for another terminal is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from terminal.fleet.bundles import Target
from terminal.fleet.commands import sign_command
from tests.fixtures.mosquitto import OPERATOR, OPERATOR_PASSWORD, Broker
from tests.integration.fleet.conftest import MERCHANT, TERMINAL
from tests.integration.fleet.mqtt_peer import Peer
from tests.integration.fleet.terminals import posterm


def command(setup: dict[str, Any], *args: str) -> Any:
    return posterm(
        "--config", str(setup["operator"]), "fleet", "command", *args,
        "--key", str(setup["key"]), "--wait", "60", "--json",
    )  # fmt: skip


def test_commands_run_and_answer_with_their_figures(setup: dict[str, Any]) -> None:
    probe = command(setup, "probe", "--terminal", TERMINAL)
    assert probe.returncode == 0, probe.stdout + probe.stderr
    answer = json.loads(probe.stdout)
    assert answer["result"] == "done"
    assert answer["details"]["gateway"] == {"healthy": True, "problem": ""}
    assert answer["details"]["devices"]["nfc"] == "none"

    flush = command(setup, "saf-flush", "--merchant", MERCHANT)
    assert flush.returncode == 0, flush.stdout + flush.stderr
    assert json.loads(flush.stdout)["details"] == {"sent": 0, "declined": 0, "parked": 0, "left": 0}

    batch = command(setup, "close-batch", "--terminal", TERMINAL)
    assert batch.returncode == 0, batch.stdout + batch.stderr
    assert json.loads(batch.stdout)["details"]["result"] == "balanced"

    reload = command(setup, "reload-status", "--terminal", TERMINAL)
    assert reload.returncode == 0 and json.loads(reload.stdout)["result"] == "done"

    unknown = command(setup, "probe", "--terminal", "NOBODY01")
    assert unknown.returncode == 3
    assert "NOBODY01 unknown" in unknown.stdout


def test_same_id_answers_again_and_bad_commands_are_refused(
    setup: dict[str, Any], mosquitto: Broker
) -> None:
    own = json.loads(setup["key"].read_text())
    later = datetime.now(UTC) + timedelta(minutes=5)
    base = f"posterm/{MERCHANT}/{TERMINAL}/command"
    assert posterm("fleet", "keys", "init", "--out", str(setup["tmp"] / "rogue")).returncode == 0
    rogue = json.loads((setup["tmp"] / "rogue" / "fleet-operator.jwk").read_text())
    with Peer(mosquitto, OPERATOR, OPERATOR_PASSWORD) as peer:
        peer.subscribe(f"{base}/result")

        def ask(token: str) -> dict[str, Any]:
            peer.client.publish(base, token, qos=1).wait_for_publish(10)
            return peer.next_json(timeout_s=60)[1]

        command_id, token = sign_command(
            own, "close-batch", target=Target(merchant=MERCHANT), version=100, expires_at=later
        )
        first = ask(token)
        assert first["result"] == "done" and first["id"] == command_id
        again = ask(token)
        assert again == first  # the stored answer: the batch was not closed twice

        refused = [
            (sign_command(rogue, "probe", target=Target(merchant=MERCHANT), version=101,
                          expires_at=later)[1], "does not trust"),
            (sign_command(own, "probe", target=Target(merchant=MERCHANT), version=102,
                          expires_at=datetime.now(UTC) - timedelta(seconds=1))[1], "expired"),
            (sign_command(own, "probe", target=Target(terminals=("OTHER001",)), version=103,
                          expires_at=later)[1], f"for other terminals, not {TERMINAL}"),
            (sign_command(own, "probe", target=Target(merchant=MERCHANT), version=99,
                          expires_at=later)[1], "not newer than the last command's version 100"),
        ]  # fmt: skip
        for token, sentence in refused:
            answer = ask(token)
            assert answer["result"] == "refused", answer
            assert sentence in answer["sentence"]
