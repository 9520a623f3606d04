"""The debit of a cross-border wallet payment: read strictly from the answer, never a float."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.money import Amount
from terminal.payment.cross_border import WalletDebit, debit_of_answer, debit_of_text


def test_the_answer_names_the_debit_and_rate() -> None:
    answer = {
        "result": "approved",
        "scheme": "alipay",
        "wallet_amount": {"value": 9640, "currency": "CNY"},
        "rate": "7.7120",
    }
    debit = debit_of_answer(answer)
    assert debit == WalletDebit("alipay", Amount.of(9640, "CNY"), "7.7120")
    assert debit.sentence() == "Paid with Alipay — CNY 96.40 at 7.7120"
    assert debit_of_text(debit.to_text()) == debit


@pytest.mark.parametrize(
    "bad",
    [
        {"wallet_amount": {"value": 96.4, "currency": "CNY"}, "rate": "7.7120"},  # a float
        {"wallet_amount": {"value": 9640, "currency": "CNY"}, "rate": 7.712},  # a float rate
        {"wallet_amount": {"value": 9640, "currency": "XXQ"}, "rate": "7.7120"},
        {"wallet_amount": {"value": -1, "currency": "CNY"}, "rate": "7.7120"},
        {"wallet_amount": {"value": 9640, "currency": "CNY"}, "rate": "1e3"},
        {"wallet_amount": "CNY 96.40", "rate": "7.7120"},
        {},
    ],
)
def test_a_badly_named_debit_is_ignored(bad: dict[str, Any]) -> None:
    assert debit_of_answer({"scheme": "alipay", **bad}) is None


@given(st.text(max_size=80))
def test_any_journal_text_reads_or_is_none(text: str) -> None:
    debit = debit_of_text(text)
    assert debit is None or isinstance(debit.amount, Amount)
