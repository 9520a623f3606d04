"""Fixtures for the gateway integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from terminal.gateway.client import GatewayClient
from terminal.gateway.jose import GatewayKeys
from terminal.settings import load_settings
from tests.fixtures.gateway_sim import GatewaySim
from tests.fixtures.gateway_terminal import TestTerminal


@pytest.fixture
async def make_terminal(
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Any]]:
    """make_terminal(sim, terminal_id="POS00001", **config) -> TestTerminal (clients closed)."""
    clients: list[GatewayClient] = []

    def make(sim: GatewaySim, terminal_id: str = "POS00001", **config: Any) -> TestTerminal:
        path = sim.terminal_config(tmp_path, terminal_id=terminal_id, **config)
        settings = load_settings(path, environ={})
        client = GatewayClient(settings, GatewayKeys.from_settings(settings.gateway))
        clients.append(client)
        return TestTerminal(settings, client)

    yield make
    for client in clients:
        await client.aclose()
