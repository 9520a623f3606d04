"""`posterm demo` without the mosquitto package still runs: the stack says why the fleet is off
and starts no broker (the command then turns `[fleet]` off and prints the reason)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import simulators.broker
from simulators.demo import DEMO_CONFIG, DEMO_OPERATOR_CONFIG, DemoStack
from terminal.settings import Settings, load_settings


def demo_fleet() -> Settings:
    """The demo site's [fleet] (the rest of demo.toml names files the running demo makes)."""
    return Settings.model_validate({"fleet": tomllib.loads(DEMO_CONFIG.read_text())["fleet"]})


def test_without_mosquitto_the_demo_says_the_fleet_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(simulators.broker, "mosquitto_installed", lambda: False)
    stack = DemoStack(state=tmp_path)
    reason = stack.start_broker(demo_fleet())
    assert reason == "mosquitto is not installed (apt-get install mosquitto, or make setup)"
    assert stack.broker is None
    assert not (tmp_path / "broker").exists()


def test_the_demo_terminal_and_its_operator_use_the_same_broker() -> None:
    terminal = demo_fleet().fleet
    operator = load_settings(DEMO_OPERATOR_CONFIG, {}).fleet
    assert terminal.enabled and terminal.broker == operator.broker == "mqtt://127.0.0.1:18883"
    assert terminal.username == "DEMO0001" and operator.username == "operator"


def test_the_brokers_acl_is_the_one_docs_fleet_md_gives() -> None:
    from simulators.broker import acl_text

    docs = (Path(__file__).resolve().parents[3] / "docs" / "fleet.md").read_text()
    assert acl_text("posterm") in docs
