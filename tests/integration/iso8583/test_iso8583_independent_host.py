"""The ISO 8583 link end to end: the real engine, a simulated card, and an acquirer host
written only from the issue's table (independent_host.py, which never imports posterm)."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from independent_host import Host, Iso, build, cmac

from simulators.card.tap import CARDS
from terminal.iso8583.links import Links
from terminal.money import Amount
from terminal.payment.api import Outcome, Result, SaleRequest
from terminal.payment.engine import Engine
from terminal.payment.journal import JOURNAL_FILE
from terminal.payment.states import State

PAN = CARDS["visa-credit"].pan


async def sale(engine: Engine, amount: str) -> Outcome:
    currency = engine.settings.terminal.currency
    return await engine.sale(
        SaleRequest(Amount.parse(amount, currency)), lambda step: None, asyncio.Event()
    )


def requests(host: Host, *mtis: str) -> list[Iso]:
    return [r for r in host.received if r.mti in mtis]


async def started(make: Callable[..., Engine], **options: object) -> Engine:
    engine = make(**options)
    await engine.start()
    await engine.link_checked()
    return engine


async def test_nfc_sale_is_approved_by_the_host(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    engine = await started(iso_engine)
    try:
        outcome = await sale(engine, "12.34")
    finally:
        await engine.stop()
    assert outcome.result is Result.APPROVED, outcome.message
    with sqlite3.connect(engine.settings.data_dir / JOURNAL_FILE) as db:
        [(kept,)] = db.execute("SELECT request FROM transactions WHERE id = ?", (outcome.id,))
    record = json.loads(kept)  # answered: the sealed request is replaced by a redacted record
    assert record["redacted"] == "iso8583" and record["mti"] == "0200"
    assert record["fields"]["2"] == outcome.masked_pan
    assert not {"14", "35", "55"} & set(record["fields"])
    assert_no_card_data_on_disk(engine)
    assert outcome.auth_code.startswith("A")
    assert outcome.masked_pan.endswith(PAN[-4:]) and PAN not in outcome.masked_pan
    [request] = requests(host, "0200")
    assert request.text(3) == "000000"
    assert request.text(4) == "000000001234"
    assert request.text(49) == "978"
    assert request.text(2) == PAN
    assert request.text(22) == "071"
    assert request.text(41) == "ISOTERM1"
    assert request.fields[42] == b"SHOP00001      "
    assert request.fields[43] == b"Cafe Zurich".ljust(25) + b"BERLIN".ljust(13) + b"DE"
    assert "=" in request.text(35) and not request.text(35).endswith("F")
    assert request.fields[55].startswith(b"\x9f\x26\x08")  # the ARQC first, BER-TLV
    [sign_on] = [r for r in requests(host, "0800") if r.text(70) == "001"]
    assert sign_on.text(41) == "ISOTERM1"
    assert host.ledger == [("sale", request.text(11), 1234)]


async def test_nfc_sale_declined_by_the_host(iso_engine: Callable[..., Engine], host: Host) -> None:
    engine = await started(iso_engine)
    try:
        outcome = await sale(engine, "10.51")
    finally:
        await engine.stop()
    assert outcome.result is Result.DECLINED
    assert outcome.code == "51"
    assert "Declined by the bank" in outcome.message


async def test_no_answer_sends_0400_then_0401_until_answered(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    host.script = [lambda r: "swallow" if r.mti == "0200" else None]
    host.script.append(lambda r: "swallow")  # the first 0400 too
    engine = await started(iso_engine, mac=True)
    try:
        outcome = await sale(engine, "20.00")
        assert outcome.result is Result.ERROR and outcome.code == "68"
        assert "reversal" in outcome.message.lower()
        report = await engine.flush()
        state = engine.journal.get(outcome.id).state
    finally:
        await engine.stop()
    assert report.left == 0
    assert state is State.REVERSED
    [original] = requests(host, "0200")
    first, repeat = requests(host, "0400", "0401")
    assert (first.mti, repeat.mti) == ("0400", "0401")
    assert first.raw[4:-8] == repeat.raw[4:-8]  # byte for byte but the MTI and the MAC
    assert first.raw[-8:] != repeat.raw[-8:]
    assert 128 in first.fields and 64 not in first.fields  # F90 → secondary bitmap
    f90 = first.text(90)
    assert f90[:4] == "0200" and f90[4:10] == original.text(11)
    assert f90[10:20] == original.text(7) and f90[20:31] == "00000000001" and f90[31:] == "0" * 11
    assert first.text(11) != original.text(11)
    assert len(requests(host, "0200")) == 1  # a 0200 is never sent twice
    assert host.ledger == []  # the money moved back
    assert host.mac_failures == 0


async def test_refund_and_void_refer_to_the_sale(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    engine = await started(iso_engine)
    try:
        first = await sale(engine, "30.00")
        second = await sale(engine, "5.00")
        refund = await engine.refund(
            first.id, Amount.parse("10.00", engine.settings.currency), lambda s: None
        )
        void = await engine.void(second.id, lambda s: None)
    finally:
        await engine.stop()
    assert refund.result is Result.APPROVED, refund.message
    assert void.result is Result.APPROVED, void.message
    sale_1, sale_2, refunded, voided = requests(host, "0200")
    assert refunded.text(3) == "200000" and refunded.text(4) == "000000001000"
    assert refunded.text(37) == f"RRN{sale_1.text(11)}"
    # The sale's card fields the terminal may keep, from its sealed record: PAN, expiry,
    # entry mode, card sequence number. Not track 2 (F35) nor the sale's ICC data (F55):
    # track data is not kept once the sale is authorised (PCI DSS 3.3.1), and the sale's
    # cryptogram does not authenticate a refund. README "ISO 8583" says so.
    assert refunded.text(2) == PAN
    assert {n: refunded.fields[n] for n in (2, 14, 22, 23)} == {
        n: sale_1.fields[n] for n in (2, 14, 22, 23)
    }
    assert 35 in sale_1.fields and 55 in sale_1.fields
    assert not {35, 55} & set(refunded.fields)
    assert {3, 4, 7, 11, 12, 13, 25, 32, 41, 42, 43, 49} <= set(refunded.fields)
    assert_no_card_data_on_disk(engine)
    assert voided.text(3) == "020000"
    assert (
        voided.text(37) == f"RRN{sale_2.text(11)}" and voided.text(38) == f"A{sale_2.text(11)[-5:]}"
    )
    assert not {2, 14, 35, 55} & set(voided.fields)


async def card_refund(engine: Engine, amount: str) -> Outcome:
    currency = engine.settings.terminal.currency
    return await engine.card_refund(
        SaleRequest(Amount.parse(amount, currency)), lambda step: None, asyncio.Event()
    )


async def test_card_present_refund_carries_the_taps_fields(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    """A refund to the card on the reader, no sale to refer to: the host gets the table's sale
    fields read from this tap (track 2 and ICC data included), F3 200000, and no F37."""
    engine = await started(iso_engine)
    try:
        paid = await sale(engine, "4.00")
        refund = await card_refund(engine, "6.50")
        closed = await engine.close_batch()
        assert isinstance(engine.bank, Links)
        kept_fields = set(engine.bank.iso.original(refund.id).message.fields)
    finally:
        await engine.stop()
    assert paid.result is Result.APPROVED, paid.message
    assert refund.result is Result.APPROVED, refund.message
    assert refund.masked_pan.endswith(PAN[-4:]) and PAN not in refund.masked_pan
    sold, refunded = requests(host, "0200")
    assert set(refunded.fields) == set(sold.fields)  # the same fields as a sale, no F37
    assert 37 not in refunded.fields
    assert refunded.text(3) == "200000" and refunded.text(4) == "000000000650"
    assert refunded.text(2) == PAN and refunded.text(14) == sold.text(14)
    assert (refunded.text(22), refunded.text(23), refunded.text(25)) == ("071", "001", "00")
    assert refunded.text(35) == sold.text(35) and refunded.text(35).startswith(PAN + "=")
    assert refunded.fields[55].startswith(b"\x9f\x26\x08")
    assert refunded.fields[55] != sold.fields[55]  # this tap's own cryptogram
    assert refunded.fields[43] == sold.fields[43] and refunded.text(49) == "978"
    assert refunded.text(11) != sold.text(11)
    assert host.refused == []
    assert host.ledger == [("sale", sold.text(11), 400), ("refund", refunded.text(11), 650)]
    assert closed.result == "balanced", closed.message
    [close] = requests(host, "0500")
    assert (close.text(74), close.text(86)) == ("0000000001", "0000000000000650")
    with sqlite3.connect(engine.settings.data_dir / JOURNAL_FILE) as db:
        [(kept,)] = db.execute("SELECT request FROM transactions WHERE id = ?", (refund.id,))
    record = json.loads(kept)  # answered: only the redacted record stays
    assert record["redacted"] == "iso8583" and record["fields"]["3"] == "200000"
    assert record["fields"]["2"] == refund.masked_pan
    assert not {"14", "35", "55"} & set(record["fields"])
    # The adapter's sealed record once answered: the PAN a reversal needs, no track 2 nor ICC.
    assert 2 in kept_fields and not {35, 55} & kept_fields
    assert_no_card_data_on_disk(engine)


async def test_card_present_refund_without_an_answer_is_reversed(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    host.script = [lambda r: "swallow" if r.mti == "0200" else None]
    engine = await started(iso_engine)
    try:
        refund = await card_refund(engine, "3.00")
        report = await engine.flush()
        state = engine.journal.get(refund.id).state
    finally:
        await engine.stop()
    assert refund.result is Result.ERROR and refund.code == "68", refund.message
    assert report.left == 0 and state is State.REVERSED
    [original] = requests(host, "0200")
    [reversal] = requests(host, "0400")
    assert reversal.text(3) == "200000" and reversal.text(2) == PAN
    assert reversal.text(90)[4:10] == original.text(11)
    assert not {35, 55} & set(reversal.fields)
    assert host.ledger == []
    assert_no_card_data_on_disk(engine)


async def test_batch_close_in_balance(iso_engine: Callable[..., Engine], host: Host) -> None:
    engine = await started(iso_engine)
    try:
        await sale(engine, "7.00")
        await sale(engine, "3.00")
        result = await engine.close_batch()
    finally:
        await engine.stop()
    assert result.result == "balanced", result.message
    [close] = requests(host, "0500")
    assert close.text(3) == "920000"
    assert (close.text(76), close.text(88)) == ("0000000002", "0000000000001000")


async def test_batch_close_out_of_balance_reports_the_host_totals(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    engine = await started(iso_engine)
    try:
        await sale(engine, "7.00")
        host.ledger.clear()  # the host lost the sale
        result = await engine.close_batch()
    finally:
        await engine.stop()
    assert result.result == "out_of_balance"
    assert "OUT OF BALANCE" in result.message
    assert result.gateway_totals["sale"]["EUR"]["count"] == 0


def assert_no_card_data_on_disk(engine: Engine) -> None:
    """The queued advice carries the PAN and track 2: never in clear in any file."""
    track = PAN.encode() + b"="
    for path in engine.settings.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert PAN.encode() not in data and track not in data, path


def framed(body: bytes) -> bytes:
    return struct.pack(">H", len(body)) + body


def _answer(host: Host, request: Iso, **changes: bytes) -> bytes:
    mti, fields = host.answer(request)
    for key, value in changes.items():
        if key == "mti":
            mti = value.decode()
        else:
            fields[int(key[1:])] = value
    return build(mti, fields, host.mac_key)


BAD_ANSWERS: dict[str, tuple[Callable[[Host, Iso], bytes], str]] = {
    "truncated frame": (lambda h, r: b"\xff" + framed(_answer(h, r))[1:40], "truncated frame"),
    "length prefix larger than the data": (
        lambda h, r: b"\xff\xf0" + _answer(h, r)[:30],
        "announced 65520 bytes",
    ),
    "unknown MTI": (lambda h, r: framed(b"02X0" + _answer(h, r)[4:]), "not a message"),
    "wrong-length fixed field": (
        lambda h, r: framed(_answer(h, r).replace(r.fields[4], r.fields[4][2:])),
        "not a message",
    ),
    "answer for another terminal": (
        lambda h, r: framed(_answer(h, r, f41=b"OTHER001")),
        "for terminal 'OTHER001', not this one",
    ),
    "late answer with another STAN": (
        lambda h, r: framed(_answer(h, r, f11=b"999999")),
        "no request is waiting for",
    ),
    "MAC mismatch": (lambda h, r: framed(_answer(h, r)[:-1] + b"\x00"), "security alarm"),
    "another amount approved": (
        lambda h, r: framed(_answer(h, r, f4=b"000000000001")),
        "echoes field 4 as '000000000001', not as sent",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ANSWERS))
async def test_bad_answers_are_logged_never_approved(
    iso_engine: Callable[..., Engine],
    host: Host,
    case: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad, sentence = BAD_ANSWERS[case]
    host.script = [lambda r: bad(host, r) if r.mti == "0200" else None]
    engine = await started(iso_engine, mac=True)
    caplog.set_level(logging.WARNING, logger="terminal")
    try:
        outcome = await sale(engine, "15.00")
        await engine.flush()
        state = engine.journal.get(outcome.id).state
    finally:
        await engine.stop()
    assert outcome.result is Result.ERROR and outcome.code == "68", outcome.message
    assert state is State.REVERSED
    assert host.ledger == []
    assert sentence in caplog.text
    assert PAN not in caplog.text


async def test_mac_on_both_ways(iso_engine: Callable[..., Engine], host: Host) -> None:
    engine = await started(iso_engine, mac=True)
    try:
        outcome = await sale(engine, "1.00")
    finally:
        await engine.stop()
    assert outcome.result is Result.APPROVED
    [request] = requests(host, "0200")
    assert request.fields[64] == cmac(request.raw[:-8], host.mac_key or b"")
    assert host.mac_failures == 0


async def test_qr_is_refused_up_front_without_a_gateway_url(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    from terminal.payment.api import EntryMethod

    engine = await started(iso_engine)
    try:
        outcome = await engine.sale(
            SaleRequest(Amount.parse("4.00", engine.settings.currency), method=EntryMethod.QR_SCAN),
            lambda s: None,
            asyncio.Event(),
        )
    finally:
        await engine.stop()
    assert outcome.result is Result.ERROR
    assert "QR payments are not available" in outcome.message
    assert not requests(host, "0200")


async def test_offline_approval_is_forwarded_as_0220_when_the_host_returns(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    engine = await started(iso_engine)
    try:
        await host.stop()
        outcome = await sale(engine, "9.00")
        assert outcome.result is Result.APPROVED_OFFLINE, outcome.message
        assert_no_card_data_on_disk(engine)
        host.script = [lambda r: "swallow"]  # the first 0220 gets no answer
        await host.start()
        await engine.flush()
        report = await engine.flush()
        state = engine.journal.get(outcome.id).state
    finally:
        await engine.stop()
    assert report.left == 0
    advice, repeat = requests(host, "0220", "0221")
    assert (advice.mti, repeat.mti) == ("0220", "0221")
    assert advice.raw[4:] == repeat.raw[4:]  # no MAC configured: only the MTI differs
    assert advice.text(39) == "Y3" and advice.text(38)
    assert b"\x9f\x27\x01\x40" in advice.fields[55]  # the TC
    assert advice.text(2) == PAN
    assert not requests(host, "0200")
    assert state is State.FORWARDED
    assert host.ledger == [("advice", advice.text(11), 900)]


async def test_tls_link_verified_against_ca_file(
    iso_engine: Callable[..., Engine], host: Host, tmp_path: Path
) -> None:
    from simulators.bank.setup import prepare, server_context

    files, _ = prepare(tmp_path / "ca")
    await host.stop()
    host.tls = server_context(files, "127.0.0.1")
    await host.start()
    engine = await started(iso_engine, tls=True, ca_file=str(files.ca_pem))
    try:
        outcome = await sale(engine, "2.00")
    finally:
        await engine.stop()
    assert outcome.result is Result.APPROVED, outcome.message
    assert len(requests(host, "0200")) == 1


async def test_tls_host_with_an_unknown_ca_is_never_sent_to(
    iso_engine: Callable[..., Engine],
    host: Host,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from simulators.bank.setup import prepare, server_context

    files, _ = prepare(tmp_path / "ca")
    other, _ = prepare(tmp_path / "other-ca")
    await host.stop()
    host.tls = server_context(files, "127.0.0.1")
    await host.start()
    engine = await started(iso_engine, tls=True, ca_file=str(other.ca_pem))
    try:
        outcome = await sale(engine, "2.00")
    finally:
        await engine.stop()
    # Not sent, and no offline approval either: a host that fails verification is an alarm.
    assert (outcome.result, outcome.code) == (Result.DECLINED, "91"), outcome.message
    assert outcome.message.startswith("SECURITY ALARM")
    assert "security alarm: the acquirer host's TLS certificate failed" in caplog.text
    assert not requests(host, "0200")


async def test_an_answer_whose_mac_does_not_verify_raises_a_security_alarm(
    iso_engine: Callable[..., Engine], host: Host
) -> None:
    from terminal.security import alarms

    heard: list[tuple[str, dict[str, object]]] = []
    stop_listening = alarms.listen(lambda kind, details: heard.append((kind, dict(details))))
    bad, _ = BAD_ANSWERS["MAC mismatch"]
    host.script = [lambda r: bad(host, r) if r.mti == "0200" else None]
    engine = await started(iso_engine, mac=True)
    try:
        outcome = await sale(engine, "15.00")
    finally:
        await engine.stop()
        stop_listening()
    assert outcome.result is Result.ERROR
    forged = [details for kind, details in heard if kind == "forged_bank_answer"]
    assert forged and forged[0]["link"] == "iso8583"
    assert PAN not in repr(heard)
