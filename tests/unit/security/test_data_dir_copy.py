"""Finding 1 (and 8, 9): a copy of the data directory alone gives nothing back.

A terminal with its root secret outside the data folder makes a real sale against the gateway
simulator; the folder is then copied elsewhere WITHOUT the root, as a backup thief or a
technician with read access would. The copy must not open the key store or reveal the signing
key, must not let the journal's first-6/last-4 plus keyed fingerprint be brute-forced back to
the card number, must not let the audit log be re-sealed, and must not verify the PIN."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from simulators.card.tap import TappedCard
from simulators.card.testcards import load_test_cards
from terminal.money import Amount
from terminal.payment.api import SaleRequest
from terminal.payment.factory import build_engine
from terminal.payment.journal import JOURNAL_FILE
from terminal.security.audit import AuditError, AuditLog
from terminal.security.key_hierarchy import KeyHierarchy, RootPlace
from terminal.security.keystore import Keystore, KeystoreError
from terminal.security.pan import luhn_valid
from terminal.security.pins import PinGuard, PinRejected, hash_pin
from terminal.settings import load_settings


def candidates(masked: str) -> list[bytes]:
    """Every Luhn-valid PAN behind a first-6/last-4 mask (100,000 for 16 digits)."""
    head, tail = masked[:6], masked[-4:]
    hidden = len(masked) - 10
    pans = (f"{head}{middle:0{hidden}d}{tail}" for middle in range(10**hidden))
    return [pan.encode() for pan in pans if luhn_valid(pan)]


def brute_force(pans: list[bytes], fingerprint: str, key: bytes) -> list[str]:
    """The assessor's attack: the candidates whose keyed fingerprint matches the journal's."""
    wanted = bytes.fromhex(fingerprint)
    return [pan.decode() for pan in pans if hmac.digest(key, pan, hashlib.sha256) == wanted]


def key_guesses(folder: Path) -> list[bytes]:
    """Everything in the folder that could be a 32-byte key, as the attacker would try it."""
    guesses: set[bytes] = set()
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        raw = path.read_bytes()
        guesses.add(raw)
        for text in (raw.strip(),):
            try:
                guesses.add(bytes.fromhex(text.decode()))
            except (ValueError, UnicodeDecodeError):
                pass
        try:
            data: Any = json.loads(raw)
        except ValueError:
            continue
        for value in data.values() if isinstance(data, dict) else []:
            if isinstance(value, str):
                for decode in (bytes.fromhex, lambda v: base64.urlsafe_b64decode(v + "==")):
                    try:
                        guesses.add(decode(value))
                    except ValueError:
                        pass
    return [g for g in guesses if 16 <= len(g) <= 64]


@pytest.fixture
def shop(gateway_sim: Any, tmp_path: Path) -> dict[str, Any]:
    """A terminal whose root lives in /etc-like space, after one approved contactless sale."""
    root_file = tmp_path / "etc-posterm" / "root-secret"
    config = gateway_sim.terminal_config(
        tmp_path,
        terminal_id="COPY0001",
        security={"root_key_file": str(root_file)},
        devices={"nfc": "none"},
        gateway={"timeout_s": 5.0, "connect_timeout_s": 2.0},
    )
    settings = load_settings(config, environ={})
    card = load_test_cards()["visa-credit"]

    async def sale() -> str:
        engine = build_engine(settings, card_capture=TappedCard("visa-credit"))
        await engine.start()
        try:
            outcome = await engine.sale(
                SaleRequest(Amount.parse("12.34", "EUR")), lambda step: None, asyncio.Event()
            )
        finally:
            await engine.stop()
        return str(outcome.result.value)

    result = asyncio.run(sale())
    keys = KeyHierarchy.for_settings(settings)
    pin_hash = hash_pin("246813", keys.pin_pepper())
    return {
        "settings": settings,
        "root_file": root_file,
        "keys": keys,
        "pan": card.pan,
        "result": result,
        "pin_hash": pin_hash,
    }


def test_a_copy_of_the_data_folder_opens_nothing(shop: dict[str, Any], tmp_path: Path) -> None:
    settings, keys = shop["settings"], shop["keys"]
    assert shop["result"] == "approved"
    data_dir = settings.data_dir
    assert shop["root_file"].exists() and data_dir not in shop["root_file"].parents
    with sqlite3.connect(data_dir / JOURNAL_FILE) as db:
        masked, fingerprint = db.execute(
            "SELECT masked_pan, fingerprint FROM transactions WHERE masked_pan != ''"
        ).fetchone()
    assert masked == shop["pan"][:6] + "******" + shop["pan"][-4:]
    # The attack works with the terminal's key, so its failure below means something.
    pans = candidates(masked)
    assert brute_force(pans, fingerprint, keys.fingerprint_key()) == [shop["pan"]]
    store = Keystore.open(data_dir, "COPY0001", root=keys)
    raw_signing = store.signing_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )

    stolen = tmp_path / "stolen" / "posterm"
    shutil.copytree(data_dir, stolen)

    with pytest.raises(KeystoreError, match="root secret is missing"):
        Keystore.open(stolen, "COPY0001")
    assert not (tmp_path / "stolen" / "posterm.root-secret").exists()  # no new root made
    everything = b"".join(p.read_bytes() for p in stolen.rglob("*") if p.is_file())
    for secret in (raw_signing, keys.fingerprint_key(), keys.audit_key(), keys.pin_pepper()):
        for form in (secret, base64.urlsafe_b64encode(secret).rstrip(b"="), secret.hex().encode()):
            assert form not in everything
    guesses = key_guesses(stolen)
    assert len(guesses) >= 3  # the root check, the keystore envelope's fields, the audit seals
    for guess in guesses:
        assert brute_force(pans, fingerprint, guess) == []

    with pytest.raises(AuditError, match="root secret is missing"):
        AuditLog(stolen).append("config.set", {"note": "covering tracks"})

    attacker = RootPlace(root_key_file=str(tmp_path / "attacker-root"))
    (tmp_path / "attacker-root").write_text("ab" * 32)
    (tmp_path / "attacker-root").chmod(0o600)
    with pytest.raises(KeystoreError, match="not the one"):
        Keystore.open(stolen, "COPY0001", root=attacker)
    fresh = tmp_path / "attacker-data"
    with pytest.raises(PinRejected):
        PinGuard(fresh, keys=attacker.open(fresh)).check("technician", "246813", shop["pin_hash"])
