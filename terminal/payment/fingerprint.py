"""The keyed PAN fingerprint the velocity rules count offline taps by.

Not a bank concern: it never leaves the terminal, whichever acquirer protocol is in use. An
HMAC-SHA256 under the keystore's fingerprint key, so the journal can tell "the same card
again" without holding anything that leads back to the card number (PCI DSS: a keyed hash).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Protocol


class FingerprintKeys(Protocol):
    """Where the key comes from (`terminal.security.keystore.Keystore`)."""

    def fingerprint_key(self) -> bytes: ...


class CardFingerprint:
    """`fingerprint(pan)` → hex HMAC-SHA256 of the PAN under the terminal's key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a fingerprint key needs at least 16 bytes")
        self._key = key

    @classmethod
    def from_keys(cls, keys: FingerprintKeys) -> CardFingerprint:
        return cls(keys.fingerprint_key())

    def __call__(self, pan: str) -> str:
        return hmac.new(self._key, pan.encode("ascii"), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:  # never the key
        return "CardFingerprint(<key>)"
