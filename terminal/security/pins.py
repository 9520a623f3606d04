"""Technician and supervisor PINs: peppered argon2id hashes in the config, rate-limited,
audited checks.

A new PIN is 6 to 12 digits (`validate_new_pin`); 4- and 5-digit PINs set by older versions keep
working, with a warning to change them. Only a hash is stored (`ui.technician_pin_hash`,
`ui.supervisor_pin_hash`; `posterm pin set` writes one): argon2id over HMAC-SHA256(pepper, PIN),
the pepper derived from the root secret (key_hierarchy.py), so the site file alone no longer
cracks a PIN offline however short it is. A peppered hash is a standard argon2id string whose
salt starts with the bytes `PEPPER_MARKER`; a hash without it (older versions) is checked
against the bare PIN and accepted with a warning to set the PIN again.

Wrong attempts are counted per role in
`{data_dir}/pin-attempts.json`, shared by every posterm process on the terminal (the screen and
the CLI), so restarting a command does not reset the count: after `FREE_ATTEMPTS` wrong PINs
each further one locks the role for `LOCK_BASE_S` seconds, doubling up to `LOCK_MAX_S`. A right
PIN clears the count. Every attempt is written to the audit log.

Errors (exit code in brackets):
    PinError                base
    ├── PinFormatError      not 4 to 12 digits (a new PIN: 6 to 12)             [2]
    ├── PinHashError        the configured hash is not an argon2 hash          [2]
    ├── PinRejected         wrong PIN                                          [1]
    └── PinLocked           too many wrong PINs: try again after the lockout   [1]
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import hash_secret

from terminal.errors import PostermError
from terminal.security.alarms import raise_alarm
from terminal.security.audit import AuditLog, match_owner
from terminal.security.key_hierarchy import KeyHierarchy, RootPlace
from terminal.security.private import private_folder
from terminal.security.root_secret import RootSecretError

log = logging.getLogger("terminal.security.pins")

Role = Literal["technician", "supervisor"]
ROLES: tuple[Role, ...] = ("technician", "supervisor")
STATE_FILE = "pin-attempts.json"
FREE_ATTEMPTS = 3
LOCK_BASE_S = 30.0
LOCK_MAX_S = 3600.0
NEW_PIN_DIGITS = 6
PEPPER_MARKER = b"posterm-pepper/1"
"""First bytes of a peppered hash's salt (16 more are random): how a hash says it is peppered
while staying a standard argon2id string every validator and tool accepts."""

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


class PinError(PostermError):
    """A PIN could not be accepted."""

    exit_code = 1


class PinFormatError(PinError):
    """The PIN typed is not 4 to 12 digits."""

    exit_code = 2


class PinHashError(PinError):
    """The configured PIN hash cannot be used."""

    exit_code = 2


class PinRejected(PinError):
    """Wrong PIN."""


class PinLocked(PinError):
    """Too many wrong PINs; `retry_after_s` says how long to wait."""

    def __init__(self, sentence: str, retry_after_s: float) -> None:
        super().__init__(sentence)
        self.retry_after_s = retry_after_s


def validate_pin(pin: str) -> str:
    """The PIN if it is 4 to 12 digits, else PinFormatError."""
    if not re.fullmatch(r"\d{4,12}", pin):
        raise PinFormatError("a PIN is 4 to 12 digits")
    return pin


def validate_new_pin(pin: str) -> str:
    """The PIN if it is 6 to 12 digits (the rule for a PIN being set), else PinFormatError."""
    if not re.fullmatch(rf"\d{{{NEW_PIN_DIGITS},12}}", pin):
        raise PinFormatError(
            f"a new PIN is {NEW_PIN_DIGITS} to 12 digits (4-digit PINs are too easy to guess)"
        )
    return pin


def hash_pin(pin: str, pepper: bytes) -> str:
    """The peppered argon2id hash of a new PIN (6 to 12 digits), for the configuration.

    `pepper` is `KeyHierarchy.pin_pepper()` of the terminal that will check it."""
    salt = PEPPER_MARKER + secrets.token_bytes(_hasher.salt_len)
    raw = hash_secret(
        _peppered(pin=validate_new_pin(pin), pepper=pepper),
        salt,
        time_cost=_hasher.time_cost,
        memory_cost=_hasher.memory_cost,
        parallelism=_hasher.parallelism,
        hash_len=_hasher.hash_len,
        type=_hasher.type,
    )
    return raw.decode("ascii")


def is_peppered(pin_hash: str) -> bool:
    """True when `pin_hash` was made with a pepper (its salt starts with PEPPER_MARKER)."""
    try:
        salt = pin_hash.split("$")[4]
        return base64.b64decode(salt + "=" * (-len(salt) % 4)).startswith(PEPPER_MARKER)
    except (IndexError, ValueError):
        return False


def is_pin_hash(value: str) -> bool:
    """True for an argon2 hash string (what `hash_pin` makes)."""
    return bool(
        re.fullmatch(
            r"\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+", value
        )
    )


def pin_advice(pin: str, pin_hash: str) -> str:
    """What to tell the holder of a right PIN that should be changed ("" when none)."""
    reasons = []
    if len(pin) < NEW_PIN_DIGITS:
        reasons.append(f"it is shorter than {NEW_PIN_DIGITS} digits")
    if not is_peppered(pin_hash):
        reasons.append("its hash was made by an older posterm and can be cracked offline")
    return "; ".join(reasons)


def lockout_seconds(failures: int) -> float:
    """How long a role stays locked after `failures` consecutive wrong PINs."""
    if failures < FREE_ATTEMPTS:
        return 0.0
    return float(min(LOCK_MAX_S, LOCK_BASE_S * 2 ** (failures - FREE_ATTEMPTS)))


class PinGuard:
    """Checks PINs against configured hashes with persistent rate limiting and auditing.

    `keys` gives the PIN pepper: the key hierarchy, or where its root is
    (`RootPlace.of(settings)`); opened only when a peppered hash is checked."""

    def __init__(
        self,
        data_dir: Path | str,
        audit: AuditLog | None = None,
        *,
        clock: Callable[[], float] = time.time,
        keys: KeyHierarchy | RootPlace | None = None,
    ) -> None:
        self.folder = Path(data_dir)
        self.state_path = self.folder / STATE_FILE
        self.audit = audit if audit is not None else AuditLog(self.folder, keys)
        self.clock = clock
        self._keys = keys

    def _pepper(self) -> bytes:
        if not isinstance(self._keys, KeyHierarchy):
            try:
                self._keys = (self._keys or RootPlace()).open(self.folder)
            except RootSecretError as error:
                raise PinHashError(f"the PIN cannot be checked: {error.sentence}") from None
        return self._keys.pin_pepper()

    def check(self, role: Role, pin: str, pin_hash: str, *, purpose: str = "") -> None:
        """Return if `pin` matches `pin_hash`; raise PinRejected / PinLocked otherwise."""
        if not is_pin_hash(pin_hash):
            raise PinHashError(
                f"ui.{role}_pin_hash is not an argon2 PIN hash: make one with "
                f"`posterm pin set {role}` (or `posterm pin hash`)"
            )
        with self._state() as state:
            entry = state.setdefault(role, {"failures": 0, "locked_until": 0.0})
            now = self.clock()
            wait = float(entry.get("locked_until", 0.0)) - now
            if wait > 0:
                self.audit.append(
                    "pin.locked_out",
                    {"pin": role, "purpose": purpose, "retry_after_s": round(wait)},
                    role="unverified",
                )
                raise PinLocked(
                    f"too many wrong {role} PINs: try again in {_duration(wait)}",
                    retry_after_s=wait,
                )
            pepper = self._pepper() if is_peppered(pin_hash) else None
            if _matches(pin, pin_hash, pepper):
                entry["failures"], entry["locked_until"] = 0, 0.0
                details = {"pin": role, "purpose": purpose}
                advice = pin_advice(pin, pin_hash)
                if advice:
                    details["change_pin"] = advice
                    log.warning(
                        "the %s PIN should be changed (%s): run `posterm pin set %s`",
                        role,
                        advice,
                        role,
                    )
                self.audit.append("pin.accepted", details, role=role)
                return
            entry["failures"] = int(entry.get("failures", 0)) + 1
            lock = lockout_seconds(entry["failures"])
            entry["locked_until"] = now + lock if lock else 0.0
            if lock:
                # Whoever tries PINs until a lockout may be guessing: the fleet hears of it.
                # Raised before the attempts file is written, so a reporter that also watches
                # the file (other processes' lockouts) knows this one already.
                raise_alarm(
                    "pin_lockout",
                    role=role,
                    purpose=purpose,
                    failures=int(entry["failures"]),
                    locked_for_s=round(lock),
                )
            self.audit.append(
                "pin.rejected",
                {
                    "pin": role,
                    "purpose": purpose,
                    "failures": entry["failures"],
                    "locked_for_s": round(lock),
                },
                role="unverified",
            )
        if lock:
            raise PinLocked(
                f"wrong {role} PIN; locked for {_duration(lock)} after "
                f"{entry['failures']} wrong attempts",
                retry_after_s=lock,
            )
        left = FREE_ATTEMPTS - entry["failures"]
        raise PinRejected(
            f"wrong {role} PIN ({left} more attempt{'s' if left != 1 else ''} before a lockout)"
        )

    def failures(self, role: Role) -> int:
        """Consecutive wrong PINs recorded for `role`."""
        with self._state() as state:
            return int(state.get(role, {}).get("failures", 0))

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        """The attempts file, locked for the whole check so parallel tries queue up."""
        private_folder(self.folder)
        fd = os.open(self.state_path, os.O_RDWR | os.O_CREAT, 0o600)
        match_owner(self.state_path, self.folder)
        with os.fdopen(fd, "r+", encoding="utf-8") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                text = handle.read()
                try:
                    state = json.loads(text) if text.strip() else {}
                except ValueError:
                    state = {}  # rebuilt; whoever could damage it could delete it too
                if not isinstance(state, dict):
                    state = {}
                yield state
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(state, sort_keys=True))
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _peppered(*, pin: str, pepper: bytes) -> bytes:
    return hmac.new(pepper, pin.encode("ascii"), hashlib.sha256).digest()


def _matches(pin: str, pin_hash: str, pepper: bytes | None) -> bool:
    """`pin` against `pin_hash`: peppered when the hash says so, else the bare PIN (older)."""
    try:
        if pepper is None:
            return bool(_hasher.verify(pin_hash, pin))
        if not pin.isascii():
            return False
        extract_parameters(pin_hash)  # a malformed hash is a configuration error, not a miss
        return bool(_hasher.verify(pin_hash, _peppered(pin=pin, pepper=pepper)))
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError) as error:
        raise PinHashError(f"the configured PIN hash cannot be checked ({error})") from None


def _duration(seconds: float) -> str:
    seconds = max(1, round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    return f"{round(seconds / 60)} min"
