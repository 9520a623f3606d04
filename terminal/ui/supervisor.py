"""The supervisor PIN that guards refunds and voids (ui.supervisor_pin_hash, argon2).

Wrong PINs are counted: after `MAX_TRIES` in a row the prompt locks for `LOCK_SECONDS`, so a
PIN cannot be guessed at the counter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MAX_TRIES = 3
LOCK_SECONDS = 60.0


def verify_pin(pin_hash: str, pin: str) -> bool:
    """True if `pin` matches the argon2 `pin_hash`; False for a wrong PIN or unusable hash."""
    if not pin_hash or not pin:
        return False
    try:
        return bool(PasswordHasher().verify(pin_hash, pin))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(slots=True)
class PinGuard:
    pin_hash: str
    failures: int = 0
    locked_until: float = 0.0

    @property
    def configured(self) -> bool:
        return bool(self.pin_hash)

    def locked_for(self, now: float | None = None) -> int:
        """Seconds left before another try is allowed (0: not locked)."""
        now = time.monotonic() if now is None else now
        return max(0, int(self.locked_until - now + 0.999))

    def check(self, pin: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if self.locked_for(now):
            return False
        if verify_pin(self.pin_hash, pin):
            self.failures = 0
            return True
        self.failures += 1
        if self.failures >= MAX_TRIES:
            self.failures = 0
            self.locked_until = now + LOCK_SECONDS
        return False
