"""Terminal risk rules: pure functions of the limits and the facts at decision time.

Online, the bank decides; these rules decide what the terminal may do on its own:
- before a sale starts (`check_sale`): amount and currency sane, contactless limit;
- once the card is read (`check_card`): the CVM limit (no PIN pad, so above it only a phone
  that verified its owner);
- when the gateway cannot be reached (`decide_offline`, PROTOCOL.md rule 4): offline enabled,
  NFC only, floor limit, expired card, the offline caps (count, total, age of the oldest
  unforwarded sale) and velocity on the card's keyed fingerprint.

Every `Decision` names the rule that made it (`rule`) and says why in the operator's words;
an offline decline names the limit that was hit. More rules can be passed in as `extra`: any
callable `(limits, facts) -> Decision | None` (None means "no objection").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from terminal.money import Amount
from terminal.settings import Settings


@dataclass(frozen=True, slots=True)
class Limits:
    """The configured limits, as amounts and durations."""

    offline_enabled: bool
    floor_limit: Amount
    max_count: int
    max_total: Amount
    max_age: timedelta
    velocity_count: int
    velocity_total: Amount
    velocity_window: timedelta
    transaction_limit: Amount
    cvm_limit: Amount

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            offline_enabled=settings.offline.enabled,
            floor_limit=settings.amount("offline", "floor_limit"),
            max_count=settings.offline.max_count,
            max_total=settings.amount("offline", "max_total"),
            max_age=timedelta(hours=settings.offline.max_age_hours),
            velocity_count=settings.risk.velocity_count,
            velocity_total=settings.amount("risk", "velocity_total"),
            velocity_window=timedelta(minutes=settings.risk.velocity_window_minutes),
            transaction_limit=settings.amount("nfc", "transaction_limit"),
            cvm_limit=settings.amount("nfc", "cvm_limit"),
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """What a rule decided; `code` is the ISO 8583 response code of a decline."""

    approved: bool
    rule: str
    reason: str
    code: str = ""


@dataclass(frozen=True, slots=True)
class OfflineFacts:
    """What the journal and the card say when the gateway is unreachable."""

    amount: Amount
    entry: str
    """PROTOCOL.md entry: nfc, qr_cpm, qr_mpm."""
    card_expiry: str
    """YYMMDD or YYMM, as the card gave it."""
    now: datetime
    pending_count: int
    """Offline sales not yet forwarded."""
    pending_total: Amount
    oldest_pending: datetime | None
    card_count: int
    """Offline approvals of this card (same fingerprint) within the velocity window."""
    card_total: Amount


Rule = Callable[[Limits, OfflineFacts], Decision | None]


def _decline(rule: str, reason: str, code: str) -> Decision:
    return Decision(False, rule, reason, code)


def check_sale(limits: Limits, amount: Amount, method: str) -> Decision | None:
    """Refuse a sale that cannot be taken whatever the card; None when it may start."""
    if amount.minor <= 0:
        return _decline("amount", "The amount must be greater than zero.", "13")
    if amount.currency != limits.transaction_limit.currency:
        return _decline(
            "currency",
            f"This terminal takes {limits.transaction_limit.currency.code}, "
            f"not {amount.currency.code}.",
            "13",
        )
    if method == "nfc" and amount > limits.transaction_limit:
        return _decline(
            "transaction_limit",
            f"{amount} is above the contactless limit of {limits.transaction_limit}: "
            "amount too high for contactless — use another method.",
            "61",
        )
    return None


def check_card(limits: Limits, amount: Amount, *, cdcvm: bool) -> Decision | None:
    """Above the CVM limit only a phone that verified its owner may pay (no PIN pad)."""
    if amount > limits.cvm_limit and not cdcvm:
        return _decline(
            "cvm_limit",
            f"{amount} is above the {limits.cvm_limit} limit for cards without PIN; "
            "ask the customer to pay with a phone or watch.",
            "65",
        )
    return None


def card_expired(expiry: str, today: date) -> bool:
    """True when the card's expiry (YYMMDD, or YYMM meaning the month's end) is before today.

    An expiry that cannot be read counts as expired: offline, doubt declines.
    """
    digits = expiry.strip()
    if not digits.isdigit() or len(digits) not in (4, 6):
        return True
    year, month = 2000 + int(digits[:2]), int(digits[2:4])
    if not 1 <= month <= 12:
        return True
    if len(digits) == 6 and digits[4:] != "00":
        try:
            last = date(year, month, int(digits[4:]))
        except ValueError:
            return True
    else:
        first_next = date(year + month // 12, month % 12 + 1, 1)
        last = first_next - timedelta(days=1)
    return last < today


def _enabled(limits: Limits, facts: OfflineFacts) -> Decision | None:
    if not limits.offline_enabled:
        return _decline(
            "offline_disabled",
            "The bank cannot be reached and offline payments are switched off.",
            "91",
        )
    return None


def _entry(limits: Limits, facts: OfflineFacts) -> Decision | None:
    if facts.entry != "nfc":
        return _decline(
            "offline_entry",
            "The bank cannot be reached and QR payments are never approved offline: "
            "ask the customer to pay by card.",
            "91",
        )
    return None


def _floor(limits: Limits, facts: OfflineFacts) -> Decision | None:
    if facts.amount > limits.floor_limit:
        return _decline(
            "floor_limit",
            f"The bank cannot be reached and {facts.amount} is above the offline floor limit "
            f"of {limits.floor_limit}.",
            "61",
        )
    return None


def _expiry(limits: Limits, facts: OfflineFacts) -> Decision | None:
    if card_expired(facts.card_expiry, facts.now.date()):
        return _decline(
            "expired_card",
            "The bank cannot be reached and the card has expired.",
            "54",
        )
    return None


def _count_cap(limits: Limits, facts: OfflineFacts) -> Decision | None:
    if facts.pending_count + 1 > limits.max_count:
        return _decline(
            "offline_count",
            f"The bank cannot be reached and {facts.pending_count} offline sales are already "
            f"waiting (limit {limits.max_count}).",
            "65",
        )
    return None


def _total_cap(limits: Limits, facts: OfflineFacts) -> Decision | None:
    if facts.pending_total + facts.amount > limits.max_total:
        return _decline(
            "offline_total",
            f"The bank cannot be reached and offline sales would total "
            f"{facts.pending_total + facts.amount}, above the offline limit of {limits.max_total}.",
            "61",
        )
    return None


def _age_cap(limits: Limits, facts: OfflineFacts) -> Decision | None:
    if facts.oldest_pending is not None and facts.now - facts.oldest_pending > limits.max_age:
        hours = int(limits.max_age.total_seconds() // 3600)
        return _decline(
            "offline_age",
            f"The bank cannot be reached and the oldest offline sale has waited more than "
            f"{hours} h to be forwarded (limit {hours} h).",
            "91",
        )
    return None


def _velocity_count(limits: Limits, facts: OfflineFacts) -> Decision | None:
    if facts.card_count + 1 > limits.velocity_count:
        minutes = int(limits.velocity_window.total_seconds() // 60)
        return _decline(
            "velocity_count",
            f"The bank cannot be reached and this card was already used {facts.card_count} "
            f"times offline in {minutes} min (limit {limits.velocity_count}).",
            "65",
        )
    return None


def _velocity_total(limits: Limits, facts: OfflineFacts) -> Decision | None:
    if facts.card_total + facts.amount > limits.velocity_total:
        minutes = int(limits.velocity_window.total_seconds() // 60)
        return _decline(
            "velocity_total",
            f"The bank cannot be reached and this card's offline sales would reach "
            f"{facts.card_total + facts.amount} in {minutes} min (limit {limits.velocity_total}).",
            "61",
        )
    return None


OFFLINE_RULES: tuple[Rule, ...] = (
    _enabled,
    _entry,
    _floor,
    _expiry,
    _count_cap,
    _total_cap,
    _age_cap,
    _velocity_count,
    _velocity_total,
)
"""Checked in this order; the first objection decides."""


def decide_offline(limits: Limits, facts: OfflineFacts, extra: Sequence[Rule] = ()) -> Decision:
    """Approve offline only when no rule objects (PROTOCOL.md rule 4)."""
    for rule in (*OFFLINE_RULES, *extra):
        decision = rule(limits, facts)
        if decision is not None:
            return decision
    return Decision(
        True,
        "offline_limits",
        f"Approved offline: the bank cannot be reached and {facts.amount} is within the floor "
        f"limit of {limits.floor_limit}; it will be sent to the bank when the link returns.",
        "00",
    )
