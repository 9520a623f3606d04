"""The gateway simulator in its own process on free loopback ports, for tests and benchmarks.

`GatewaySim(folder)` starts `python -m terminal gateway-sim` on 127.0.0.1 with a free port,
TLS with the certificate authority it creates, and an admin-only second port (so `down=True`
can be undone). It waits until GET /v1/health answers; `stop()` ends the process. The pytest
fixtures in tests/fixtures/gateway_sim.py and the benchmarks in bench/ both start it this way,
so a benchmark measures the terminal against the same separate process the tests use.

A `GatewaySim` has:
    url                    https://127.0.0.1:PORT (for gateway.url)
    admin_url              https://127.0.0.1:ADMIN_PORT (admin API only; up while down=True)
    data_dir               the simulator's folder (ca.pem, gateway-*.jwk, terminal-gateway.toml)
    ca_file                data_dir / "ca.pem";  tls() -> ssl.SSLContext trusting only it
    log_path, log_tail()   the simulator's own log (stdout + stderr)
    admin                  httpx.Client on the admin API (/sim/...), TLS-verified with ca.pem
    ledger(terminal_id=None) -> list[dict]       GET /sim/ledger entries
    faults(**kw) -> dict   POST /sim/faults: drop_before, drop_after, error_5xx (rates 0..1),
                           delay_ms, down; no arguments clears every fault
    cards(**kw) -> dict    POST /sim/cards (e.g. name="visa-credit", balance="10.00")
    card(name) -> dict     one card's view: name, masked_pan, expiry, status, balance
    enroll(terminal_id, jwks) -> [kid]           POST /sim/terminals
    fraud(**kw) -> dict    POST /sim/fraud (enabled, max_count, max_total, window_s)
    wallet_pay(payload=..., intent_id=..., card=...) -> dict   POST /sim/wallet/pay
    wallet_code(card="wallet-token") -> dict     POST /sim/wallet/code ({"code": text, ...})
    restart()              SIGTERM, then start again on the same port and folder
    kill()                 SIGKILL (crash); call restart() to bring it back
    terminal_config(tmp_path, **overrides) -> Path
        writes a complete site TOML for a terminal and enrols its key with the simulator.
        Keyword overrides: any [terminal] key (terminal_id, merchant_id, currency, data_dir, ...)
        directly, other sections as dicts: gateway={"timeout_s": 3}, offline={"floor_limit":
        "30.00"}, devices={"nfc": "udp:localhost:1234"}. Defaults: terminal_id POS00001,
        data_dir tmp_path/"data-<terminal_id>", the [gateway] section of terminal-gateway.toml.
        The terminal keystore is created with `Keystore.open(data_dir, terminal_id, root)` (root
        where `security=` puts it, default `<data_dir>.root-secret`) and all its
        public keys are enrolled (POST /sim/terminals).

`new_card(sim)` adds a card of its own to a (shared) simulator.
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
import tomllib
from pathlib import Path
from typing import Any

from simulators.bank.process import SimulatorProcess
from simulators.card.tap import CARDS
from simulators.loopback import free_port
from terminal.security.pan import luhn_valid

_serial = itertools.count(1)


class GatewaySim(SimulatorProcess):
    """A running `posterm gateway-sim` process on free ports; see the module docstring."""

    def __init__(self, data_dir: Path, *, extra_args: tuple[str, ...] = ()) -> None:
        port = free_port()
        admin_port = free_port()
        while admin_port == port:
            admin_port = free_port()
        super().__init__(data_dir, port=port, admin_port=admin_port, extra_args=extra_args)
        self.start()

    # -- terminals --------------------------------------------------------------------------

    def gateway_section(self) -> dict[str, Any]:
        text = (self.data_dir / "terminal-gateway.toml").read_text(encoding="utf-8")
        section: dict[str, Any] = tomllib.loads(text)["gateway"]
        return section

    def terminal_config(self, tmp_path: Path, **overrides: Any) -> Path:
        """A complete site TOML for a terminal whose key is enrolled here (see module doc)."""
        from terminal.security.key_hierarchy import RootPlace
        from terminal.security.keystore import Keystore
        from terminal.settings.toml_text import tables_text

        sections: dict[str, dict[str, Any]] = {"terminal": {}, "gateway": self.gateway_section()}
        for key, value in overrides.items():
            if isinstance(value, dict):
                sections.setdefault(key, {}).update(value)
            else:
                sections["terminal"][key] = value
        terminal = sections["terminal"]
        terminal.setdefault("terminal_id", "POS00001")
        terminal.setdefault("merchant_id", "MERCHANT0000001")
        terminal_id = str(terminal["terminal_id"])
        terminal.setdefault("data_dir", str(tmp_path / f"data-{terminal_id}"))
        data_dir = Path(terminal["data_dir"])
        data_dir.mkdir(parents=True, exist_ok=True)
        root = RootPlace(**sections.get("security", {}))  # where the terminal finds its root
        keystore = Keystore.open(data_dir, terminal_id, root=root)
        self.enroll(terminal_id, keystore.public_jwks())
        text = tables_text(sections, comment="Written by the gateway_sim fixture.")
        path = tmp_path / f"posterm-{terminal_id}.toml"
        path.write_text(text + "\n", encoding="utf-8")
        return path


def new_card(sim: SimulatorProcess, balance: str = "5000.00", *, like: str = "visa-credit") -> str:
    """A card of its own (fresh PAN, the issuer keys of `like`) added to `sim` and to `CARDS`,
    so tests and benchmarks can share one simulator; returns its name."""
    base = CARDS[like]
    known = {card.pan for card in CARDS.values()}
    while True:
        body = base.pan[:6] + f"{secrets.randbelow(10**9):09d}"
        pan = next(body + d for d in "0123456789" if luhn_valid(body + d))
        if pan not in known:
            break
    name = f"test-{next(_serial)}-{secrets.token_hex(3)}"
    CARDS[name] = dataclasses.replace(base, name=name, pan=pan)
    sim.cards(
        name=name,
        pan=pan,
        expiry=base.expiry,
        psn=base.psn,
        issuer=base.issuer.name,
        balance=balance,
        currency="EUR",
        partial=base.partial,
    )
    return name
