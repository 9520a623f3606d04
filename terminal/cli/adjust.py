"""`posterm refund ID [--amount X]` and `posterm void ID`: act on an earlier sale.

Checked against the journal before anything is sent: an unknown id, a refund above what is
left of the sale, or a void of a settled or refunded sale is refused with exit status 2 and
nothing reaches the bank.

When a supervisor PIN is set (ui.supervisor_pin_hash) it is asked first, as the operator
screen does (same lockout): on the terminal's TTY, or one line on stdin with `--pin-stdin`;
with neither the command is refused (exit 2). Every refund and void is audited.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import TYPE_CHECKING, Any

from terminal.cli._payment import guarded, report, run, show_progress
from terminal.errors import PostermError, UsageError
from terminal.money import Amount
from terminal.payment.api import Outcome
from terminal.payment.authority import audit_adjustment, check_supervisor_pin

if TYPE_CHECKING:
    from terminal.settings import Settings


def register(subparsers: Any) -> None:
    refund = subparsers.add_parser("refund", help="refund all or part of an earlier sale")
    refund.add_argument("id", help="the sale's id (see `posterm history`)")
    refund.add_argument("--amount", help="part to refund, e.g. 5.00 (default: all that is left)")
    refund.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    refund.add_argument("--pin-stdin", action="store_true", help=PIN_STDIN_HELP)
    refund.set_defaults(handler=refund_command)
    void = subparsers.add_parser("void", help="cancel a sale that is not yet settled")
    void.add_argument("id", help="the sale's id (see `posterm history`)")
    void.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    void.add_argument("--pin-stdin", action="store_true", help=PIN_STDIN_HELP)
    void.set_defaults(handler=void_command)


PIN_STDIN_HELP = "read the supervisor PIN from one line of stdin (no TTY prompt)"


def _supervisor(args: argparse.Namespace, settings: Settings, kind: str) -> bool:
    """Ask and check the supervisor PIN when one is set; True when it was checked.
    Raises `UsageError` (exit 2) when it cannot be asked, `PinError` when it is wrong."""
    pin_hash = settings.ui.supervisor_pin_hash
    if not pin_hash:
        return False
    if args.pin_stdin:
        pin = sys.stdin.readline().strip()
    elif sys.stdin.isatty():
        pin = getpass.getpass(f"Supervisor PIN for this {kind}: ")
    else:
        raise UsageError(
            f"A {kind} needs the supervisor PIN and there is no terminal to ask it on: "
            "pass --pin-stdin and write the PIN on stdin. Nothing was sent."
        )
    check_supervisor_pin(settings.data_dir, pin_hash, pin, f"cli {kind}")
    return True


def _adjust(args: argparse.Namespace, settings: Settings, kind: str, action: Any) -> Outcome:
    """PIN, then the refund or void, audited however it ends."""
    amount = (
        Amount.parse(args.amount, settings.terminal.currency)
        if kind == "refund" and (args.amount)
        else None
    )
    supervisor = False
    try:
        supervisor = _supervisor(args, settings, kind)
        outcome = _engine_run(settings, action)
    except PostermError as error:
        audit_adjustment(
            settings.data_dir,
            kind,
            args.id,
            amount,
            "cli",
            refusal=error.sentence,
            supervisor=supervisor,
        )
        raise
    audit_adjustment(
        settings.data_dir,
        kind,
        args.id,
        amount or outcome.amount,
        "cli",
        outcome=outcome,
        supervisor=supervisor,
    )
    return outcome


def _engine_run(settings: Settings, action: Any) -> Outcome:
    from terminal.payment.factory import build_engine

    engine = build_engine(settings)

    async def go(cancel: asyncio.Event) -> Outcome:
        async with engine:
            result: Outcome = await action(engine)
            return result

    return run(go)


def refund_command(args: argparse.Namespace) -> int:
    def body(settings: Settings) -> int:
        amount = Amount.parse(args.amount, settings.terminal.currency) if args.amount else None
        outcome = _adjust(
            args,
            settings,
            "refund",
            lambda engine: engine.refund(args.id, amount, show_progress),
        )
        return report(args, outcome)

    return guarded(args, body)


def void_command(args: argparse.Namespace) -> int:
    def body(settings: Settings) -> int:
        outcome = _adjust(
            args, settings, "void", lambda engine: engine.void(args.id, show_progress)
        )
        return report(args, outcome)

    return guarded(args, body)
