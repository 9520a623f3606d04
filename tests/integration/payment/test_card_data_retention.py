"""Sensitive card data leaves the journal once it can no longer be sent (PCI DSS 3.3.1): the
sealed card (JWE) of an answered sale, and of an offline advice once it was forwarded, is
wiped from the stored message and from the raw database and WAL files."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from datetime import datetime

from payment_terminal import Terminal, pay

from simulators.card.tap import CARDS, TappedCard
from terminal.payment.api import Result
from terminal.payment.bank import Operation
from terminal.payment.engine import Engine
from terminal.payment.journal import JOURNAL_FILE
from terminal.payment.states import State


def _b64(part: bytes) -> bytes:
    return base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4))


def sealed_pieces(engine: Engine) -> list[bytes]:
    """Record every sealed card the adapter makes: the JWE and each of its parts worth
    finding (protected header with the ephemeral key, encrypted key, iv, ciphertext, tag)."""
    made: list[bytes] = []
    encode = engine.bank.encode

    def recording(operation: Operation, seq: int, at: datetime) -> bytes:
        body = encode(operation, seq, at)
        segment = body.split(b".")[1]
        text = _b64(segment)
        payload = json.loads(text)
        for part in ("card", "qr"):
            if part in payload:
                jwe = payload[part]["data"].encode()
                made.append(jwe)
                made.extend(piece for piece in jwe.split(b".") if len(piece) >= 16)
                # As stored inside the JWS: base64url again; every 4-character group of the
                # sealed part's span, taken 32 characters at a time.
                start = text.index(jwe)
                first, last = -(-start // 3) * 4, (start + len(jwe)) // 3 * 4
                made.extend(segment[i : i + 32] for i in range(first, last - 32, 32))
        return body

    engine.bank.encode = recording  # type: ignore[method-assign]
    return made


def raw_journal(engine: Engine) -> bytes:
    folder = engine.settings.data_dir
    return b"".join(path.read_bytes() for path in folder.glob(f"{JOURNAL_FILE}*"))


async def settled_journal(engine: Engine, gone: list[bytes]) -> bytes:
    """The journal's files once the WAL was emptied after the wipe (the journal does it on its
    own, shortly after the commit that wiped, off the sale's path): at most 5 s."""
    for _ in range(50):
        data = raw_journal(engine)
        if not any(piece in data for piece in gone):
            return data
        await asyncio.sleep(0.1)
    return raw_journal(engine)


def track_data() -> list[bytes]:
    card = CARDS["visa-credit"]
    return [card.pan.encode(), f"{card.pan}D{card.expiry[:4]}".encode()]


async def test_an_answered_sale_keeps_no_sealed_card_on_disk(
    running: tuple[Terminal, Engine],
) -> None:
    _, engine = running
    pieces = sealed_pieces(engine)
    outcome = await pay(engine, "12.34")
    assert outcome.result is Result.APPROVED, outcome.message
    declined = await pay(engine, "20.00", "expired")
    assert declined.result is Result.DECLINED
    assert len(pieces) >= 2 and pieces[0].count(b".") == 4
    data = await settled_journal(engine, pieces + track_data())
    for piece in pieces + track_data():
        assert piece not in data
    stored = engine.journal.get(outcome.id).request
    assert stored is not None
    record = json.loads(stored)
    assert "cannot be re-sent" in record["redacted"]
    assert record["payload"]["id"] == outcome.id
    assert record["payload"]["card"] == {
        "scheme": "visa",
        "aid": "A0000000031010",
        "masked_pan": "476173******0010",
    }
    assert len(record["jws_sha256"]) == 64
    # What history, receipts and refunds need is still there.
    view = engine.transaction(outcome.id)
    assert (view.masked_pan, view.auth_code) == ("476173******0010", outcome.auth_code)
    refund = await engine.refund(outcome.id, None, lambda step: None)
    assert refund.result is Result.APPROVED, refund.message


async def test_an_offline_advice_keeps_its_sealed_card_until_forwarded(
    running: tuple[Terminal, Engine],
) -> None:
    term, engine = running
    pieces = sealed_pieces(engine)
    term.sim.faults(down=True)
    offline = await pay(engine, "9.99")
    assert offline.result is Result.APPROVED_OFFLINE, offline.message
    advice = engine.journal.pending()[0].body
    assert pieces[-1] in advice  # the advice must still be forwardable, exactly
    assert pieces[-1] in raw_journal(engine)  # (so the search below can find what it seeks)
    assert engine.journal.get(offline.id).request == advice
    term.sim.faults()
    report = await engine.flush()
    assert report.sent == 1, report
    assert engine.journal.get(offline.id).state is State.FORWARDED
    data = await settled_journal(engine, pieces + track_data())
    for piece in pieces + track_data():
        assert piece not in data
    assert [e["type"] for e in term.ledger() if e["id"] == offline.id] == ["advice"]


async def test_the_maintenance_command_wipes_a_journal_written_the_old_way(
    terminal: Callable[..., Terminal],
) -> None:
    term = terminal()
    engine = term.engine(TappedCard("visa-credit"))
    await engine.start()
    await engine.link_checked()
    engine.journal.redact = None  # as a posterm before this rule wrote it
    pieces = sealed_pieces(engine)
    outcome = await pay(engine, "7.00")
    assert outcome.result is Result.APPROVED, outcome.message
    await engine.stop()
    before = raw_journal(engine)
    assert [piece for piece in pieces if piece in before]  # the old way kept the card

    first = term.cli("journal", "wipe-card-data", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"wiped": 1}
    again = term.cli("journal", "wipe-card-data", "--json")
    assert json.loads(again.stdout) == {"wiped": 0}
    data = raw_journal(engine)
    for piece in pieces + track_data():
        assert piece not in data
    history = term.cli("history", "--json")
    assert outcome.id in history.stdout and "476173******0010" in history.stdout
