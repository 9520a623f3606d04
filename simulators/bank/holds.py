"""Pre-authorisations as the simulated issuer keeps them: holds on a card's available balance.

A `preauth` checks the card like a sale (cryptogram, status, funds) and reserves its amount: the
card's balance goes down at once, so a hold really reduces what the card can still pay. An
`increment` raises the hold (funds checked again), a `capture` turns it into one charge of the
final amount (tip included) and gives the rest back, a `preauth_cancel` releases it. A capture
may exceed the hold by `HoldRules.tolerance_percent` (default 20 %, as card schemes allow for
tips and hotel extras); more is declined 13. A hold not captured within `HoldRules.expiry_s`
expires: its amount goes back to the card and a late capture is answered `expired`.

Holds live in their own table (`holds`), written in the same ledger transaction as the message
that moves them, so a retried message (same id) gets the stored answer and never moves money
twice. Cards whose issuer refuses pre-authorisations are listed in `preauth_refused` (seeded
from the test-card profiles with `preauth = false`); they are declined 57.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from simulators.bank.intents import QrIntents, auth_code
from simulators.bank.issuer import Decision
from simulators.bank.ledger import Ledger
from simulators.bank.requests import Request
from simulators.card.testcards import TestCard
from terminal.gateway.messages import utc_timestamp
from terminal.money import Amount

HOLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS holds (
    id TEXT PRIMARY KEY, terminal_id TEXT NOT NULL, account TEXT NOT NULL,
    held INTEGER NOT NULL, currency TEXT NOT NULL, captured INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL, expires_at TEXT NOT NULL, at TEXT NOT NULL,
    capture_id TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS preauth_refused (account TEXT PRIMARY KEY);
"""

HOLD_TYPES = ("preauth", "increment", "capture", "preauth_cancel")


@dataclass(frozen=True, slots=True)
class HoldRules:
    """How long a hold lives and how far a capture may exceed it (GET/POST /sim/holds/rules)."""

    expiry_s: float = 7 * 24 * 3600.0
    tolerance_percent: int = 20

    def to_json(self) -> dict[str, Any]:
        return {"expiry_s": self.expiry_s, "tolerance_percent": self.tolerance_percent}


def hold_rules(data: dict[str, Any]) -> HoldRules:
    """The rules a POST asks for; ValueError with a sentence when they are unusable."""
    default = HoldRules()
    expiry = data.get("expiry_s", default.expiry_s)
    tolerance = data.get("tolerance_percent", default.tolerance_percent)
    if isinstance(expiry, bool) or not isinstance(expiry, int | float) or not 0 < expiry <= 31e6:
        raise ValueError("expiry_s must be a number of seconds between 0 and 31000000")
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or not 0 <= tolerance <= 100:
        raise ValueError("tolerance_percent must be a whole number from 0 to 100")
    return HoldRules(float(expiry), tolerance)


def prepare_holds(ledger: Ledger, cards: dict[str, TestCard]) -> None:
    """Create the hold tables and list the cards whose issuer refuses pre-authorisations."""
    ledger.db.executescript(HOLD_SCHEMA)
    with ledger.transaction():
        for card in cards.values():
            if not card.preauth:
                ledger.run(
                    "INSERT OR IGNORE INTO preauth_refused (account) VALUES (?)",
                    ledger.account_of(card.pan),
                )


def hold_view(row: sqlite3.Row) -> dict[str, Any]:
    """A hold as GET /sim/ledger and /sim/holds show it."""
    return {
        "id": row["id"],
        "terminal_id": row["terminal_id"],
        "held": {"value": row["held"], "currency": row["currency"]},
        "captured": {"value": row["captured"], "currency": row["currency"]},
        "state": row["state"],
        "expires_at": row["expires_at"],
        "capture_id": row["capture_id"],
    }


class Holds(QrIntents):
    """The pre-authorisation half of `Processor` (which provides the card checks, the ledger
    and the answers)."""

    ledger: Ledger
    rules: HoldRules

    def _card_payment(self, req: Request, when: datetime) -> tuple[sqlite3.Row | None, Decision]:
        """The card checks of a sale (`Processor._card_payment`)."""
        raise NotImplementedError  # pragma: no cover

    # -- expiry -------------------------------------------------------------------------------
    def expire_holds(self, now: datetime) -> int:
        """Release every hold whose time is up (its amount goes back to the card)."""
        rows = self.ledger.all(
            "SELECT * FROM holds WHERE state = 'held' AND expires_at < ?", utc_timestamp(now)
        )
        for row in rows:
            self.ledger.move(row["account"], int(row["held"]))
            self._set_hold(row["id"], "expired")
        return len(rows)

    def _set_hold(self, hold_id: str, state: str, **columns: Any) -> None:
        sets = "".join(f", {name} = ?" for name in columns)
        self.ledger.run(
            f"UPDATE holds SET state = ?{sets} WHERE id = ?",  # noqa: S608 - names are ours
            state,
            *columns.values(),
            hold_id,
        )
        entry_state = "active" if state == "held" else state
        self.ledger.run(
            "UPDATE entries SET state = ? WHERE (id = ? OR ref = ?) "
            "AND type IN ('preauth', 'increment')",
            entry_state,
            hold_id,
            hold_id,
        )

    def _hold(self, req: Request, now: datetime) -> sqlite3.Row | dict[str, Any]:
        """The hold `req.ref` names, or the answer that refuses the request."""
        self.expire_holds(now)
        row = self.ledger.one("SELECT * FROM holds WHERE id = ?", req.ref)
        if row is None:
            return self._declined(req, now, Decision("12", "no pre-authorisation with this id"))
        if row["terminal_id"] != req.terminal_id:
            return self._declined(req, now, Decision("12", "the hold belongs to another terminal"))
        return row

    # -- the messages ---------------------------------------------------------------------------
    def _preauth(self, req: Request, now: datetime) -> dict[str, Any]:
        assert req.amount is not None
        if self.ledger.one("SELECT 1 FROM tombstones WHERE id = ?", req.id):
            return self._declined(req, now, Decision("05", "reversed before it arrived"))
        card, decision = self._card_payment(req, req.created_at)
        if card is not None and decision.approved and self._refuses_preauth(card["account"]):
            decision = Decision("57", "the issuer does not accept pre-authorisations on this card")
        if card is None or not decision.approved:
            return self._declined(req, now, decision)
        code = auth_code()
        expires = utc_timestamp(now + timedelta(seconds=self.rules.expiry_s))
        self.ledger.move(card["account"], -req.amount.minor)
        self._entry(req, now, card["account"], req.amount, code)
        self.ledger.run(
            "INSERT INTO holds (id, terminal_id, account, held, currency, state, expires_at, at)"
            " VALUES (?,?,?,?,?,'held',?,?)",
            req.id,
            req.terminal_id,
            card["account"],
            req.amount.minor,
            req.amount.currency.code,
            expires,
            utc_timestamp(now),
        )
        return self._answer(
            req, now, "approved", "00", auth=code, expires_at=expires, held=req.amount.to_json()
        )

    def _increment(self, req: Request, now: datetime) -> dict[str, Any]:
        assert req.amount is not None
        hold = self._hold(req, now)
        if isinstance(hold, dict):
            return hold
        refusal = self._open(req, now, hold, req.amount)
        if refusal is not None:
            return refusal
        card = self.ledger.card(hold["account"])
        if card is None or card["balance"] < req.amount.minor:
            return self._declined(req, now, Decision("51", "insufficient funds"))
        code = auth_code()
        held = int(hold["held"]) + req.amount.minor
        self.ledger.move(hold["account"], -req.amount.minor)
        self.ledger.run("UPDATE holds SET held = ? WHERE id = ?", held, hold["id"])
        self._entry(req, now, hold["account"], req.amount, code)
        total = Amount.of(held, hold["currency"]).to_json()
        return self._answer(
            req, now, "approved", "00", auth=code, expires_at=hold["expires_at"], held=total
        )

    def _capture(self, req: Request, now: datetime) -> dict[str, Any]:
        assert req.amount is not None
        hold = self._hold(req, now)
        if isinstance(hold, dict):
            return hold
        refusal = self._open(req, now, hold, req.amount)
        if refusal is not None:
            return refusal
        held = int(hold["held"])
        ceiling = held + held * self.rules.tolerance_percent // 100
        if req.amount.minor > ceiling:
            limit = Amount.of(ceiling, hold["currency"])
            return self._declined(
                req,
                now,
                Decision("13", f"more than the hold allows ({limit} with the tolerance)"),
            )
        card = self.ledger.card(hold["account"])
        extra = req.amount.minor - held
        if extra > 0 and (card is None or card["balance"] < extra):
            return self._declined(req, now, Decision("51", "insufficient funds above the hold"))
        code = auth_code()
        self.ledger.move(hold["account"], held - req.amount.minor)
        self._set_hold(hold["id"], "captured", captured=req.amount.minor, capture_id=req.id)
        self._entry(req, now, hold["account"], req.amount, code)
        return self._answer(req, now, "approved", "00", auth=code)

    def _preauth_cancel(self, req: Request, now: datetime) -> dict[str, Any]:
        hold = self._hold(req, now)
        if isinstance(hold, dict):
            return hold
        if hold["state"] == "captured":
            return self._declined(req, now, Decision("12", "the hold was already captured"))
        if hold["state"] != "held":
            return self._answer(req, now, "approved", "00", f"already {hold['state']}")
        held = Amount.of(int(hold["held"]), hold["currency"])
        self.ledger.move(hold["account"], held.minor)
        self._set_hold(hold["id"], "released")
        self._entry(req, now, hold["account"], held, "")
        return self._answer(req, now, "approved", "00")

    def reverse_hold(self, req: Request, now: datetime, target: sqlite3.Row) -> dict[str, Any]:
        """A reversal of a pre-authorisation or increment whose answer the terminal lost:
        what it reserved goes back to the card (nothing, if the hold has ended since)."""
        hold_id = target["id"] if target["type"] == "preauth" else target["ref"]
        hold = self.ledger.one("SELECT * FROM holds WHERE id = ?", hold_id)
        if target["state"] != "active" or hold is None or hold["state"] != "held":
            return self._answer(req, now, "reversed", "00", f"already {target['state']}")
        value = int(hold["held"]) if target["type"] == "preauth" else int(target["value"])
        self.ledger.move(target["account"], value)
        if target["type"] == "preauth":
            self._set_hold(hold_id, "reversed")
        else:
            self.ledger.run("UPDATE holds SET held = held - ? WHERE id = ?", value, hold_id)
            self.ledger.run("UPDATE entries SET state = 'reversed' WHERE id = ?", target["id"])
        self.ledger.add_entry(
            id=req.id,
            ref=target["id"],
            type="reverse",
            terminal_id=req.terminal_id,
            value=value,
            currency=target["currency"],
            result="reversed",
            code="00",
            at=utc_timestamp(now),
            account=target["account"],
        )
        return self._answer(req, now, "reversed", "00")

    # -- helpers ------------------------------------------------------------------------------
    def _open(
        self, req: Request, now: datetime, hold: sqlite3.Row, amount: Amount
    ) -> dict[str, Any] | None:
        """Why an increment or capture cannot act on `hold` (an answer), or None."""
        if hold["state"] == "expired":
            return self._answer(
                req, now, "expired", "12", "the hold expired and was released to the card"
            )
        if hold["state"] != "held":
            return self._declined(req, now, Decision("12", f"the hold was {hold['state']}"))
        if amount.currency.code != hold["currency"]:
            return self._declined(req, now, Decision("13", f"the hold is in {hold['currency']}"))
        if amount.minor <= 0:
            return self._declined(req, now, Decision("13", "amount must be more than zero"))
        return None

    def _refuses_preauth(self, account: str) -> bool:
        return (
            self.ledger.one("SELECT 1 FROM preauth_refused WHERE account = ?", account) is not None
        )

    def _entry(self, req: Request, now: datetime, account: str, amount: Amount, code: str) -> None:
        self.ledger.add_entry(
            id=req.id,
            ref=req.ref,
            type=req.type,
            terminal_id=req.terminal_id,
            value=amount.minor,
            currency=amount.currency.code,
            result="approved",
            code="00",
            at=utc_timestamp(now),
            account=account,
            auth_code=code,
        )

    def release_expired(self, now: datetime) -> int:
        """`expire_holds` in its own ledger transaction (the admin API's views call it, so a
        card's balance shows an expired hold given back even before the next message)."""
        with self.ledger.transaction():
            return self.expire_holds(now)

    def holds_view(self, terminal_id: str | None, now: datetime) -> list[dict[str, Any]]:
        """Every hold (expired ones released first), oldest first."""
        self.release_expired(now)
        sql, args = "SELECT * FROM holds", tuple[str, ...]()
        if terminal_id:
            sql, args = sql + " WHERE terminal_id = ?", (terminal_id,)
        return [hold_view(row) for row in self.ledger.all(sql + " ORDER BY at", *args)]


__all__ = ["HOLD_TYPES", "HoldRules", "Holds", "hold_rules", "prepare_holds"]
