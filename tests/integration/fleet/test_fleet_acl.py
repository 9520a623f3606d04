"""The broker's ACL (the one docs/fleet.md gives) keeps each terminal to its own topics: a
terminal's credentials cannot publish another terminal's status, nor read it."""

from __future__ import annotations

from tests.fixtures.mosquitto import OPERATOR, OPERATOR_PASSWORD, Broker
from tests.integration.fleet.mqtt_peer import Peer


def test_a_terminal_cannot_publish_another_terminals_status(mosquitto: Broker) -> None:
    mosquitto.add_user("POSA0001", "pw-a")
    mosquitto.add_user("POSB0001", "pw-b")
    with Peer(mosquitto, OPERATOR, OPERATOR_PASSWORD) as operator:
        operator.subscribe("posterm/#")
        with Peer(mosquitto, "POSA0001", "pw-a") as terminal_a:
            terminal_a.publish("posterm/SHOP1/POSB0001/status", {"online": False, "forged": 1})
            terminal_a.publish("posterm/SHOP1/POSA0001/status", {"online": True})
        # Messages of one connection arrive in order: A's own came, B's forgery never did.
        topic, message = operator.next_json()
        assert topic == "posterm/SHOP1/POSA0001/status"
        assert message == {"online": True}
        assert operator.messages.empty()


def test_a_terminal_cannot_read_another_terminals_topics(mosquitto: Broker) -> None:
    mosquitto.add_user("POSA0001", "pw-a")
    mosquitto.add_user("POSB0001", "pw-b")
    with Peer(mosquitto, "POSA0001", "pw-a") as terminal_a:
        terminal_a.subscribe("posterm/+/+/status")
        with Peer(mosquitto, "POSB0001", "pw-b") as terminal_b:
            terminal_b.publish("posterm/SHOP1/POSB0001/status", {"online": True})
        terminal_a.publish("posterm/SHOP1/POSA0001/status", {"online": True})
        topic, _ = terminal_a.next_json()
        assert topic == "posterm/SHOP1/POSA0001/status"
        assert terminal_a.messages.empty()  # B's came first, had A been allowed to read it
