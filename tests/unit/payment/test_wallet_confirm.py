"""The wallet's polling pace is honoured within bounds; any account text is a template or a
sentence for every national scheme."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.payment.bank import Reply
from terminal.payment.wallet_confirm import MAX_POLL_S, MIN_POLL_S, wallet_pace
from terminal.qr.schemes import SCHEMES, SchemeRuleError, template


@pytest.mark.parametrize(
    ("poll_s", "pace"),
    [
        (2, 2.0),
        (0.5, 0.5),
        (0, MIN_POLL_S),
        (3600, MAX_POLL_S),
        ("5", 1.0),
        (True, 1.0),
        (None, 1.0),
    ],
)
def test_the_wallets_pace_is_bounded(poll_s: Any, pace: float) -> None:
    reply = Reply("id", "authorize", "pending", payload={"poll_s": poll_s})
    assert wallet_pace(reply, 1.0) == pace


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@given(account=st.text(max_size=40), dynamic=st.booleans())
def test_any_account_is_a_template_or_a_sentence(scheme: str, account: str, dynamic: bool) -> None:
    try:
        fields = template(SCHEMES[scheme], account, {}, dynamic)
    except SchemeRuleError as error:
        assert str(error)
    else:
        assert fields["00"] and all(isinstance(v, str) for v in fields.values())
