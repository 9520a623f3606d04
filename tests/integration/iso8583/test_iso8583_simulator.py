"""Every card flow over ISO 8583 against the simulator's own listener: its issuer rules, ARQC
checks and ledger decide, as they do for the posterm-v1 link."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from simulators.bank.faults import Faults
from simulators.bank.iso8583_listener import IsoListener
from simulators.bank.server import Simulator
from simulators.card.tap import TappedCard
from terminal.money import Amount
from terminal.payment.api import Outcome, Result, SaleRequest
from terminal.payment.engine import Engine
from terminal.payment.factory import build_engine
from terminal.payment.states import State
from terminal.settings import load_settings


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[tuple[Simulator, int]]:
    simulator = Simulator(tmp_path / "sim")
    listener = IsoListener(simulator)
    port = await listener.start("127.0.0.1", 0, None)
    LISTENERS[id(simulator)] = listener
    yield simulator, port
    await listener.stop()
    del LISTENERS[id(simulator)]
    simulator.close()


LISTENERS: dict[int, IsoListener] = {}


def simulator_listener(simulator: Simulator) -> IsoListener:
    return LISTENERS[id(simulator)]


@pytest.fixture
def engine_for(tmp_path: Path, sim: tuple[Simulator, int]) -> Callable[[str], Engine]:
    def make(profile: str = "visa-credit") -> Engine:
        config = tmp_path / "posterm.toml"
        config.write_text(
            f"""
[terminal]
terminal_id = "SIMISO01"
data_dir = "{tmp_path / "data"}"
[gateway]
protocol = "iso8583"
url = ""
timeout_s = 2
[iso8583]
host = "127.0.0.1:{sim[1]}"
tls = false
timeout_s = 2
[devices]
nfc = "none"
""",
            encoding="utf-8",
        )
        return build_engine(load_settings(config, environ={}), card_capture=TappedCard(profile))

    return make


async def sale(engine: Engine, amount: str, profile: str | None = None) -> Outcome:
    if profile:
        engine.card_capture = TappedCard(profile)
    return await engine.sale(
        SaleRequest(Amount.parse(amount, engine.settings.currency)),
        lambda step: None,
        asyncio.Event(),
    )


def ledger(simulator: Simulator) -> list[dict[str, Any]]:
    return list(simulator.ledger.ledger_view("SIMISO01"))


async def test_sale_refund_void_and_batch_over_the_simulators_listener(
    engine_for: Callable[[str], Engine], sim: tuple[Simulator, int]
) -> None:
    simulator, _ = sim
    engine = engine_for("visa-credit")
    await engine.start()
    try:
        approved = await sale(engine, "12.00")
        kept = await sale(engine, "8.00")
        refund = await engine.refund(
            approved.id, Amount.parse("2.00", engine.settings.currency), lambda s: None
        )
        void = await engine.void(kept.id, lambda s: None)
        batch = await engine.close_batch()
    finally:
        await engine.stop()
    assert approved.result is Result.APPROVED, approved.message
    assert refund.result is Result.APPROVED, refund.message
    assert void.result is Result.APPROVED, void.message
    assert batch.result == "balanced", batch.message
    types = [(e["type"], e["amount"]["value"]) for e in ledger(simulator)]
    assert ("authorize", 1200) in types and ("refund", 200) in types


async def test_tip_adjust_is_booked_by_the_simulators_listener(
    engine_for: Callable[[str], Engine], sim: tuple[Simulator, int]
) -> None:
    """The 0220 adjustment (F3 020000, F90 the sale) is the simulator's own tip adjust: the
    sale's entry carries the new total, the adjust's entry the difference, the batch balances."""
    simulator, _ = sim
    engine = engine_for("visa-credit")
    await engine.start()
    try:
        paid = await sale(engine, "40.00")
        adjusted = await engine.tip_adjust(
            paid.id, Amount.parse("6.00", engine.settings.currency), lambda s: None
        )
        batch = await engine.close_batch()
    finally:
        await engine.stop()
    assert adjusted.result is Result.APPROVED, adjusted.message
    assert batch.result == "balanced", batch.message
    types = [(e["type"], e["amount"]["value"]) for e in ledger(simulator)]
    assert ("authorize", 4600) in types and ("tip_adjust", 600) in types


@pytest.mark.parametrize(
    ("profile", "amount", "code"), [("blocked", "3.00", "05"), ("mastercard-debit", "45.00", "51")]
)
async def test_declines_come_from_the_issuer_rules(
    engine_for: Callable[[str], Engine], profile: str, amount: str, code: str
) -> None:
    engine = engine_for(profile)
    await engine.start()
    try:
        if code == "51":  # the debit card holds 80.00: the second 45.00 is over its balance
            assert (await sale(engine, amount)).result is Result.APPROVED
        declined = await sale(engine, amount)
    finally:
        await engine.stop()
    assert declined.result is Result.DECLINED, declined.message
    assert declined.code == code


async def test_a_tampered_cryptogram_is_declined(
    engine_for: Callable[[str], Engine],
) -> None:
    engine = engine_for("visa-credit")
    engine.card_capture = TappedCard("visa-credit", tamper=True)
    await engine.start()
    try:
        declined = await sale(engine, "4.00")
    finally:
        await engine.stop()
    assert declined.result is Result.DECLINED and declined.code == "05"


async def test_dropped_answer_is_reversed_and_money_moves_back(
    engine_for: Callable[[str], Engine], sim: tuple[Simulator, int]
) -> None:
    simulator, _ = sim
    engine = engine_for("visa-credit")
    await engine.start()
    await engine.link_checked()
    try:
        simulator.faults = Faults(drop_after=1.0)
        outcome = await sale(engine, "6.00")
        simulator.faults = Faults()
        await engine.flush()
        state = engine.journal.get(outcome.id).state
    finally:
        await engine.stop()
    assert outcome.result is Result.ERROR and outcome.code == "68"
    assert state is State.REVERSED
    row = simulator.ledger.one(
        "SELECT state FROM entries WHERE type = 'authorize' AND terminal_id = 'SIMISO01'"
    )
    assert row is not None and row["state"] == "reversed"
    assert [e["type"] for e in ledger(simulator)] == ["authorize", "reverse"]


def test_gateway_sim_command_answers_iso8583_next_to_https(tmp_path: Path) -> None:
    import socket
    import struct
    import subprocess
    import sys
    import time

    from independent_host import build, parse

    from simulators.loopback import free_port

    https, iso = free_port(), free_port()
    command = [sys.executable, "-m", "terminal", "gateway-sim", "--listen", f"127.0.0.1:{https}"]
    command += ["--iso8583-listen", f"127.0.0.1:{iso}", "--plain-http", "--data", str(tmp_path)]
    process = subprocess.Popen(
        command,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                connection = socket.create_connection(("127.0.0.1", iso), timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the ISO 8583 listener did not start")
        with connection:
            echo = build("0800", {7: b"1207101112", 11: b"000001", 41: b"SIMISO02", 70: b"301"})
            connection.sendall(struct.pack(">H", len(echo)) + echo)
            (size,) = struct.unpack(">H", connection.recv(2))
            body = b""
            while len(body) < size:
                body += connection.recv(size - len(body))
        answer = parse(body)
        assert answer.mti == "0810"
        assert (answer.text(11), answer.text(39), answer.text(70)) == ("000001", "00", "301")
    finally:
        process.terminate()
        process.wait(timeout=30)


MAC_KEY = bytes(range(16, 32))


@pytest.mark.parametrize("terminal_key", ["same", "other"])
async def test_mac_on_against_the_simulators_listener(
    tmp_path: Path, terminal_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Both sides hold the key: requests and answers carry a MAC that verifies. A terminal
    with another key is never answered (a security alarm on the host, nothing in its ledger):
    the sale ends not approved and its reversals stay unanswered, so no money moves."""
    import logging

    simulator = Simulator(tmp_path / "sim")
    listener = IsoListener(simulator, mac_key=MAC_KEY)
    port = await listener.start("127.0.0.1", 0, None)
    key_file = tmp_path / "mac.key"
    key_file.write_text((MAC_KEY if terminal_key == "same" else bytes(16)).hex())
    config = tmp_path / "posterm.toml"
    config.write_text(
        f"""
[terminal]
terminal_id = "SIMISO01"
data_dir = "{tmp_path / "data"}"
[gateway]
protocol = "iso8583"
url = ""
timeout_s = 1
[iso8583]
host = "127.0.0.1:{port}"
tls = false
timeout_s = 1
mac_key_file = "{key_file}"
[devices]
nfc = "none"
""",
        encoding="utf-8",
    )
    caplog.set_level(logging.WARNING)
    engine = build_engine(load_settings(config, environ={}), card_capture=TappedCard("visa-credit"))
    await engine.start()
    try:
        await engine.link_checked()
        outcome = await sale(engine, "7.00")
        if terminal_key == "same":
            refund = await engine.refund(outcome.id, None, lambda s: None)
            batch = await engine.close_batch()
        report = await engine.flush(deadline_s=1.0)
        state = engine.journal.get(outcome.id).state
    finally:
        await engine.stop()
        await listener.stop()
        entries = ledger(simulator)
        simulator.close()
    if terminal_key == "same":
        assert outcome.result is Result.APPROVED, outcome.message
        assert refund.result is Result.APPROVED, refund.message
        assert batch.result == "balanced", batch.message
        assert [(e["type"], e["amount"]["value"]) for e in entries] == [
            ("authorize", 700),
            ("refund", 700),
        ]
        assert "security alarm" not in caplog.text
    else:
        assert (outcome.result, outcome.code) == (Result.ERROR, "68"), outcome.message
        assert state is State.REVERSING  # still queued: the host never answers it
        assert report.left == 1
        assert entries == []  # nothing reached the processor or the ledger
        assert "security alarm: ISO 8583 0200" in caplog.text
        assert "security alarm: ISO 8583 0400" in caplog.text


def test_gateway_sim_command_checks_the_mac_with_the_key_file(tmp_path: Path) -> None:
    """`--iso8583-mac-key FILE` (the terminal's mac_key_file format): answers carry a MAC that
    the independent host's own CMAC verifies; a request with a wrong MAC gets no answer."""
    import socket
    import struct
    import subprocess
    import sys
    import time

    from independent_host import build, cmac, parse

    from simulators.loopback import free_port

    key_file = tmp_path / "mac.key"
    key_file.write_text(MAC_KEY.hex() + "\n")
    https, iso = free_port(), free_port()
    command = [sys.executable, "-m", "terminal", "gateway-sim", "--listen", f"127.0.0.1:{https}"]
    command += ["--iso8583-listen", f"127.0.0.1:{iso}", "--plain-http", "--data", str(tmp_path)]
    bad_key = tmp_path / "bad.key"
    bad_key.write_text("not hex")
    refused = subprocess.run(
        [*command, "--iso8583-mac-key", str(bad_key)], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2 and "32 or 64 hex digits" in refused.stderr
    process = subprocess.Popen(
        [*command, "--iso8583-mac-key", str(key_file)], stderr=subprocess.DEVNULL
    )

    def echo(connection: socket.socket, stan: str, key: bytes) -> bytes:
        fields = {7: b"1207101112", 11: stan.encode(), 41: b"SIMISO03", 70: b"301"}
        message = build("0800", fields, key)
        connection.sendall(struct.pack(">H", len(message)) + message)
        (size,) = struct.unpack(">H", connection.recv(2))
        body = b""
        while len(body) < size:
            body += connection.recv(size - len(body))
        return body

    try:
        for _ in range(200):
            try:
                connection = socket.create_connection(("127.0.0.1", iso), timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the ISO 8583 listener did not start")
        with connection:
            body = echo(connection, "000001", MAC_KEY)
            answer = parse(body)
            assert (answer.mti, answer.text(11), answer.text(39)) == ("0810", "000001", "00")
            assert answer.fields[128] == cmac(body[:-8], MAC_KEY)  # F70 → secondary bitmap
            connection.settimeout(1.0)
            with pytest.raises(TimeoutError):
                echo(connection, "000002", bytes(16))  # another key: never answered
            connection.settimeout(5.0)
            assert parse(echo(connection, "000003", MAC_KEY)).text(11) == "000003"
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_offline_sales_forwarded_then_refunded_and_voided(
    engine_for: Callable[[str], Engine], sim: tuple[Simulator, int]
) -> None:
    """A sale approved offline while the host is down (the `down` fault: connections refused,
    as on the HTTPS port) goes as 0220 when it is back, and can then be refunded like any
    sale: the host's 0230 gives the RRN the refund refers to, as its 0210 does."""
    simulator, _ = sim
    engine = engine_for("visa-credit")
    await engine.start()
    try:
        await engine.link_checked()
        await simulator_listener(simulator).set_down(True)
        offline = await sale(engine, "9.00")
        other = await sale(engine, "2.00")
        await simulator_listener(simulator).set_down(False)
        report = await engine.flush()
        refund = await engine.refund(offline.id, None, lambda s: None)
        void = await engine.void(other.id, lambda s: None)
    finally:
        await engine.stop()
    assert offline.result is other.result is Result.APPROVED_OFFLINE, offline.message
    assert report.left == 0
    assert refund.result is Result.APPROVED, refund.message
    assert void.result is Result.APPROVED, void.message
    types = [(e["type"], e["amount"]["value"]) for e in ledger(simulator)]
    assert types == [("advice", 900), ("advice", 200), ("refund", 900), ("void", 200)]


async def test_batch_close_out_of_balance_reports_the_hosts_totals(
    engine_for: Callable[[str], Engine], sim: tuple[Simulator, int]
) -> None:
    """The host's books disagree with the terminal's (it booked the sale for 8.00, the terminal
    for 7.00): the 0510 says out of balance (F66 = 2) with the host's own 74/76/86/88, which
    the terminal reports as the JOSE link does."""
    simulator, _ = sim
    engine = engine_for("visa-credit")
    await engine.start()
    try:
        assert (await sale(engine, "7.00")).result is Result.APPROVED
        assert (await sale(engine, "2.00")).result is Result.APPROVED
        with simulator.ledger.transaction():
            simulator.ledger.run(
                "UPDATE entries SET value = 800 WHERE terminal_id = ? AND value = 700", "SIMISO01"
            )
        closed = await engine.close_batch()
    finally:
        await engine.stop()
    assert closed.result == "out_of_balance", closed.message
    assert "OUT OF BALANCE" in closed.message
    host, ours = closed.gateway_totals["sale"]["EUR"], closed.terminal_totals["sale"]["EUR"]
    assert (host["count"], host["total"]["value"]) == (2, 1000)
    assert (ours["count"], ours["total"]["value"]) == (2, 900)


async def test_sign_on_then_echo_at_start(
    engine_for: Callable[[str], Engine], caplog: pytest.LogCaptureFixture
) -> None:
    """The process that opens the link signs on (0800/001) first; the link check is an echo
    (0800/301): both answered 00 by the simulator, so the bank shows online."""
    import logging

    caplog.set_level(logging.INFO, logger="simulators.bank.iso8583")
    engine = engine_for("visa-credit")
    await engine.start()
    try:
        await engine.link_checked()
        online = engine.gateway_online
    finally:
        await engine.stop()
    assert online is True
    network = [r.getMessage() for r in caplog.records if "0800" in r.getMessage()]
    assert network == [
        "ISO 8583 0800 sign-on (001) from terminal 'SIMISO01'",
        "ISO 8583 0800 echo (301) from terminal 'SIMISO01'",
    ]


async def test_card_present_refund_is_credited_within_the_refund_limit(
    engine_for: Callable[[str], Engine], sim: tuple[Simulator, int]
) -> None:
    """A refund to the tapped card with no sale (0200/200000, no F37): the simulator checks the
    card like a sale's and credits it within the refund limit the HTTPS link enforces; above
    it, declined 61 and nothing moves. No PAN or track 2 in clear in the data folder after."""
    from simulators.card.tap import CARDS

    simulator, _ = sim
    simulator.processor.refund_limit_minor = 1000
    engine = engine_for("visa-credit")
    account = simulator.ledger.account_of(CARDS["visa-credit"].pan)
    before = simulator.ledger.card(account)["balance"]
    await engine.start()
    try:
        credited = await engine.card_refund(
            SaleRequest(Amount.parse("7.50", engine.settings.currency)),
            lambda step: None,
            asyncio.Event(),
        )
        over = await engine.card_refund(
            SaleRequest(Amount.parse("10.01", engine.settings.currency)),
            lambda step: None,
            asyncio.Event(),
        )
        batch = await engine.close_batch()
    finally:
        await engine.stop()
    assert credited.result is Result.APPROVED, credited.message
    assert (over.result, over.code) == (Result.DECLINED, "61"), over.message
    assert batch.result == "balanced", batch.message
    # Exactly the credited money, no sale referred to; a decline books nothing (as on HTTPS).
    entries = [(e["type"], e["result"], e["amount"]["value"]) for e in ledger(simulator)]
    assert entries == [("refund", "approved", 750)]
    assert not ledger(simulator)[0].get("ref")
    assert simulator.ledger.card(account)["balance"] - before == 750
    pan = CARDS["visa-credit"].pan.encode()
    for path in engine.settings.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert pan not in data and pan + b"=" not in data, path


def test_a_refund_with_neither_f37_nor_the_card_is_a_format_error(
    sim: tuple[Simulator, int],
) -> None:
    from independent_host import parse

    from terminal.iso8583.codec import Message

    simulator, _ = sim
    fields = {3: "200000", 4: "500", 7: "1207101112", 11: "000009", 41: "SIMISO01", 49: "978"}
    answer = simulator_listener(simulator).handle(Message("0200", dict(fields)))
    assert answer is not None
    assert (parse(answer).mti, parse(answer).text(39)) == ("0210", "30")
    assert ledger(simulator) == []
