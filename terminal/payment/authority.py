"""Who may refund or void, and the audit record of every one, whichever door it came by.

The operator screen asks for the supervisor PIN; the ECR API follows `[ecr] refunds`
(allowed, supervisor_pin, refused) and the CLI asks the PIN when one is set. Every refund and
void that was asked for (approved, declined, refused, failed) is appended to the sealed audit
log with the person or door behind it, the sale, the amount and how it ended.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from terminal.money import Amount
from terminal.payment.api import Outcome
from terminal.security.audit import AuditError, AuditLog, current_actor
from terminal.security.pins import PinError, PinGuard

log = logging.getLogger("terminal.payment.authority")

Door = Literal["screen", "cli", "ecr", "nexo", "fleet"]


def check_supervisor_pin(data_dir: Path, pin_hash: str, pin: str, purpose: str) -> None:
    """The supervisor PIN check shared with the screen (argon2, lockout, audited); raises
    `PinError` with a sentence when it fails. Blocking: call it off the event loop."""
    PinGuard(data_dir).check("supervisor", pin, pin_hash, purpose=purpose)


def audit_adjustment(
    data_dir: Path,
    kind: str,
    sale_id: str,
    amount: Amount | None,
    door: Door,
    *,
    outcome: Outcome | None = None,
    refusal: str = "",
    actor: str | None = None,
    supervisor: bool = False,
) -> None:
    """Append the audit record of one refund or void, or one increment, capture or cancel of a
    pre-authorisation (`sale_id`: the hold) (its outcome, or why it was refused).

    A failing audit log does not undo what the bank already did: it is logged as an error.
    """
    details = {
        "door": door,
        "sale_id": sale_id,
        "amount": amount.to_json() if amount is not None else None,
        "result": outcome.result.value if outcome is not None else "refused",
        "transaction_id": outcome.id if outcome is not None else "",
        "code": outcome.code if outcome is not None else "",
        "message": outcome.message if outcome is not None else refusal,
    }
    try:
        AuditLog(data_dir).append(
            f"payment.{kind}",
            details,
            role="supervisor" if supervisor else "operator",
            actor=actor or f"{current_actor()} via {door}",
        )
    except AuditError as error:
        log.error("the %s of %s could not be audited: %s", kind, sale_id, error.sentence)


__all__ = ["Door", "PinError", "audit_adjustment", "check_supervisor_pin"]
