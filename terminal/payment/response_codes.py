"""ISO 8583 response codes (PROTOCOL.md) in the words an operator reads."""

from __future__ import annotations

CODE_TEXT = {
    "01": "refer to card issuer",
    "05": "do not honour",
    "12": "invalid transaction",
    "13": "invalid amount",
    "14": "invalid card number",
    "51": "insufficient funds",
    "54": "expired card",
    "55": "wrong PIN",
    "57": "not permitted to cardholder",
    "59": "suspected fraud",
    "61": "over amount limit",
    "65": "over frequency limit",
    "91": "issuer unavailable",
    "94": "duplicate transmission",
    "96": "system error",
}


def describe_code(code: str, reason: str = "") -> str:
    """The bank's answer in words, e.g. "insufficient funds (code 51)"."""
    words = reason or CODE_TEXT.get(code, "declined")
    return f"{words} (code {code})" if code else words
