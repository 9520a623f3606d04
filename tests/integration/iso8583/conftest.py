"""A terminal configured for the ISO 8583 link against the independent host of this folder."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from independent_host import Host

from simulators.card.tap import TappedCard
from terminal.payment.engine import Engine
from terminal.payment.factory import build_engine
from terminal.settings import load_settings

MAC_KEY = bytes(range(16))


@pytest.fixture
async def host() -> AsyncIterator[Host]:
    peer = Host()
    await peer.start()
    yield peer
    await peer.stop()


@pytest.fixture
def iso_engine(tmp_path: Path, host: Host) -> Callable[..., Engine]:
    """An engine whose card payments go over ISO 8583 to `host` (plain TCP on loopback)."""

    def make(*, mac: bool = False, profile: str = "visa-credit", **iso: Any) -> Engine:
        key_line = ""
        if mac:
            host.mac_key = MAC_KEY
            (tmp_path / "mac.key").write_text(MAC_KEY.hex())
            key_line = f'mac_key_file = "{tmp_path / "mac.key"}"'
        iso.setdefault("tls", False)
        extra = "\n".join(f"{k} = {json.dumps(v)}" for k, v in iso.items())
        config = tmp_path / "posterm.toml"
        config.write_text(
            f"""
[terminal]
terminal_id = "ISOTERM1"
merchant_id = "SHOP00001"
merchant_name = "Café Zürich"
data_dir = "{tmp_path / "data"}"

[gateway]
protocol = "iso8583"
url = ""
connect_timeout_s = 1.0
timeout_s = 2.0

[iso8583]
host = "127.0.0.1:{host.port}"
timeout_s = 1.5
{key_line}
{extra}

[devices]
nfc = "none"
""",
            encoding="utf-8",
        )
        return build_engine(load_settings(config, environ={}), card_capture=TappedCard(profile))

    return make
