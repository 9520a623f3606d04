"""What the simulated gateway does with each verified request (PROTOCOL.md "Rules").

Runs inside the ledger transaction the server opened for the message, so balances, entries and
the stored answer commit together. Returns the answer payload; the server signs it.

Results: authorize/advice/refund approved|declined; preauth/increment/capture/preauth_cancel
approved|declined, capture and increment of an expired hold expired (holds.py); reverse
always reversed (idempotent, also for unknown ids, which are remembered so a late-arriving
original is declined 05); void
approved|declined; qr_intent pending; qr_status pending|approved|declined|expired;
close_batch balanced|out_of_balance. Unknown or unsuitable refs get declined 12.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from simulators.bank.holds import HoldRules, Holds
from simulators.bank.intents import auth_code
from simulators.bank.issuer import (
    APPROVE,
    CardSecret,
    Decision,
    FraudRule,
    check_cryptogram,
    check_funds,
    check_status,
    decode_card_data,
    partial_approval,
)
from simulators.bank.ledger import Ledger
from simulators.bank.paycodes import PayCodes
from simulators.bank.requests import Malformed, Request, normalise_totals
from simulators.bank.setup import SimKeys
from simulators.card.testcards import IssuerKeys
from terminal.gateway.jose import JoseFailure, decrypt_with
from terminal.gateway.messages import parse_timestamp, utc_timestamp
from terminal.money import Amount

log = logging.getLogger("simulators.bank")

SALE_TYPES = ("authorize", "advice", "qr_intent")

REFUND_LIMIT_MINOR = 50_000
"""Most a card-present refund without a sale to refer to may credit (500.00 in the card's
currency), as acquirers cap unreferenced refunds; above it the answer is declined 61."""


class Processor(Holds, PayCodes):
    """The issuer/acquirer logic of the simulator."""

    def __init__(
        self,
        ledger: Ledger,
        keys: SimKeys,
        issuers: dict[str, IssuerKeys],
        *,
        intent_ttl_s: float = 120.0,
    ) -> None:
        self.ledger = ledger
        self.keys = keys
        self.issuers = issuers
        self.intent_ttl_s = intent_ttl_s
        self.fraud = FraudRule()
        self.refund_limit_minor = REFUND_LIMIT_MINOR
        self.rules = HoldRules()

    def process(self, req: Request, now: datetime) -> dict[str, Any]:
        self.expire_holds(now)  # an expired hold gives its amount back before anything else
        handler = getattr(self, f"_{req.type}")
        answer: dict[str, Any] = handler(req, now)
        return answer

    # -- answers ------------------------------------------------------------------------

    # -- card payments --------------------------------------------------------------------

    def _authorize(self, req: Request, now: datetime) -> dict[str, Any]:
        if self.ledger.one("SELECT 1 FROM tombstones WHERE id = ?", req.id):
            return self._declined(req, now, Decision("05", "reversed before it arrived"))
        if req.entry == "qr_cpm" and "scheme" in req.qr:
            try:
                text = decrypt_with(self.keys.encryption, req.qr.get("data"))
            except JoseFailure:
                return self._declined(req, now, Decision("14", "scanned code cannot be read"))
            return self.pay_with_code(req, text, now)
        if req.entry == "qr_cpm":
            return self._charge(req, now, *self._code_payment(req, now))
        card, decision = self._card_payment(req, req.created_at)
        assert req.amount is not None
        part = (
            partial_approval(card, req.amount, decision, req.allow_partial)
            if card is not None
            else None
        )
        if card is not None and part is not None:
            return self._charge_partial(req, now, card, part)
        return self._charge(req, now, card, decision)

    def _charge_partial(
        self, req: Request, now: datetime, card: sqlite3.Row, part: Amount
    ) -> dict[str, Any]:
        """Approve what the balance covers (ISO 8583 response code 10, partial approval)."""
        code = auth_code()
        self.ledger.move(card["account"], -part.minor)
        self._book(req, now, card["account"], part, "partial", code)
        return self._answer(
            req,
            now,
            "partial",
            "10",
            f"partial approval: the balance covers {part}",
            auth=code,
            approved_amount=dict(part.to_json()),
        )

    def _advice(self, req: Request, now: datetime) -> dict[str, Any]:
        approved_at = req.created_at
        try:
            approved_at = parse_timestamp(req.offline.get("approved_at"))
        except ValueError:
            pass
        return self._charge(req, now, *self._card_payment(req, approved_at))

    def _card_payment(self, req: Request, when: datetime) -> tuple[sqlite3.Row | None, Decision]:
        assert req.amount is not None
        try:
            plaintext = decrypt_with(self.keys.encryption, req.card.get("data"))
        except JoseFailure:
            return None, Decision("14", "card data cannot be read")
        secret = decode_card_data(plaintext)
        if secret is None:
            return None, Decision("14", "card data is incomplete")
        card = self.ledger.card(self.ledger.account_of(secret.pan))
        if card is None:
            return None, Decision("14", "unknown card")
        amount = req.amount
        checks: tuple[Callable[[], Decision], ...] = (  # in order: the first refusal decides
            lambda: check_status(card, when),
            lambda: check_cryptogram(card, secret, amount, self.issuers),
            lambda: self._first_use(card["account"], secret, req.id),
            lambda: check_funds(self.ledger, card, amount, when, self.fraud),
        )
        for check in checks:
            decision = check()
            if not decision.approved:
                return card, decision
        return card, APPROVE

    def _first_use(self, account: str, secret: CardSecret, message_id: str) -> Decision:
        """A verified cryptogram is good for one message: card data replayed under a new id
        (same ATC, same cryptogram) is declined 05. Remembered in this message's commit."""
        arqc, atc = secret.emv.get("9F26", ""), secret.emv.get("9F36", "")
        seen = self.ledger.one(
            "SELECT message_id FROM cryptograms WHERE account = ? AND arqc = ?", account, arqc
        )
        if seen is not None and seen["message_id"] != message_id:
            number = int(atc, 16) if atc else 0
            return Decision("05", f"replayed cryptogram (ATC {number} already used)")
        self.ledger.run(
            "INSERT OR IGNORE INTO cryptograms (account, arqc, atc, message_id) VALUES (?,?,?,?)",
            account,
            arqc,
            atc,
            message_id,
        )
        return APPROVE

    def _code_payment(self, req: Request, now: datetime) -> tuple[sqlite3.Row | None, Decision]:
        assert req.amount is not None
        try:
            text = decrypt_with(self.keys.encryption, req.qr.get("data"))
        except JoseFailure:
            return None, Decision("14", "scanned code cannot be read")
        digest = hashlib.sha256(text).hexdigest()
        code = self.ledger.one("SELECT * FROM codes WHERE digest = ?", digest)
        if code is None:
            return None, Decision("14", "unknown payment code")
        if code["used_by"] and code["used_by"] != req.id:
            return None, Decision("65", "this one-time code was already used")
        if parse_timestamp(code["expires_at"]) < now:
            return None, Decision("54", "the payment code expired")
        card = self.ledger.card(code["account"])
        if card is None:
            return None, Decision("14", "unknown card")
        for decision in (
            check_status(card, now),
            check_funds(self.ledger, card, req.amount, now, self.fraud),
        ):
            if not decision.approved:
                return card, decision
        self.ledger.run("UPDATE codes SET used_by = ? WHERE digest = ?", req.id, digest)
        return card, APPROVE

    def _charge(
        self, req: Request, now: datetime, card: sqlite3.Row | None, decision: Decision
    ) -> dict[str, Any]:
        if card is None or not decision.approved:
            return self._declined(req, now, decision)
        assert req.amount is not None
        code = auth_code()
        self.ledger.move(card["account"], -req.amount.minor)
        self._book(req, now, card["account"], req.amount, "approved", code)
        return self._answer(req, now, "approved", "00", auth=code)

    def _book(
        self, req: Request, now: datetime, account: str, amount: Amount, result: str, auth: str
    ) -> None:
        self.ledger.add_entry(
            id=req.id,
            ref=req.ref,
            type=req.type,
            terminal_id=req.terminal_id,
            value=amount.minor,
            currency=amount.currency.code,
            result=result,
            code="00",
            at=utc_timestamp(now),
            account=account,
            auth_code=auth,
        )

    # -- acting on earlier transactions ------------------------------------------------------

    def _target(self, ref: str) -> sqlite3.Row | None:
        """The ledger entry `ref` names: a message id, or an intent id of a paid QR sale."""
        entry = self.ledger.entry(ref)
        if entry is None:
            intent = self.ledger.intent(ref)
            if intent is not None:
                entry = self.ledger.entry(intent["message_id"])
        return entry

    def _tip_adjust(self, req: Request, now: datetime) -> dict[str, Any]:
        """A new total (the sale plus its new tip) for a sale of the open batch; the ledger
        entry carries the adjusted total, the adjust's own entry the difference."""
        assert req.amount is not None
        target = self._target(req.ref)
        if target is None or target["type"] not in ("authorize", "advice"):
            return self._declined(req, now, Decision("12", "no card sale with this reference"))
        if target["state"] != "active":
            return self._declined(req, now, Decision("12", f"the sale was {target['state']}"))
        if target["batch"] != self.ledger.batch(target["terminal_id"]):
            return self._declined(req, now, Decision("12", "already settled: the batch closed"))
        if target["refunded"]:
            return self._declined(req, now, Decision("12", "partly refunded"))
        if req.amount.currency.code != target["currency"] or req.amount.minor <= 0:
            return self._declined(req, now, Decision("13", "invalid adjusted amount"))
        delta = req.amount.minor - int(target["value"])
        card = self.ledger.card(target["account"])
        if card is not None and delta > 0 and card["balance"] < delta:
            return self._declined(req, now, Decision("51", "insufficient funds for the tip"))
        self.ledger.move(target["account"], -delta)
        self.ledger.run("UPDATE entries SET value = ? WHERE id = ?", req.amount.minor, target["id"])
        self.ledger.add_entry(
            id=req.id,
            ref=target["id"],
            type="tip_adjust",
            terminal_id=req.terminal_id,
            value=delta,
            currency=target["currency"],
            result="approved",
            code="00",
            at=utc_timestamp(now),
            account=target["account"],
        )
        return self._answer(req, now, "approved", "00", auth=target["auth_code"])

    def _reverse_tip_adjust(self, req: Request, now: datetime, adjust: sqlite3.Row) -> None:
        """Undo an adjust whose answer the terminal never got: the sale's total as before."""
        delta = int(adjust["value"])
        self.ledger.move(adjust["account"], delta)
        self.ledger.run("UPDATE entries SET value = value - ? WHERE id = ?", delta, adjust["ref"])
        self.ledger.run("UPDATE entries SET state = 'reversed' WHERE id = ?", adjust["id"])
        self.ledger.add_entry(
            id=req.id,
            ref=adjust["id"],
            type="reverse",
            terminal_id=req.terminal_id,
            value=delta,
            currency=adjust["currency"],
            result="reversed",
            code="00",
            at=utc_timestamp(now),
            account=adjust["account"],
        )

    def _reverse(self, req: Request, now: datetime) -> dict[str, Any]:
        if self.cancel_wallet_payment(req.ref, now):
            return self._answer(req, now, "reversed", "00", "nothing was charged")
        target = self._target(req.ref)
        if target is not None and target["type"] == "tip_adjust":
            if target["state"] == "active":
                self._reverse_tip_adjust(req, now, target)
            return self._answer(req, now, "reversed", "00")
        if target is None:
            intent = self.ledger.intent(req.ref)
            if intent is not None and intent["state"] == "pending":
                self._set_intent(intent["intent_id"], "reversed", "05", "reversed")
            elif intent is None and self.ledger.stored(req.ref) is None:
                self.ledger.run(
                    "INSERT OR IGNORE INTO tombstones (id, at) VALUES (?, ?)",
                    req.ref,
                    utc_timestamp(now),
                )
            return self._answer(req, now, "reversed", "00", "nothing was charged")
        if target["type"] in ("preauth", "increment"):
            return self.reverse_hold(req, now, target)
        if target["type"] not in (*SALE_TYPES, "refund"):
            return self._declined(req, now, Decision("12", "a reversal or void is final"))
        if target["state"] != "active":
            return self._answer(req, now, "reversed", "00", f"already {target['state']}")
        restored = self._undo(target, "reversed")
        self.ledger.add_entry(
            id=req.id,
            ref=target["id"],
            type="reverse",
            terminal_id=req.terminal_id,
            value=restored,
            currency=target["currency"],
            result="reversed",
            code="00",
            at=utc_timestamp(now),
            account=target["account"],
        )
        return self._answer(req, now, "reversed", "00")

    def _undo(self, target: sqlite3.Row, state: str) -> int:
        """Give back what `target` moved (what is left of it); returns the minor units moved."""
        if target["type"] == "refund":
            amount = int(target["value"])
            self.ledger.move(target["account"], -amount)
            self.ledger.run(
                "UPDATE entries SET refunded = refunded - ? WHERE id = ?", amount, target["ref"]
            )
        else:
            amount = int(target["value"]) - int(target["refunded"])
            self.ledger.move(target["account"], self.debit_of(target["id"], amount))
            intent = self.ledger.intent(target["id"])
            if intent is not None:
                self._set_intent(intent["intent_id"], state, "05", state)
        self.ledger.run("UPDATE entries SET state = ? WHERE id = ?", state, target["id"])
        return amount

    def _void(self, req: Request, now: datetime) -> dict[str, Any]:
        target = self._target(req.ref)
        if target is None:
            intent = self.ledger.intent(req.ref)
            if intent is None:
                return self._declined(req, now, Decision("12", "unknown transaction"))
            if intent["state"] == "pending":
                self._set_intent(intent["intent_id"], "voided", "05", "cancelled by the merchant")
            return self._answer(req, now, "approved", "00", "nothing was charged")
        if target["type"] not in SALE_TYPES:
            return self._declined(req, now, Decision("12", "only sales can be voided"))
        if target["state"] != "active":
            return self._answer(req, now, "approved", "00", f"already {target['state']}")
        if target["batch"] != self.ledger.batch(target["terminal_id"]):
            return self._declined(req, now, Decision("12", "already settled: refund it instead"))
        if target["refunded"]:
            return self._declined(req, now, Decision("12", "partly refunded: refund the rest"))
        restored = self._undo(target, "voided")
        self.ledger.add_entry(
            id=req.id,
            ref=target["id"],
            type="void",
            terminal_id=req.terminal_id,
            value=restored,
            currency=target["currency"],
            result="approved",
            code="00",
            at=utc_timestamp(now),
            account=target["account"],
        )
        return self._answer(req, now, "approved", "00")

    def _refund(self, req: Request, now: datetime) -> dict[str, Any]:
        assert req.amount is not None
        if not req.ref:
            return self._card_refund(req, now)
        target = self._target(req.ref)
        if target is None or target["type"] not in SALE_TYPES:
            return self._declined(req, now, Decision("12", "no sale with this reference"))
        if target["state"] != "active":
            return self._declined(req, now, Decision("12", f"the sale was {target['state']}"))
        if req.amount.currency.code != target["currency"] or req.amount.minor <= 0:
            return self._declined(req, now, Decision("13", "invalid refund amount"))
        left = int(target["value"]) - int(target["refunded"])
        if req.amount.minor > left:
            return self._declined(
                req, now, Decision("13", f"more than captured: {left} minor units left")
            )
        code = auth_code()
        self.ledger.move(target["account"], self.debit_of(target["id"], req.amount.minor))
        self.ledger.run(
            "UPDATE entries SET refunded = refunded + ? WHERE id = ?",
            req.amount.minor,
            target["id"],
        )
        self._book(req, now, target["account"], req.amount, "approved", code)
        return self._answer(req, now, "approved", "00", auth=code)

    def _card_refund(self, req: Request, now: datetime) -> dict[str, Any]:
        """A card-present refund with no sale to refer to: the card is checked like a sale's
        (status, cryptogram, first use), the amount against the refund limit, then credited."""
        assert req.amount is not None
        try:
            plaintext = decrypt_with(self.keys.encryption, req.card.get("data"))
        except JoseFailure:
            return self._declined(req, now, Decision("14", "card data cannot be read"))
        secret = decode_card_data(plaintext)
        if secret is None:
            return self._declined(req, now, Decision("14", "card data is incomplete"))
        card = self.ledger.card(self.ledger.account_of(secret.pan))
        if card is None:
            return self._declined(req, now, Decision("14", "unknown card"))
        amount = req.amount
        checks: tuple[Callable[[], Decision], ...] = (
            lambda: check_status(card, now),
            lambda: check_cryptogram(card, secret, amount, self.issuers),
            lambda: self._first_use(card["account"], secret, req.id),
            lambda: self._refund_limit(card, amount),
        )
        for check in checks:
            decision = check()
            if not decision.approved:
                return self._declined(req, now, decision)
        code = auth_code()
        self.ledger.move(card["account"], amount.minor)
        self._book(req, now, card["account"], amount, "approved", code)
        return self._answer(req, now, "approved", "00", auth=code)

    def _refund_limit(self, card: sqlite3.Row, amount: Amount) -> Decision:
        if amount.minor <= 0 or amount.currency.code != card["currency"]:
            return Decision("13", "invalid refund amount")
        if amount.minor > self.refund_limit_minor:
            limit = Amount.of(self.refund_limit_minor, amount.currency)
            return Decision("61", f"over the limit of {limit} for a refund without a sale")
        return APPROVE

    # -- batch close ------------------------------------------------------------------------

    def gateway_totals(self, terminal_id: str) -> dict[str, Any]:
        """This terminal's open batch as the canonical totals of terminal.gateway.messages."""
        rows = self.ledger.all(
            "SELECT CASE WHEN type = 'refund' THEN 'refund' ELSE 'sale' END AS kind, currency,"
            " COUNT(*) AS n, SUM(value) AS total FROM entries WHERE terminal_id = ? AND batch = ?"
            " AND state = 'active'"
            " AND type IN ('authorize', 'advice', 'qr_intent', 'capture', 'refund')"
            " GROUP BY kind, currency",
            terminal_id,
            self.ledger.batch(terminal_id),
        )
        totals: dict[str, Any] = {"sale": {}, "refund": {}}
        for row in rows:
            totals[row["kind"]][row["currency"]] = {
                "count": row["n"],
                "total": {"value": row["total"], "currency": row["currency"]},
            }
        return totals

    def _close_batch(self, req: Request, now: datetime) -> dict[str, Any]:
        ours = self.gateway_totals(req.terminal_id)
        try:
            theirs = {k: v for k, v in normalise_totals(req.totals).items() if v != (0, 0)}
        except Malformed as error:
            # Totals we cannot read cannot balance; the batch still closes (the bank's figures
            # go back to the terminal), rather than a 400 that would leave the batch open.
            log.warning("close_batch totals not understood: %s", error)
            theirs = {("unreadable", str(error)): (0, 0)}
        flat = {
            (kind, cur): (figures["count"], figures["total"]["value"])
            for kind, per_currency in ours.items()
            for cur, figures in per_currency.items()
        }
        result = "balanced" if flat == theirs else "out_of_balance"
        number = self.ledger.batch(req.terminal_id)
        self.ledger.run(
            "INSERT OR REPLACE INTO batches (terminal_id, number) VALUES (?, ?)",
            req.terminal_id,
            number + 1,
        )
        reason = "" if result == "balanced" else "the terminal's totals differ from the gateway's"
        return self._answer(req, now, result, "00", reason, totals=ours, batch=number)


__all__ = ["Malformed", "Processor"]
