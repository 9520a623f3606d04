"""The simulator's ISO 8583 listener (`posterm gateway-sim --iso8583-listen HOST:PORT`).

The same acquirer as the HTTPS listener: each ISO 8583 request becomes the `Request` the
processor already understands and runs in a ledger transaction, so the issuer rules, ARQC
checks, balances, idempotency store and `/sim/ledger` are shared by both links. Faults apply
too: `down` stops this listener with the HTTPS port (connections refused, open ones cut), so a
terminal sees "not connected" and its offline rules apply the same on both links;
`drop_before` swallows a request, `drop_after` processes it and swallows the answer,
`delay_ms` delays the answer.

Given the MAC key (`--iso8583-mac-key FILE`, the hex file a terminal's `[iso8583]
mac_key_file` names), it MACs its answers and checks every request's MAC like a host of the
posterm-1987 dialect: a request whose MAC does not verify is logged as a security alarm and
gets no answer (so a sale is reversed, and a reversal is never taken as done); nothing of it
reaches the processor or the ledger.

How ISO 8583 maps onto the protocol's ids (the processor keys everything by message id):
a request's id is a UUID made from (terminal, MTI class, STAN, F7), so a repeat (0401, 0221)
is the same message and answered from the store; a reversal's `ref` is made the same way
from F90; F37 (RRN) is the first 12 hex digits of the sale's (or the advice's) id, which
refunds and voids send back. A hold is a 0100 with card data, its increment a 0100 with F37 of
the hold, its capture a 0220 with F25 06 and F37 (F54 the tip), its cancel a 0400 of the hold.
A tip adjust is a 0220 with F3 020000 whose F90 names the sale (made the same way as a
reversal's `ref`), F4 the new total and F54 the tip: the processor's `tip_adjust`.
A refund without F37 but with the card (F2, F35, F55) is a card-present refund: the card is
checked like a sale's and credited within the refund limit (`/sim/refund-limit`), as on the
HTTPS link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from simulators.bank.requests import Request
from terminal.emv import tlv
from terminal.emv.errors import EmvError
from terminal.gateway.jose import encrypt_to
from terminal.gateway.messages import encode_payload, utc_timestamp
from terminal.iso8583.codec import Message, Value, decode, encode, frame, verify_mac
from terminal.iso8583.dialect import Dialect, load_dialect
from terminal.iso8583.errors import MacError, MessageError
from terminal.iso8583.messages import (
    ADJUSTMENT,
    PARTIAL,
    PARTIAL_ACCEPTED,
    PREAUTHORISED,
    TIP_AMOUNT_TYPE,
)
from terminal.iso_codes import UnknownCurrency, currency
from terminal.money import Amount

if TYPE_CHECKING:
    from simulators.bank.server import Simulator

log = logging.getLogger("simulators.bank.iso8583")

_IDS = uuid.UUID("5f8c3a52-95d3-4c1e-9a51-7c0de8583000")
_KINDS = {"000000": "authorize", "200000": "refund", "020000": "void"}
ECHOED = (3, 4, 7, 11, 41, 42)


def message_id(terminal_id: str, mti: str, stan: str, f7: str) -> str:
    """The protocol id of an ISO 8583 request: the same for a request and its repeat."""
    return str(uuid.uuid5(_IDS, f"{terminal_id}/{mti[:3]}/{stan}/{f7}"))


def rrn_of(message: str) -> str:
    return message.replace("-", "")[:12].upper()


class IsoListener:
    """Answers ISO 8583 requests with the simulator's processor and ledger."""

    def __init__(
        self, sim: Simulator, dialect: Dialect | None = None, mac_key: bytes | None = None
    ) -> None:
        self.sim = sim
        self.dialect = dialect or load_dialect()
        self.mac_key = mac_key
        self.server: asyncio.Server | None = None
        self._listen: tuple[str, int, ssl.SSLContext | None] | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    async def start(self, host: str, port: int, tls: ssl.SSLContext | None) -> int:
        self.server = await asyncio.start_server(self._serve, host, port, ssl=tls)
        bound = int(self.server.sockets[0].getsockname()[1])
        self._listen = (host, bound, tls)
        return bound

    async def stop(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            server.close()
            for writer in list(self._connections):
                writer.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()

    async def set_down(self, down: bool) -> None:
        """The `down` fault: stop listening and cut open connections, or listen again on the
        same port."""
        if down:
            await self.stop()
        elif self.server is None and self._listen is not None:
            await self.start(*self._listen)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        width = self.dialect.length_prefix
        self._connections.add(writer)
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(width), "big")
                body = await reader.readexactly(size)
                faults = self.sim.faults
                if faults.down or self.sim.hit(faults.drop_before):
                    continue
                answer = await self._answer_of(body)
                if answer is None or self.sim.hit(faults.drop_after):
                    continue
                if faults.delay_ms:
                    await asyncio.sleep(faults.delay_ms / 1000)
                writer.write(frame(answer, self.dialect))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._connections.discard(writer)
            writer.close()

    async def _answer_of(self, body: bytes) -> bytes | None:
        try:
            message = decode(body, self.dialect)
        except MessageError as error:
            log.warning("ISO 8583 request not understood, ignored: %s", error.sentence)
            return None
        if self.mac_key is not None:
            try:
                verify_mac(body, message, self.mac_key)
            except MacError as error:
                log.warning(
                    "security alarm: ISO 8583 %s STAN %s from terminal %r not answered, its MAC "
                    "failed: %s",
                    message.mti,
                    message.text(11),
                    message.text(41),
                    error.sentence,
                )
                return None
        await self.sim.settle()
        committed = self.sim._join_commit()
        try:
            answer = self.handle(message)
        finally:
            await committed
        return answer

    def handle(self, message: Message, now: datetime | None = None) -> bytes | None:
        """The answer's bytes, with the MAC when the listener has the key."""
        now = now or datetime.now(UTC)
        if message.mti == "0800":
            code = message.text(70)
            what = {"001": "sign-on", "301": "echo"}.get(code, "network message")
            log.info("ISO 8583 0800 %s (%s) from terminal %r", what, code, message.text(41))
            return self._reply(message, {39: "00", 70: code})
        request = self._request_of(message, now)
        if request is None:
            return self._reply(message, {39: "30"})  # format error
        with self.sim.ledger.transaction():
            stored = self.sim.ledger.stored(request.id)
            if stored is not None:
                return bytes(stored["answer"])
            result: dict[str, Any] = self.sim.processor.process(request, now)
            answer = self._reply(message, self._fields_of(message, request, result))
            self.sim.ledger.run(
                "INSERT INTO messages (id, terminal_id, type, digest, answer, result,"
                " received_at) VALUES (?,?,?,?,?,?,?)",
                request.id,
                request.terminal_id,
                request.type,
                "iso8583",
                answer,
                result["result"],
                utc_timestamp(now),
            )
        log.info("ISO 8583 %s %s: %s %s", message.mti, request.id, result["result"], result["code"])
        return answer

    # -- ISO 8583 → Request ----------------------------------------------------------------
    def _request_of(self, message: Message, now: datetime) -> Request | None:
        terminal_id = message.text(41)
        stan, f7 = message.text(11), message.text(7)
        common: dict[str, Any] = {
            "id": message_id(terminal_id, message.mti, stan, f7),
            "terminal_id": terminal_id,
            "merchant_id": message.text(42),
            "seq": 0,
            "created_at": now,
        }
        try:
            amount = self._amount(message)
            match message.mti[:3]:
                case "020":
                    kind = _KINDS[message.text(3)]
                    if kind == "authorize":
                        card = self._sealed_card(message)
                        partial = message.text(60) == PARTIAL_ACCEPTED
                        return Request(
                            "authorize",
                            **common,
                            amount=amount,
                            entry="nfc",
                            card=card,
                            allow_partial=partial,
                        )
                    if kind == "refund" and 37 not in message.fields:
                        # Card present, no sale: the processor's card refund (refund limit).
                        if 2 not in message.fields or 35 not in message.fields:
                            raise ValueError("a refund needs F37 (the sale) or the card (F2, F35)")
                        card = self._sealed_card(message)
                        return Request("refund", **common, amount=amount, entry="nfc", card=card)
                    return Request(kind, **common, amount=amount, ref=self._by_rrn(message))
                case "010":  # a hold (card present) or its increment (F37 of the hold)
                    if 2 in message.fields:
                        card = self._sealed_card(message)
                        return Request("preauth", **common, amount=amount, entry="nfc", card=card)
                    return Request("increment", **common, amount=amount, ref=self._by_rrn(message))
                case "022" if message.text(25) == PREAUTHORISED:  # completion of a hold
                    tip = self._tip(message)
                    ref = self._by_rrn(message)
                    return Request("capture", **common, amount=amount, ref=ref, tip=tip)
                case "022" if message.text(3) == ADJUSTMENT:  # a tip adjust; F90 is the sale
                    f90 = message.text(90)
                    ref = message_id(terminal_id, f90[:4], f90[4:10], f90[10:20])
                    tip = self._tip(message)
                    return Request("tip_adjust", **common, amount=amount, ref=ref, tip=tip)
                case "022":
                    card = self._sealed_card(message)
                    offline = {"approved_at": utc_timestamp(now), "reason": "gateway_unreachable"}
                    return Request(
                        "advice", **common, amount=amount, entry="nfc", card=card, offline=offline
                    )
                case "040":
                    f90 = message.text(90)
                    ref = message_id(terminal_id, f90[:4], f90[4:10], f90[10:20])
                    return Request("reverse", **common, ref=ref)
                case "050":
                    return Request("close_batch", **common, totals=self._totals(message))
        except (KeyError, ValueError, EmvError, UnknownCurrency) as error:
            log.warning("ISO 8583 %s cannot be processed: %s", message.mti, error)
        return None

    def _amount(self, message: Message) -> Amount | None:
        if 4 not in message.fields:
            return None
        return Amount.of(int(message.text(4)), currency(message.text(49)).code)

    def _tip(self, message: Message) -> Amount | None:
        """F54 with amount type 44 (gratuity): a completion's or a tip adjust's tip."""
        text = message.text(54)
        for start in range(0, len(text) - 19, 20):
            entry = text[start : start + 20]
            if entry[2:4] == TIP_AMOUNT_TYPE:
                return Amount.of(int(entry[8:20]), currency(entry[4:7]).code)
        return None

    def _sealed_card(self, message: Message) -> dict[str, Any]:
        """The card as the JOSE link would carry it: sealed to the simulator's own key."""
        emv_data = message.fields.get(55, b"")
        assert isinstance(emv_data, bytes)
        emv = {
            tag: value.hex().upper() for tag, value in tlv.primitives(tlv.decode(emv_data)).items()
        }
        plain = {
            "pan": message.text(2),
            "expiry": message.text(14),
            "psn": message.text(23)[-2:] if 23 in message.fields else "",
            "track2": message.text(35).replace("=", "D"),
            "emv": emv,
        }
        public = self.sim.keys.encryption
        return {"data": encrypt_to(public, encode_payload(plain))}

    def _by_rrn(self, message: Message) -> str:
        rrn = message.text(37).lower()
        if not rrn:
            raise ValueError("a refund or void needs F37")
        row = self.sim.ledger.one(
            "SELECT id FROM entries WHERE replace(id, '-', '') LIKE ? AND terminal_id = ?",
            rrn + "%",
            message.text(41),
        )
        if row is None:
            raise ValueError(f"no sale with RRN {rrn.upper()}")
        return str(row["id"])

    def _totals(self, message: Message) -> dict[str, Any]:
        code = currency(message.text(49)).code

        def line(count: int, value: int) -> dict[str, Any]:
            if not count and not value:
                return {}
            return {code: {"count": count, "total": {"value": value, "currency": code}}}

        return {
            "sale": line(int(message.text(76)), int(message.text(88))),
            "refund": line(int(message.text(74)), int(message.text(86))),
        }

    # -- result → ISO 8583 -----------------------------------------------------------------
    def _fields_of(
        self, message: Message, request: Request, result: dict[str, Any]
    ) -> dict[int, Value]:
        fields: dict[int, Value] = {39: str(result.get("code") or "05")[:2].ljust(2)}
        if result["result"] in ("approved", "reversed", "balanced", "out_of_balance"):
            fields[39] = "00"
        if result["result"] in ("approved", "partial") and message.mti[:3] in ("010", "020", "022"):
            fields[37] = rrn_of(request.id)  # a later refund or void of the sale sends it back
            if result.get("auth_code"):
                fields[38] = str(result["auth_code"])[:6]
        if result["result"] == "partial" and message.mti == "0200":
            # Response code 10: F4 is what was approved, F54 (amount type 57) what was asked.
            approved = result.get("approved_amount", {})
            fields[39] = PARTIAL
            fields[4] = str(int(approved.get("value", 0)))
            fields[54] = "0057" + message.text(49) + "C" + message.text(4).zfill(12)
        if message.mti[:3] == "050":
            fields[66] = "1" if result["result"] == "balanced" else "2"
            if result["result"] != "balanced":
                theirs = result.get("totals", {})
                code = currency(message.text(49)).code

                def figures(kind: str) -> tuple[int, int]:
                    line = theirs.get(kind, {}).get(code, {})
                    return int(line.get("count", 0)), int(line.get("total", {}).get("value", 0))

                (debits, debit_sum), (credits, credit_sum) = figures("sale"), figures("refund")
                fields.update({74: str(credits), 76: str(debits)})
                fields.update({86: str(credit_sum), 88: str(debit_sum)})
        return fields

    def _reply(self, message: Message, fields: dict[int, Value]) -> bytes:
        mti = message.mti[:2] + str(int(message.mti[2]) + 1) + "0"
        echoed = {n: v for n, v in message.fields.items() if n in ECHOED}
        return encode(Message(mti, {**echoed, **fields}), self.dialect, self.mac_key)
