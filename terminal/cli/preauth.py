"""Pre-authorisations from the command line (hotels, car hire, bar tabs).

    posterm preauth --amount A [--currency C] [--reference TEXT] [--timeout S] [--json]
    posterm preauth increment ID --amount A [--reference R] [--json]
    posterm preauth cancel ID [--json]
    posterm capture ID [--amount A] [--tip T] [--currency C] [--reference R] [--json]

`preauth` holds the amount on a tapped card (online only: never approved offline).
`capture` charges the final amount (default: all that is held) plus an optional tip; with the
bank unreachable it is stored and sent later (exit 0, result `approved_offline`). Checked
against the journal first: an unknown id, a hold already captured or cancelled, a negative
tip or another currency is refused with exit status 2 and nothing reaches the bank. Every
increment, capture and cancel is audited (`payment.<kind>`, as refunds and voids are).

Exit status: 0 approved (or capture stored), 1 declined or cancelled, 2 refused before
anything was sent (usage, configuration), 3 device or gateway error.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

from terminal.cli._payment import devices_for, guarded, report, run, show_progress
from terminal.errors import PostermError, UsageError
from terminal.money import Amount
from terminal.payment.api import EntryMethod, Outcome, SaleRequest
from terminal.payment.authority import audit_adjustment

if TYPE_CHECKING:
    from terminal.payment.engine import Engine
    from terminal.payment.holds import HoldKind
    from terminal.settings import Settings


def register(subparsers: Any) -> None:
    preauth = subparsers.add_parser(
        "preauth",
        help="hold an amount on a card (pre-authorisation); raise or cancel a hold",
        description="Hold an amount on a tapped card, to capture later (`posterm capture`). "
        "Exit status: 0 approved, 1 declined or cancelled, 2 refused before anything was "
        "sent, 3 device or gateway error.",
    )
    preauth.add_argument("--amount", help="amount to hold in major units, e.g. 100.00")
    preauth.add_argument("--currency", help="ISO 4217 code; must be the terminal's")
    preauth.add_argument("--reference", default="", help="till reference kept with the hold")
    preauth.add_argument("--timeout", type=float, metavar="S", help="seconds to wait for the card")
    preauth.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    preauth.set_defaults(handler=preauth_command, hold_action=None)
    actions = preauth.add_subparsers(dest="hold_action", metavar="{increment,cancel}")
    increment = actions.add_parser("increment", help="raise a hold by an amount")
    increment.add_argument("id", help="the pre-authorisation's id (see `posterm history`)")
    increment.add_argument("--amount", required=True, help="amount to add, e.g. 20.00")
    increment.add_argument("--currency", help="ISO 4217 code; must be the hold's")
    increment.add_argument(
        "--reference",
        default="",
        help="till reference: repeating the command with it answers the first outcome, "
        "nothing is sent again",
    )
    increment.add_argument("--json", action="store_true", help="print one JSON object")
    increment.set_defaults(handler=increment_command)
    cancel = actions.add_parser("cancel", help="release a hold (nothing is charged)")
    cancel.add_argument("id", help="the pre-authorisation's id (see `posterm history`)")
    cancel.add_argument("--json", action="store_true", help="print one JSON object")
    cancel.set_defaults(handler=cancel_command)

    capture = subparsers.add_parser(
        "capture",
        help="charge a held pre-authorisation (final amount, optional tip)",
        description="Charge a pre-authorisation: the final amount (default: all that is held) "
        "plus an optional tip. Exit status: 0 approved or stored to send later, 1 declined, "
        "2 refused before anything was sent, 3 gateway error.",
    )
    capture.add_argument("id", help="the pre-authorisation's id (see `posterm history`)")
    capture.add_argument("--amount", help="final amount before the tip (default: all held)")
    capture.add_argument("--tip", help="tip added to the amount, e.g. 8.00")
    capture.add_argument("--currency", help="ISO 4217 code; must be the hold's")
    capture.add_argument(
        "--reference",
        default="",
        help="till reference: repeating the command with it answers the first outcome",
    )
    capture.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    capture.set_defaults(handler=capture_command)


def _amount(text: str | None, currency: str | None, settings: Settings, name: str) -> Amount | None:
    """`text` read in `currency` (default the terminal's); a negative tip is read as such so
    the check can say why it is refused."""
    if text is None:
        return None
    return Amount.parse(text, currency or settings.terminal.currency, allow_negative=name == "tip")


def _engine(settings: Settings, with_reader: bool = False) -> Engine:
    from terminal.payment.factory import build_engine

    capture = devices_for(EntryMethod.NFC, settings)[0] if with_reader else None
    return build_engine(settings, card_capture=capture)


def _on_hold(
    settings: Settings,
    kind: HoldKind,
    hold_id: str,
    amount: Amount | None = None,
    tip: Amount | None = None,
    reference: str = "",
) -> Outcome:
    if len(reference) > 64:
        raise UsageError("--reference is limited to 64 characters.")
    engine = _engine(settings)

    async def go(cancel: asyncio.Event) -> Outcome:
        async with engine:
            # exit 2, nothing sent; a repeat of `reference` answers the first outcome
            action = await engine.check_hold(kind, hold_id, amount, tip, reference)
            return await engine.act_on_hold(action, show_progress)

    try:
        outcome = run(go)
    except PostermError as error:  # refused before anything was sent: audited as such
        audit_adjustment(settings.data_dir, kind, hold_id, amount, "cli", refusal=error.sentence)
        raise
    audit_adjustment(settings.data_dir, kind, hold_id, outcome.amount, "cli", outcome=outcome)
    return outcome


def preauth_command(args: argparse.Namespace) -> int:
    def body(settings: Settings) -> int:
        if args.amount is None:
            raise UsageError(
                "posterm preauth needs --amount (or `increment ID --amount A`, `cancel ID`)."
            )
        amount = _amount(args.amount, args.currency, settings, "amount")
        assert amount is not None
        request = SaleRequest(amount, reference=args.reference, timeout_s=args.timeout)
        request.check(settings.currency)
        if len(args.reference) > 64:
            raise UsageError("--reference is limited to 64 characters.")
        if args.timeout is not None and not 0 < args.timeout <= 600:
            raise UsageError("--timeout must be between 0 and 600 seconds.")
        engine = _engine(settings, with_reader=True)

        async def hold(cancel: asyncio.Event) -> Outcome:
            async with engine:
                return await engine.preauth(request, show_progress, cancel)

        return report(args, run(hold))

    return guarded(args, body, entry="nfc")


def increment_command(args: argparse.Namespace) -> int:
    def body(settings: Settings) -> int:
        amount = _amount(args.amount, args.currency, settings, "amount")
        return report(
            args, _on_hold(settings, "increment", args.id, amount, reference=args.reference)
        )

    return guarded(args, body)


def cancel_command(args: argparse.Namespace) -> int:
    return guarded(
        args, lambda settings: report(args, _on_hold(settings, "preauth_cancel", args.id))
    )


def capture_command(args: argparse.Namespace) -> int:
    def body(settings: Settings) -> int:
        amount = _amount(args.amount, args.currency, settings, "amount")
        tip = _amount(args.tip, args.currency, settings, "tip")
        return report(args, _on_hold(settings, "capture", args.id, amount, tip, args.reference))

    return guarded(args, body)
