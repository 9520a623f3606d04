"""The payment core's one port to the bank: operations as data in, four delivery endings out.

The engine never builds a protocol message. It describes what it wants as an `Operation`
(type, amount, entry, card data, references, offline facts, totals) and the adapter behind
`Bank` turns it into the exact bytes that are journaled and later sent (`encode`), seals the
card data on the way (the engine hands over `CardData`, never a sealed object), and delivers
stored bytes (`deliver`). What the stored bytes look like (a JWS today, an encrypted ISO 8583
frame tomorrow) is the adapter's business; the journal keeps them opaque.

The adapter translates its library's errors once into a `Delivery`, one of four kinds, and
`settlement.py` alone decides what each means for a transaction (PROTOCOL.md rules 3 and 4):

- `Answered`: a verified answer; its `result` and `code` decide the transaction.
- `NotSent`: nothing left the terminal (connect failed) → offline rules may apply, unless the
  bank's identity failed verification (`untrusted`: a security alarm, no offline approval
  while `offline.suspend_on_tls_failure` holds).
- `NoAnswer`: sent, no valid answer before the deadline even after re-sending the same id
  → queue a reversal durably before telling the operator.
- `Refused`: the bank refused the message itself; it had no effect.
- `LocalFault`: the terminal itself failed before sending (out of file handles, memory, disk):
  nothing was sent, but the bank is not unreachable, so offline rules must not apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from terminal.emv.card_data import CardData
from terminal.money import Amount

OperationType = Literal[
    "authorize",
    "advice",
    "reverse",
    "refund",
    "void",
    "qr_intent",
    "qr_status",
    "close_batch",
    "tip_adjust",
    "preauth",
    "increment",
    "capture",
    "preauth_cancel",
]


@dataclass(frozen=True, slots=True)
class OfflineApproval:
    """Why and under which limit the terminal approved a sale itself (advice only)."""

    floor_limit: int
    """Minor units of the floor limit the sale was under."""
    reason: str = "gateway_unreachable"


@dataclass(frozen=True, slots=True)
class Operation:
    """One message the engine wants sent, as data; the adapter makes its bytes."""

    type: OperationType
    id: str
    """The message id, also the idempotency key of every retry."""
    amount: Amount | None = None
    entry: str | None = None
    """nfc, qr_cpm or qr_mpm."""
    card: CardData | None = None
    """The tapped card, in memory only: the adapter seals it for the bank."""
    qr_text: str | None = None
    """A scanned customer-presented code (qr_cpm), sealed like card data."""
    qr_scheme: str | None = None
    """The wallet of a scanned wallet pay code (wechatpay, alipay, unionpay): the bank routes
    by it; the code itself stays sealed."""
    ref: str | None = None
    """The message or transaction this one acts on (reverse, refund, void, qr_status)."""
    offline: OfflineApproval | None = None
    totals: dict[str, Any] | None = None
    allow_partial: bool = False
    """authorize: the issuer may approve less than `amount` (split tender follows)."""
    tip: Amount | None = None
    """tip_adjust: the new tip, included in `amount` (the adjusted total); capture: its tip,
    included in `amount` (kept apart for the bank and the receipt)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A bank answer whose authenticity the adapter verified."""

    id: str
    type: str
    result: str
    code: str = ""
    auth_code: str = ""
    reason: str = ""
    gateway_ref: str = ""
    at: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    raw: bytes = b""

    @property
    def approved_amount(self) -> Amount | None:
        """A partial approval's amount (`approved_amount` in the answer), None when absent or
        not an amount: the settlement treats such an answer as one it cannot trust."""
        try:
            return Amount.from_json(self.payload.get("approved_amount"))
        except (ValueError, TypeError):
            return None


@dataclass(frozen=True, slots=True)
class Answered:
    """The bank answered, and the answer verified."""

    reply: Reply


@dataclass(frozen=True, slots=True)
class NotSent:
    """Nothing left the terminal."""

    detail: str = ""
    """For the log and `saf status`, e.g. "connect timeout"."""
    untrusted: bool = False
    """The connection failed because the bank's certificate did not verify (security alarm)."""


@dataclass(frozen=True, slots=True)
class NoAnswer:
    """The message may have arrived; no valid answer came before the deadline."""

    detail: str = ""


@dataclass(frozen=True, slots=True)
class Refused:
    """The bank refused the message itself (format, signature, id conflict, stale)."""

    detail: str = ""
    """e.g. "409 id_conflict"."""
    final: bool = True
    """Re-sending the same bytes cannot help (the queue parks the message)."""


@dataclass(frozen=True, slots=True)
class LocalFault:
    """The terminal failed before anything left it; not the bank's fault."""

    detail: str = ""
    """What ran out, for the operator's sentence, e.g. "ran out of file handles (EMFILE)"."""


Delivery = Answered | NotSent | NoAnswer | Refused | LocalFault
"""How sending one stored message ended; `settlement.classify` matches it exhaustively."""


class Bank(Protocol):
    """What the payment core needs from a bank adapter."""

    def new_id(self) -> str:
        """A fresh message id (the adapter's form of idempotency key)."""
        ...

    def encode(self, operation: Operation, seq: int, at: datetime) -> bytes:
        """The exact bytes to journal and send for `operation`, numbered `seq`, made at `at`."""
        ...

    async def deliver(
        self, message_id: str, stored: bytes, *, deadline_s: float | None = None
    ) -> Delivery:
        """Send `stored` (re-sending the same bytes until the deadline); how it ended."""
        ...

    def advises(self, operation: OperationType) -> bool:
        """Does this link carry `operation` as an advice: the host is told of something the
        terminal decided, rather than asked? Then the core commits it to the store-and-forward
        queue and re-sends it until answered, never reverses it (a tip adjust over ISO 8583 is
        a 0220; over posterm-v1 it is a request answered at once)."""
        ...

    def redact(self, stored: bytes) -> bytes:
        """`stored` without its card data (sealed card, scanned code), kept for audit once it
        can no longer be re-sent (PCI DSS 3.3.1: no track data after authorisation, even
        encrypted); the same bytes when there is none or it was already redacted."""
        ...

    async def health(self) -> bool:
        """The bank's link check."""
        ...

    @property
    def online(self) -> bool:
        """Last known state of the link."""
        ...

    async def aclose(self) -> None: ...
