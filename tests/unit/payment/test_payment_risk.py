"""Risk rules: every decision names its rule, offline declines name the limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.money import Amount
from terminal.payment.risk import (
    Decision,
    Limits,
    OfflineFacts,
    card_expired,
    check_card,
    check_sale,
    decide_offline,
)
from terminal.settings import Settings

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def eur(text: str) -> Amount:
    return Amount.parse(text, "EUR")


LIMITS = Limits.from_settings(Settings())


def facts(**changes: object) -> OfflineFacts:
    base = OfflineFacts(
        amount=eur("10.00"),
        entry="nfc",
        card_expiry="301231",
        now=NOW,
        pending_count=0,
        pending_total=eur("0.00"),
        oldest_pending=None,
        card_count=0,
        card_total=eur("0.00"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_small_nfc_sale_is_approved_offline_naming_the_floor_limit() -> None:
    decision = decide_offline(LIMITS, facts())
    assert decision.approved
    assert decision.rule == "offline_limits"
    assert "EUR 50.00" in decision.reason


@pytest.mark.parametrize(
    ("changes", "rule", "code", "words"),
    [
        ({"amount": eur("50.01")}, "floor_limit", "61", "floor limit of EUR 50.00"),
        ({"entry": "qr_cpm"}, "offline_entry", "91", "QR payments are never approved offline"),
        ({"card_expiry": "220131"}, "expired_card", "54", "card has expired"),
        ({"pending_count": 250}, "offline_count", "65", "(limit 250)"),
        ({"pending_total": eur("1995.00")}, "offline_total", "61", "offline limit of EUR 2,000.00"),
        ({"oldest_pending": NOW - timedelta(hours=25)}, "offline_age", "91", "(limit 24 h)"),
        ({"card_count": 3}, "velocity_count", "65", "used 3 times offline in 60 min (limit 3)"),
        ({"card_total": eur("95.00")}, "velocity_total", "61", "(limit EUR 100.00)"),
    ],
)
def test_offline_declines_name_the_limit_hit(
    changes: dict[str, object], rule: str, code: str, words: str
) -> None:
    decision = decide_offline(LIMITS, facts(**changes))
    assert not decision.approved
    assert (decision.rule, decision.code) == (rule, code)
    assert words in decision.reason
    assert decision.reason.startswith("The bank cannot be reached")


def test_exactly_at_the_limits_is_still_approved() -> None:
    decision = decide_offline(
        LIMITS,
        facts(
            amount=eur("50.00"),
            pending_count=249,
            pending_total=eur("1950.00"),
            oldest_pending=NOW - timedelta(hours=24),
            card_count=2,
            card_total=eur("50.00"),
        ),
    )
    assert decision.approved, decision


def test_offline_switched_off_declines_everything() -> None:
    limits = replace(LIMITS, offline_enabled=False)
    decision = decide_offline(limits, facts(amount=eur("0.01")))
    assert (decision.approved, decision.rule) == (False, "offline_disabled")


def test_an_extra_rule_can_object_and_is_named() -> None:
    def no_amex(limits: Limits, f: OfflineFacts) -> Decision | None:
        return Decision(False, "house_rule", "No offline sales after 11 pm.", "05")

    decision = decide_offline(LIMITS, facts(), extra=[no_amex])
    assert (decision.approved, decision.rule) == (False, "house_rule")


def test_contactless_limit_refuses_before_the_card_is_read() -> None:
    decision = check_sale(LIMITS, eur("500.01"), "nfc")
    assert decision is not None and decision.rule == "transaction_limit"
    assert "amount too high for contactless — use another method" in decision.reason
    assert check_sale(LIMITS, eur("500.01"), "qr-scan") is None
    assert check_sale(LIMITS, eur("500.00"), "nfc") is None


def test_zero_amount_and_foreign_currency_are_refused() -> None:
    zero = check_sale(LIMITS, eur("0.00"), "nfc")
    assert zero is not None and zero.rule == "amount"
    usd = check_sale(LIMITS, Amount.parse("1.00", "USD"), "nfc")
    assert usd is not None and usd.rule == "currency" and "takes EUR" in usd.reason


def test_above_cvm_limit_only_a_verified_phone_pays() -> None:
    assert check_card(LIMITS, eur("60.00"), cdcvm=True) is None
    plain_card = check_card(LIMITS, eur("60.00"), cdcvm=False)
    assert plain_card is not None and plain_card.rule == "cvm_limit"
    assert check_card(LIMITS, eur("50.00"), cdcvm=False) is None


@pytest.mark.parametrize(
    ("expiry", "today", "expired"),
    [
        ("301231", date(2026, 11, 22), False),
        ("261130", date(2026, 11, 30), False),
        ("261130", date(2026, 12, 1), True),
        ("2611", date(2026, 11, 30), False),
        ("2611", date(2026, 12, 1), True),
        ("2602", date(2026, 2, 28), False),
        ("261300", date(2026, 1, 1), True),
        ("26AB", date(2026, 1, 1), True),
        ("", date(2026, 1, 1), True),
    ],
)
def test_card_expiry(expiry: str, today: date, expired: bool) -> None:
    assert card_expired(expiry, today) is expired


@given(st.text(max_size=8), st.dates())
def test_any_expiry_text_gives_an_answer_never_a_crash(expiry: str, today: date) -> None:
    assert card_expired(expiry, today) in (True, False)
