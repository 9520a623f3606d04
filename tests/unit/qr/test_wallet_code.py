"""Wallet pay codes: the published shapes of WeChat Pay, Alipay and UnionPay codes, and a
sentence naming what was seen for every code that is not one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.qr.errors import QrError
from terminal.qr.recognise import CodeKind, guess_kind, recognise_scanned_code
from terminal.qr.wallet_code import (
    WalletCode,
    WalletCodeError,
    WalletScheme,
    recognise_wallet_code,
)
from tests.unit.qr.vectors import EMVCO_SAMPLE

# Sample codes as they appear in the wallets' and acquirers' public documentation:
WECHAT_DOC = "134567890123456789"  # WeChat Pay micropay doc's example auth_code shape
ALIPAY_DOC = "28763443825664394"  # Alipay alipay.trade.pay doc, auth_code example (17 digits)
ALIPAY_QFPAY = "280438849930815813"  # QFPay in-store CPM doc, Alipay auth_code example
UNIONPAY = "6212345678901234567"


@pytest.mark.parametrize(
    ("text", "scheme"),
    [
        (WECHAT_DOC, WalletScheme.WECHATPAY),
        ("100000000000000000", WalletScheme.WECHATPAY),
        ("159999999999999999", WalletScheme.WECHATPAY),  # 15: Hong Kong users
        (ALIPAY_DOC, WalletScheme.ALIPAY),
        (ALIPAY_QFPAY, WalletScheme.ALIPAY),
        ("2500000000000000", WalletScheme.ALIPAY),  # 16 digits, lowest prefix
        ("309999999999999999999999", WalletScheme.ALIPAY),  # 24 digits, highest prefix
        (UNIONPAY, WalletScheme.UNIONPAY),
        (f"  {WECHAT_DOC}\n", WalletScheme.WECHATPAY),  # a scanner's trailing newline
    ],
)
def test_published_shapes_are_recognised(text: str, scheme: WalletScheme) -> None:
    code = recognise_wallet_code(text)
    assert code.scheme is scheme
    assert guess_kind(text) is CodeKind.WALLET_CODE
    assert isinstance(recognise_scanned_code(text), WalletCode)


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("123456789012", "a 12-digit number is not a wallet pay code"),
        (
            "13456789012345678",
            "a 17-digit number is not a wallet pay code: codes starting 13 "
            "are WeChat Pay's, which has 18 digits starting 10–15",
        ),
        ("1345678901234567890", "a 19-digit number is not a wallet pay code"),
        (
            "990000000000000000",
            "an 18-digit number is not a wallet pay code: no wallet's codes start 99",
        ),
        (
            "250000000000000",
            "a 15-digit number is not a wallet pay code: codes starting 25 are "
            "Alipay's, which has 16 to 24 digits starting 25–30",
        ),
        ("3100000000000000", "a 16-digit number is not a wallet pay code"),
        ("6112345678901234567", "no wallet's codes start 61"),
        ("621234567890123456", "codes starting 62 are UnionPay's, which has 19 digits"),
        ("1345 6789 0123 4567 89", "the code has spaces in it"),
        (f"{WECHAT_DOC}-7", "an 18-digit number followed by '-7', which looks like a check digit"),
        (f"{ALIPAY_QFPAY}X", "Alipay pay codes are the digits alone"),
        ("1234567890-12", "followed by '-12' is not a wallet pay code"),
        ("13AB567890123456", "mixes digits with other characters"),
    ],
)
def test_codes_that_are_not_pay_codes_get_a_sentence(text: str, sentence: str) -> None:
    with pytest.raises(WalletCodeError) as refused:
        recognise_wallet_code(text)
    assert sentence in refused.value.sentence
    assert refused.value.exit_code == 2


def test_the_code_is_never_shown_whole() -> None:
    code = recognise_wallet_code(WECHAT_DOC)
    assert code.masked == "13************6789"
    assert WECHAT_DOC not in str(code.fields())
    assert code.fields() == {
        "scheme": "wechatpay",
        "wallet": "WeChat Pay",
        "length": 18,
        "masked": "13************6789",
    }


def test_other_codes_keep_their_kind() -> None:
    assert guess_kind(EMVCO_SAMPLE) is CodeKind.MPM
    assert guess_kind("hQVDUFYwMWEa") is CodeKind.CPM
    assert guess_kind("https://example.com") is CodeKind.UNKNOWN


@given(st.text(max_size=60))
def test_any_text_is_a_code_or_a_sentence(text: str) -> None:
    try:
        code = recognise_wallet_code(text)
    except QrError as error:
        assert error.sentence
    else:
        assert code.text.isdigit() and code.scheme in WalletScheme
