"""Technician and supervisor PINs: peppered argon2 hashes, lockouts that survive restarts,
audited; hashes from older versions (no pepper, 4 digits) keep working with a warning."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from hypothesis import given, settings
from hypothesis import strategies as st

from terminal.security.audit import AuditLog
from terminal.security.key_hierarchy import KeyHierarchy
from terminal.security.pins import (
    FREE_ATTEMPTS,
    LOCK_BASE_S,
    LOCK_MAX_S,
    PinFormatError,
    PinGuard,
    PinHashError,
    PinLocked,
    PinRejected,
    hash_pin,
    is_peppered,
    is_pin_hash,
    lockout_seconds,
)

# Verifying costs what the hash says: tests use a cheap one so lockout loops stay quick
# (production hashes from `hash_pin` take argon2-cffi's recommended, much higher cost).
HASH = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("2468")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def guard(folder: Path, clock: Clock) -> PinGuard:
    return PinGuard(folder, AuditLog(folder), clock=clock)


def test_right_pin_is_accepted_and_audited(tmp_path: Path) -> None:
    guard(tmp_path, Clock()).check("technician", "2468", HASH, purpose="config set")
    (record,) = AuditLog(tmp_path).records()
    assert record.action == "pin.accepted" and record.role == "technician"
    assert "2468" not in AuditLog(tmp_path).path.read_text()


def test_wrong_pins_count_down_then_lock_the_role(tmp_path: Path) -> None:
    clock = Clock()
    with pytest.raises(PinRejected, match="2 more attempts"):
        guard(tmp_path, clock).check("technician", "1111", HASH)
    with pytest.raises(PinRejected, match="1 more attempt before"):
        guard(tmp_path, clock).check("technician", "1111", HASH)
    with pytest.raises(PinLocked, match="locked for 30 s") as locked:
        guard(tmp_path, clock).check("technician", "1111", HASH)
    assert locked.value.retry_after_s == LOCK_BASE_S


def test_locked_role_refuses_even_the_right_pin_until_the_lockout_ends(tmp_path: Path) -> None:
    clock = Clock()
    for _ in range(FREE_ATTEMPTS):
        with pytest.raises((PinRejected, PinLocked)):
            guard(tmp_path, clock).check("technician", "0000", HASH)
    clock.now += LOCK_BASE_S - 1
    with pytest.raises(PinLocked, match="try again in 1 s"):
        guard(tmp_path, clock).check("technician", "2468", HASH)
    clock.now += 2
    guard(tmp_path, clock).check("technician", "2468", HASH)
    assert guard(tmp_path, clock).failures("technician") == 0


def test_lockout_doubles_with_each_further_wrong_pin(tmp_path: Path) -> None:
    clock = Clock()
    waits = []
    for _ in range(FREE_ATTEMPTS + 2):
        try:
            guard(tmp_path, clock).check("supervisor", "9999", HASH)
        except PinLocked as locked:
            waits.append(locked.retry_after_s)
            clock.now += locked.retry_after_s
        except PinRejected:
            pass
    assert waits == [LOCK_BASE_S, 2 * LOCK_BASE_S, 4 * LOCK_BASE_S]


def test_count_survives_a_new_process_and_is_kept_per_role(tmp_path: Path) -> None:
    clock = Clock()
    for _ in range(2):
        with pytest.raises(PinRejected):
            guard(tmp_path, clock).check("technician", "0000", HASH)
    assert PinGuard(tmp_path).failures("technician") == 2
    assert PinGuard(tmp_path).failures("supervisor") == 0


def test_every_attempt_is_in_the_audit_log(tmp_path: Path) -> None:
    clock = Clock()
    for pin in ("0000", "0000", "0000", "2468"):
        with pytest.raises((PinRejected, PinLocked)):
            guard(tmp_path, clock).check("technician", pin, HASH, purpose="keys rotate")
    actions = [r.action for r in AuditLog(tmp_path).records()]
    assert actions == ["pin.rejected", "pin.rejected", "pin.rejected", "pin.locked_out"]
    assert AuditLog(tmp_path).verify().intact


def test_a_hash_that_is_not_argon2_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(PinHashError, match="posterm pin set technician"):
        guard(tmp_path, Clock()).check("technician", "2468", "sha256:abcdef")


PEPPER = b"p" * 32


@pytest.mark.parametrize("pin", ["", "123", "2468", "12345", "1234567890123", "12a456", " 12345"])
def test_new_pins_are_6_to_12_digits(pin: str) -> None:
    with pytest.raises(PinFormatError, match="6 to 12 digits"):
        hash_pin(pin, PEPPER)


def test_hashes_are_salted_peppered_argon2id() -> None:
    first, second = hash_pin("246813", PEPPER), hash_pin("246813", PEPPER)
    assert first != second
    assert first.startswith("$argon2id$") and is_pin_hash(first)
    assert is_peppered(first) and not is_peppered(HASH)


def test_a_peppered_pin_is_accepted_by_the_terminal_that_made_it(tmp_path: Path) -> None:
    keys = KeyHierarchy.open(tmp_path)
    pin_hash = hash_pin("246813", keys.pin_pepper())
    PinGuard(tmp_path, keys=keys).check("technician", "246813", pin_hash)
    with pytest.raises(PinRejected):
        PinGuard(tmp_path, keys=keys).check("technician", "246814", pin_hash)
    details = [r.details for r in AuditLog(tmp_path, keys).records()]
    assert "change_pin" not in details[0]


def test_the_site_file_hash_alone_does_not_verify_the_pin(tmp_path: Path) -> None:
    """The offline attack: argon2 over the PIN space with nothing but the site file's hash.
    The right PIN does not verify without the pepper, nor with another terminal's."""
    pin_hash = hash_pin("246813", KeyHierarchy.open(tmp_path / "shop").pin_pepper())
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(pin_hash, "246813")
    other = tmp_path / "attacker"
    with pytest.raises(PinRejected):
        PinGuard(other, keys=KeyHierarchy.open(other)).check("technician", "246813", pin_hash)


def test_an_old_4_digit_unpeppered_pin_still_works_with_a_warning_to_change_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    guard(tmp_path, Clock()).check("technician", "2468", HASH)
    (record,) = AuditLog(tmp_path).records()
    assert record.action == "pin.accepted"
    assert "shorter than 6 digits" in record.details["change_pin"]
    assert "older posterm" in record.details["change_pin"]
    assert "posterm pin set technician" in caplog.text


@settings(max_examples=50)
@given(st.integers(min_value=0, max_value=100))
def test_lockout_never_shrinks_and_is_capped(failures: int) -> None:
    assert lockout_seconds(failures) <= lockout_seconds(failures + 1) <= LOCK_MAX_S
    assert (lockout_seconds(failures) == 0) == (failures < FREE_ATTEMPTS)
