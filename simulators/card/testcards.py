"""The shared test-card file (`config/sim/cards.toml`): simulated cards and the simulated
issuer read the same PANs, balances and issuer keys, so a cryptogram made by one is checked by
the other. Test data only; nothing here is used on a real payment.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from terminal.settings import PACKAGE_ROOT

CARDS_FILE = PACKAGE_ROOT / "config" / "sim" / "cards.toml"


@dataclass(frozen=True, slots=True, repr=False)
class IssuerKeys:
    """Issuer master keys of a test issuer and its cryptogram version."""

    name: str
    cvn: str
    """visa-cvn10 or mastercard-cvn16."""
    imk_ac: bytes
    imk_smi: bytes
    imk_smc: bytes

    def __repr__(self) -> str:
        return f"IssuerKeys(name={self.name!r}, cvn={self.cvn!r})"


@dataclass(frozen=True, slots=True, repr=False)
class TestCard:
    """One card or phone profile."""

    name: str
    issuer: IssuerKeys
    scheme: str
    aid: str
    label: str
    priority: int
    pan: str
    expiry: str
    psn: str
    status: str
    balance: str
    currency: str
    wallet: bool
    cdcvm: bool
    behaviour: str
    extra_apps: tuple[str, ...] = ()
    partial: str = "never"
    """How its issuer answers a payment above the balance: never (declined 51), allowed
    (approves the balance, code 10, when the terminal allowed a partial approval) or always
    (approves the balance even when the terminal did not say it can take one)."""
    preauth: bool = True
    """False: the issuer refuses pre-authorisations on this card (declined 57)."""

    def __repr__(self) -> str:
        return f"TestCard(name={self.name!r}, scheme={self.scheme!r})"


class TestCardError(ValueError):
    """The test-card file is missing or inconsistent."""


def load_test_cards(path: Path = CARDS_FILE) -> dict[str, TestCard]:
    """Every profile in the file, by name."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise TestCardError(f"{path}: cannot read test cards: {error}") from None
    issuers = {
        name: IssuerKeys(
            name=name,
            cvn=str(spec["cvn"]),
            imk_ac=bytes.fromhex(spec["imk_ac"]),
            imk_smi=bytes.fromhex(spec["imk_smi"]),
            imk_smc=bytes.fromhex(spec["imk_smc"]),
        )
        for name, spec in data.get("issuers", {}).items()
    }
    cards: dict[str, TestCard] = {}
    for name, spec in data.get("cards", {}).items():
        cards[name] = _card(name, spec, issuers, path)
    return cards


def _card(name: str, spec: dict[str, Any], issuers: dict[str, IssuerKeys], path: Path) -> TestCard:
    try:
        issuer = issuers[spec["issuer"]]
        return TestCard(
            name=name,
            issuer=issuer,
            scheme=spec["scheme"],
            aid=spec["aid"].upper(),
            label=spec.get("label", ""),
            priority=int(spec.get("priority", 1)),
            pan=spec["pan"],
            expiry=spec["expiry"],
            psn=spec.get("psn", "00"),
            status=spec.get("status", "active"),
            balance=spec.get("balance", "0.00"),
            currency=spec.get("currency", "EUR"),
            wallet=bool(spec.get("wallet", False)),
            cdcvm=bool(spec.get("cdcvm", False)),
            behaviour=spec.get("behaviour", "normal"),
            extra_apps=tuple(spec.get("extra_apps", ())),
            partial=_partial_mode(name, spec.get("partial", "never"), path),
            preauth=bool(spec.get("preauth", True)),
        )
    except KeyError as missing:
        raise TestCardError(f"{path}: cards.{name}: missing {missing}") from None


PARTIAL_MODES = ("never", "allowed", "always")


def _partial_mode(name: str, value: object, path: Path) -> str:
    if value not in PARTIAL_MODES:
        raise TestCardError(
            f"{path}: cards.{name}: partial must be one of {', '.join(PARTIAL_MODES)}"
        )
    return str(value)
