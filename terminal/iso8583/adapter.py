"""The ISO 8583 adapter behind the payment core's bank port (bank.py), like gateway_link.py
is for posterm-v1.

`encode` takes a STAN, builds the message (messages.py), encodes it with the dialect (without
the MAC, which depends on the MTI of each attempt), seals it (vault.py) and records it
(store.py); the sealed bytes are what the journal keeps. `deliver` opens them, picks the MTI
of this attempt (a 0400 goes again as 0401, a 0220 — offline advice, completion, tip adjust —
as 0221; a 0200 never goes twice), adds the MAC, sends, and translates what happened once into
a `Delivery`:

- the host cannot be connected to → `NotSent`;
- no answer in time, the link broke, or an answer whose MAC does not verify (logged as a
  security alarm) → `NoAnswer` (then the settlement table queues the reversal);
- stored bytes this terminal cannot open → `Refused` (re-sending cannot help).
"""

from __future__ import annotations

import hashlib
import json
import logging
import ssl
import uuid
from datetime import UTC, datetime
from pathlib import Path

from terminal.iso8583 import messages
from terminal.iso8583.codec import Message, decode, encode, frame, verify_mac
from terminal.iso8583.dialect import Dialect, load_dialect
from terminal.iso8583.errors import Iso8583Error, MacError, MessageError
from terminal.iso8583.link import Key, Link, NoReply, NotConnected
from terminal.iso8583.messages import ANSWER_OF, REPEAT, Identity, Original
from terminal.iso8583.store import Record, Store
from terminal.iso8583.vault import SealError, Vault, message_id_of
from terminal.payment.bank import (
    Answered,
    Delivery,
    NoAnswer,
    NotSent,
    Operation,
    OperationType,
    Refused,
)
from terminal.security.alarms import raise_alarm
from terminal.security.pan import mask_pan
from terminal.settings import Settings

log = logging.getLogger("terminal.iso8583.adapter")

ECHOED = (3, 4, 7, 11, 41, 42)
"""Request fields an answer echoes: an answer that changes one is not the answer."""


class ConfigurationError(Iso8583Error):
    """`[iso8583]` names something that cannot be used (dialect, MAC key, certificates)."""

    exit_code = 2


def read_mac_key(path: str) -> bytes | None:
    """`mac_key_file`: hex AES key of 32 or 64 digits; "" = no MAC. Raises ConfigurationError."""
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(
            f"The ISO 8583 MAC key file {path} cannot be read ({error}); "
            "fix [iso8583] mac_key_file."
        ) from None
    if len(text) not in (32, 64) or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise ConfigurationError(
            f"The ISO 8583 MAC key file {path} must hold 32 or 64 hex digits (an AES key)."
        )
    return bytes.fromhex(text)


def ssl_context_of(settings: Settings) -> ssl.SSLContext | None:
    """TLS verified against `ca_file` (with `client_cert` for mutual TLS), or None (plain
    TCP, which the settings allow only to a loopback host)."""
    section = settings.iso8583
    if not section.tls:
        return None
    try:
        context = ssl.create_default_context(cafile=section.ca_file or None)
        if section.client_cert:
            context.load_cert_chain(section.client_cert)
    except (OSError, ssl.SSLError) as error:
        raise ConfigurationError(
            f"The ISO 8583 TLS files cannot be used ({error}); check [iso8583] ca_file "
            "and client_cert."
        ) from None
    return context


def identity_of(settings: Settings) -> Identity:
    terminal = settings.terminal
    return Identity(
        terminal.terminal_id,
        terminal.merchant_id,
        terminal.merchant_name,
        terminal.merchant_city,
        terminal.country,
        settings.currency.numeric.zfill(3),
        settings.iso8583.acquirer_id,
    )


class IsoBank:
    """Encodes and delivers ISO 8583 messages for one terminal."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        vault: Vault,
        link: Link,
        dialect: Dialect,
        mac_key: bytes | None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.vault = vault
        self.link = link
        self.dialect = dialect
        self.mac_key = mac_key
        self.identity = identity_of(settings)
        self.timeout_s = settings.iso8583.timeout_s
        self._online = False
        self._signed_on = False

    @classmethod
    def from_settings(cls, settings: Settings, store_key: bytes) -> IsoBank:
        """Raises DialectError or ConfigurationError with the technician's sentence."""
        section = settings.iso8583
        dialect = load_dialect(section.dialect)
        mac_key = read_mac_key(section.mac_key_file)
        host, _, port = section.host.rpartition(":")
        link = Link(
            host.strip("[]"),
            int(port),
            dialect,
            ssl_context_of(settings),
            terminal_id=settings.terminal.terminal_id,
            connect_timeout_s=settings.gateway.connect_timeout_s,
            data_dir=settings.data_dir,
        )
        return cls(
            settings, Store.open(settings.data_dir), Vault(store_key), link, dialect, mac_key
        )

    # -- the port ------------------------------------------------------------------------
    def new_id(self) -> str:
        return str(uuid.uuid4())

    def knows(self, message_id: str) -> bool:
        """Did this adapter make the message `message_id` (a sale a refund or void acts on)?"""
        return self.store.get(message_id) is not None

    def original(self, message_id: str) -> Original:
        record = self.store.get(message_id)
        if record is None:
            raise ValueError(f"no ISO 8583 request {message_id} to refer to")
        plain = self.vault.open(record.message_id, record.sealed)
        message = decode(plain, self.dialect)
        return Original(message, record.stan, record.f7, record.rrn, record.auth_code)

    def encode(self, operation: Operation, seq: int, at: datetime) -> bytes:
        stan = self.store.next_stan()
        ident = self.identity
        match operation.type:
            case "authorize":
                message = messages.sale(operation, ident, stan, at)
            case "advice":
                message = messages.advice(operation, ident, stan, at, f"OFL{stan[-3:]}")
            case "reverse":
                assert operation.ref is not None
                message = messages.reversal(ident, stan, at, self.original(operation.ref))
            case "refund":
                # Card present (the tap's fields, like a sale's), referenced (F37), or both.
                original = self.original(operation.ref) if operation.ref else None
                message = messages.refund(operation, ident, stan, at, original)
            case "void":
                assert operation.ref is not None
                message = messages.void(operation, ident, stan, at, self.original(operation.ref))
            case "preauth":
                message = messages.preauth(operation, ident, stan, at)
            case "tip_adjust":
                assert operation.ref is not None
                sale = self.original(operation.ref)
                message = messages.adjustment(operation, ident, stan, at, sale)
            case "increment" | "capture" | "preauth_cancel":
                assert operation.ref is not None
                hold = self.original(operation.ref)
                if operation.type == "increment":
                    message = messages.increment(operation, ident, stan, at, hold)
                elif operation.type == "capture":
                    message = messages.completion(operation, ident, stan, at, hold)
                else:  # the cancel of a hold is the reversal of its authorisation
                    message = messages.reversal(ident, stan, at, hold)
            case "close_batch":
                message = messages.batch(
                    operation.totals or {}, ident, stan, at, self.settings.currency.code
                )
            case _:
                raise ValueError(f"{operation.type} is not carried over ISO 8583")
        sealed = self.vault.seal(operation.id, encode(message, self.dialect))
        f7 = str(message.fields[7])
        self.store.keep(Record(operation.id, operation.type, message.mti, stan, f7, sealed))
        return sealed

    async def deliver(
        self, message_id: str, stored: bytes, *, deadline_s: float | None = None
    ) -> Delivery:
        try:
            request = decode(self.vault.open(message_id, stored), self.dialect)
        except (SealError, MessageError) as error:
            log.error("stored ISO 8583 message %s cannot be used: %s", message_id, error.sentence)
            return Refused(error.sentence, final=True)
        record = self.store.get(message_id)
        kind = record.kind if record else request.mti
        try:
            await self._sign_on()
        except NotConnected as error:
            self._online = False
            if error.untrusted:
                raise_alarm(
                    "bank_certificate_untrusted", message_id=message_id, reason=error.sentence
                )
            return NotSent(error.sentence, untrusted=error.untrusted)
        before = self.store.attempt(message_id)
        if before:
            if request.mti in REPEAT:
                request = request.with_fields(REPEAT[request.mti])
            elif request.mti in ("0100", "0200"):
                # Once a 0100/0200 left the terminal its outcome is never guessed: reverse it.
                return NoAnswer(f"an ISO 8583 {request.mti} is never sent twice")
        try:
            answer, body = await self._exchange(request, deadline_s or self.timeout_s)
        except NotConnected as error:
            self._online = False
            if error.untrusted:
                raise_alarm(
                    "bank_certificate_untrusted", message_id=message_id, reason=error.sentence
                )
            return NotSent(error.sentence, untrusted=error.untrusted)
        except NoReply as error:
            return NoAnswer(error.sentence)
        except MacError as error:
            log.error(
                "security alarm: the answer to %s %s did not verify: %s",
                request.mti,
                message_id,
                error.sentence,
            )
            raise_alarm(
                "forged_bank_answer",
                message_id=message_id,
                link="iso8583",
                reason=error.sentence,
            )
            return NoAnswer(f"unverifiable answer: {error.sentence}")
        except MessageError as error:
            log.error("the answer to %s %s is not taken: %s", request.mti, message_id, error)
            return NoAnswer(f"unusable answer: {error.sentence}")
        reply = messages.reply_of(message_id, kind, answer, body, self.settings.currency.code)
        if (
            reply.result in ("approved", "partial")
            and request.mti in ("0100", "0200", "0220", "0221")
            and kind != "increment"
        ):
            # What a later refund, void or capture sends back: the host's F37, and its F38
            # (for an advice, the terminal's own offline code when the host gives none).
            auth_code = reply.auth_code or request.text(38)
            self.store.answered(message_id, reply.gateway_ref, auth_code)
        return Answered(reply)

    def advises(self, operation: OperationType) -> bool:
        """The 0220s of this dialect: an offline sale's advice, a hold's completion and a tip
        adjust."""
        return operation in ("advice", "capture", "tip_adjust")

    def redact(self, stored: bytes) -> bytes:
        """A record of `stored` for the journal once it can no longer be sent: its MTI, STAN
        and fields, the PAN masked, without expiry, track 2 or ICC data, and the SHA-256 of
        the sealed bytes. The adapter's own record keeps no track 2 nor ICC data either from
        then on (PCI DSS 3.3.1; nothing later sends them again); it keeps the sealed PAN a later
        reversal or refund refers to."""
        message_id = message_id_of(stored)
        if stored.startswith(b"{") or message_id is None:
            return stored
        try:
            request = decode(self.vault.open(message_id, stored), self.dialect)
        except (SealError, MessageError) as error:
            log.error("a stored ISO 8583 request cannot be opened (%s); left as it is", error)
            return stored
        record = self.store.get(message_id)
        if record is not None and (35 in request.fields or 55 in request.fields):
            kept = encode(request.with_fields(f35=None, f55=None), self.dialect)
            self.store.reseal(message_id, self.vault.seal(message_id, kept))
        fields = {
            str(n): mask_pan(str(v)) if n == 2 else (v.hex() if isinstance(v, bytes) else v)
            for n, v in sorted(request.fields.items())
            if n not in (14, 35, 55)
        }
        summary = {
            "redacted": "iso8583",
            "id": message_id,
            "mti": request.mti,
            "fields": fields,
            "sealed_sha256": hashlib.sha256(stored).hexdigest(),
        }
        return json.dumps(summary, sort_keys=True, separators=(",", ":")).encode()

    async def health(self) -> bool:
        """An 0800 echo (301); an 0810 with F39 other than 00 means the link is down."""
        try:
            await self._sign_on()
            self._online = await self._network(messages.ECHO)
        except (NotConnected, NoReply, MacError, MessageError) as error:
            log.warning("ISO 8583 echo failed: %s", error.sentence)
            self._online = False
        return self._online

    @property
    def online(self) -> bool:
        return self._online

    async def aclose(self) -> None:
        await self.link.aclose()
        self.store.close()

    # -- inside --------------------------------------------------------------------------
    async def _exchange(self, request: Message, timeout_s: float) -> tuple[Message, bytes]:
        body = encode(request, self.dialect, self.mac_key)
        key: Key = (ANSWER_OF[request.mti], request.text(11), self.identity.terminal_id)
        answer = await self.link.exchange(key, frame(body, self.dialect), timeout_s=timeout_s)
        if self.mac_key is not None:
            verify_mac(answer.body, answer.message, self.mac_key)
        sent = decode(body, self.dialect)
        partial = answer.message.mti == "0210" and answer.message.text(39) == messages.PARTIAL
        for number in ECHOED:
            theirs = answer.message.fields.get(number)
            if number == 4 and partial:  # a partial approval's F4 is the amount approved
                continue
            if theirs is not None and number in sent.fields and theirs != sent.fields[number]:
                raise MessageError(
                    f"the host's {answer.message.mti} echoes field {number} as "
                    f"{answer.message.text(number)!r}, not as sent",
                    field=str(number),
                )
        self._online = True
        return answer.message, answer.body

    async def _network(self, code: str) -> bool:
        stan = self.store.next_stan()
        request = messages.network(code, self.identity, stan, datetime.now(UTC))
        answer, _ = await self._exchange(request, self.timeout_s)
        if answer.text(39) != "00":
            log.warning("the acquirer host answered 0800/%s with %s", code, answer.text(39))
            return False
        return True

    async def _sign_on(self) -> None:
        """Sign on once per process, when the link first opens. Raises NotConnected."""
        await self.link.connect()
        if self._signed_on:
            return
        self._signed_on = True
        try:
            self._online = await self._network(messages.SIGN_ON)
        except (NoReply, MacError, MessageError) as error:
            log.warning("ISO 8583 sign-on had no valid answer: %s", error.sentence)
