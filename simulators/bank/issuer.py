"""The simulated issuer's decisions: which ISO 8583 code a card payment gets, and why.

Order of checks (the first failing one decides): unknown card 14, expired 54, blocked 05 /
lost 59, cryptogram mismatch or amount not the one the card signed 05, currency or amount
invalid 13, fraud rule 59 (off by default), insufficient balance 51. Otherwise 00.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from simulators.bank.ledger import Ledger
from simulators.card.cryptogram import verify_arqc
from simulators.card.testcards import IssuerKeys, TestCard
from terminal.gateway.messages import utc_timestamp
from terminal.iso_codes import currency
from terminal.money import Amount
from terminal.security.pan import mask_pan


@dataclass(frozen=True, slots=True)
class FraudRule:
    """Decline 59 when one card pays more than `max_count` times or more than `max_total`
    (minor units, card currency) within `window_s` seconds. Off unless enabled."""

    enabled: bool = False
    max_count: int = 5
    max_total: int = 100_000
    window_s: int = 3600

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "max_count": self.max_count,
            "max_total": self.max_total,
            "window_s": self.window_s,
        }


@dataclass(frozen=True, slots=True, repr=False)
class CardSecret:
    """The decrypted card data of PROTOCOL.md (`card.data`)."""

    pan: str
    expiry: str
    psn: str
    emv: dict[str, str]


@dataclass(frozen=True, slots=True)
class Decision:
    code: str
    reason: str

    @property
    def approved(self) -> bool:
        return self.code == "00"


APPROVE = Decision("00", "")


def decode_card_data(plaintext: bytes) -> CardSecret | None:
    """The card object inside the JWE, or None when it is not one."""
    try:
        data = json.loads(plaintext)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    pan, expiry, psn, emv = (
        data.get("pan"),
        data.get("expiry"),
        data.get("psn", ""),
        data.get("emv"),
    )
    if not isinstance(pan, str) or not re.fullmatch(r"\d{12,19}", pan):
        return None
    if not isinstance(expiry, str) or not re.fullmatch(r"\d{4}(\d{2})?", expiry):
        return None
    if not isinstance(psn, str) or not isinstance(emv, dict):
        return None
    clean: dict[str, str] = {}
    for tag, value in emv.items():
        if not isinstance(value, str) or not re.fullmatch(r"(?:[0-9A-Fa-f]{2}){0,256}", value):
            return None
        clean[str(tag).upper()] = value.upper()
    return CardSecret(pan=pan, expiry=expiry, psn=psn, emv=clean)


def expiry_date(text: str) -> date:
    """The last valid day of a YYMMDD or YYMM expiry."""
    year, month = 2000 + int(text[0:2]), int(text[2:4])
    if len(text) >= 6 and text[4:6] not in ("00", "31"):
        try:
            return date(year, month, int(text[4:6]))
        except ValueError:
            pass
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def seed_cards(ledger: Ledger, cards: dict[str, TestCard]) -> None:
    """Add test-card profiles not yet in the books (balances already there are kept)."""
    with ledger.transaction():
        for card in cards.values():
            try:
                cur = currency(card.currency)
                balance = Amount.parse(card.balance, cur).minor
            except ValueError:
                continue
            ledger.run(
                "INSERT OR IGNORE INTO cards (account, name, masked_pan, expiry, psn, status,"
                " balance, currency, issuer, aid, label, partial)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                ledger.account_of(card.pan),
                card.name,
                mask_pan(card.pan),
                card.expiry,
                card.psn,
                card.status,
                balance,
                cur.code,
                card.issuer.name,
                card.aid,
                card.label,
                card.partial,
            )


def check_status(card: sqlite3.Row, when: datetime) -> Decision:
    """Expiry and card status."""
    if expiry_date(card["expiry"]) < when.astimezone(UTC).date():
        return Decision("54", "expired card")
    if card["status"] == "blocked":
        return Decision("05", "card blocked by the issuer")
    if card["status"] == "lost":
        return Decision("59", "card reported lost or stolen")
    if card["status"] != "active":
        return Decision("05", f"card status {card['status']}")
    return APPROVE


def check_funds(
    ledger: Ledger, card: sqlite3.Row, amount: Amount, when: datetime, fraud: FraudRule
) -> Decision:
    """Amount, currency, fraud rule and balance for a charge of `amount`."""
    if amount.minor <= 0:
        return Decision("13", "amount must be more than zero")
    if amount.currency.code != card["currency"]:
        return Decision("13", f"the card account is in {card['currency']}")
    if fraud.enabled:
        since = utc_timestamp(when - timedelta(seconds=fraud.window_s))
        row = ledger.one(
            "SELECT COUNT(*) AS n, COALESCE(SUM(value), 0) AS total FROM entries WHERE account = ?"
            " AND type IN ('authorize', 'advice', 'qr_intent') AND state = 'active' AND at >= ?",
            card["account"],
            since,
        )
        count, total = (row["n"], row["total"]) if row else (0, 0)
        if count + 1 > fraud.max_count or total + amount.minor > fraud.max_total:
            return Decision("59", "suspected fraud: too many or too large payments on this card")
    if card["balance"] < amount.minor:
        return Decision("51", "insufficient funds")
    return APPROVE


def check_cryptogram(
    card: sqlite3.Row, secret: CardSecret, amount: Amount, issuers: dict[str, IssuerKeys]
) -> Decision:
    """The ARQC must verify with the issuer keys and cover exactly the requested amount."""
    keys = issuers.get(card["issuer"])
    if keys is None:
        return Decision("05", "no issuer keys for this card")
    if "9F26" not in secret.emv:
        return Decision("05", "no application cryptogram")
    if not verify_arqc(keys, secret.pan, secret.psn or card["psn"], secret.emv):
        return Decision("05", "application cryptogram does not verify")
    if secret.emv.get("9F02") != f"{amount.minor:012d}":
        return Decision("05", "the card signed another amount")
    currency_code = secret.emv.get("5F2A")
    if currency_code is not None and currency_code != amount.currency.numeric.zfill(4):
        return Decision("05", "the card signed another currency")
    return APPROVE


def partial_approval(
    card: sqlite3.Row, amount: Amount, decision: Decision, allowed: bool
) -> Amount | None:
    """What a prepaid issuer approves of a payment its balance does not cover (code 10), or
    None: only an insufficient-funds decline turns partial, only on a card whose profile says
    so (`partial` = allowed, when the terminal allowed it; always), and only with money left."""
    if decision.code != "51" or card["balance"] <= 0:
        return None
    mode = card["partial"]
    if mode == "always" or (mode == "allowed" and allowed):
        return Amount.of(int(card["balance"]), amount.currency)
    return None
