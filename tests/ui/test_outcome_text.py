"""The status panel's words for every outcome, including each decline code the bank sends."""

from __future__ import annotations

import pytest

from terminal.i18n import set_language
from terminal.money import Amount
from terminal.payment.api import Outcome, Result
from terminal.ui.outcome_text import result_panel

EUR = Amount.of(1234, "EUR")


def outcome(result: Result, **fields: str) -> Outcome:
    return Outcome("t1", result, EUR, "nfc", **fields)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("05", "declined the card"),
        ("13", "amount was refused"),
        ("14", "card number is not valid"),
        ("51", "Insufficient funds."),
        ("54", "card has expired"),
        ("59", "suspects fraud"),
        ("61", "amount limit"),
        ("65", "used too often"),
        ("91", "not available"),
        ("94", "Duplicate transaction."),
        ("96", "system error"),
    ],
)
def test_decline_reason_in_plain_words_with_the_code(code: str, words: str) -> None:
    headline, detail, style = result_panel(outcome(Result.DECLINED, code=code))
    assert "Declined" in headline.plain
    assert words in detail and f"({code})" in detail
    assert style == "declined"


def test_unknown_code_falls_back_to_the_banks_own_sentence() -> None:
    _, detail, _ = result_panel(outcome(Result.DECLINED, code="77", message="Card on hold."))
    assert "Card on hold. (77)" in detail


def test_approved_shows_auth_code_masked_card_and_amount() -> None:
    headline, detail, _ = result_panel(
        outcome(Result.APPROVED, auth_code="XY12Z9", masked_pan="476173******0010")
    )
    assert headline.plain == "✔ Approved"
    assert detail.splitlines() == ["Auth code XY12Z9", "Card 476173******0010", "EUR 12.34"]


def test_offline_approval_and_errors_are_sentences() -> None:
    _, detail, _ = result_panel(outcome(Result.APPROVED_OFFLINE))
    assert "sent when the link is back" in detail
    _, detail, _ = result_panel(outcome(Result.ERROR, message="The card reader is unplugged."))
    assert detail.startswith("The card reader is unplugged.")
    _, detail, _ = result_panel(outcome(Result.CANCELLED))
    assert detail.startswith("Nothing was charged.")


def test_chinese_words() -> None:
    set_language("zh")
    headline, detail, _ = result_panel(outcome(Result.DECLINED, code="51"))
    assert "拒绝" in headline.plain and "余额不足。" in detail
