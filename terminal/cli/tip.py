"""`posterm tip ID --amount T` (tip adjust) and `posterm cash ID [--amount A]` (a cash tender
of a split sale).

`tip` sets the tip of an approved card sale before its batch closes: the sale is then charged
its amount before tip plus T. Refused with exit status 2 and nothing sent when tip adjust is
off (`[ui] tip_adjust`), the tip is negative or above `[ui] tip_max_percent` of the sale, the id
is unknown, or the batch has closed. When a supervisor PIN is set it is asked first, as for a
refund. Every adjust is audited.

`cash` records cash paid towards a partially approved sale (no bank message); without
`--amount` it is all that is left.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from terminal.cli._payment import guarded, report, show_progress
from terminal.cli.adjust import PIN_STDIN_HELP, _adjust
from terminal.errors import UsageError
from terminal.money import Amount, AmountError

if TYPE_CHECKING:
    from terminal.settings import Settings


def register(subparsers: Any) -> None:
    tip = subparsers.add_parser("tip", help="add or change the tip of an approved card sale")
    tip.add_argument("id", help="the sale's id (see `posterm history`)")
    tip.add_argument("--amount", required=True, help="the new tip, e.g. 6.00 (0 removes it)")
    tip.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    tip.add_argument("--pin-stdin", action="store_true", help=PIN_STDIN_HELP)
    tip.set_defaults(handler=tip_command)
    cash = subparsers.add_parser("cash", help="record cash paid towards a split sale")
    cash.add_argument("id", help="the partially approved sale's id")
    cash.add_argument("--amount", help="cash received (default: all that is left)")
    cash.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    cash.set_defaults(handler=cash_command)


def tip_amount(text: str, settings: Settings) -> Amount:
    """The tip typed, negative ones included (refused by the engine with its sentence)."""
    try:
        return Amount.parse(text, settings.terminal.currency, allow_negative=True)
    except AmountError as error:
        raise UsageError(f"--amount: {error.sentence}") from None


def tip_command(args: argparse.Namespace) -> int:
    def body(settings: Settings) -> int:
        tip = tip_amount(args.amount, settings)
        outcome = _adjust(
            args,
            settings,
            "tip",
            lambda engine: engine.tip_adjust(args.id, tip, show_progress),
        )
        return report(args, outcome)

    return guarded(args, body)


def cash_command(args: argparse.Namespace) -> int:
    def body(settings: Settings) -> int:
        from terminal.cli.adjust import _engine_run

        amount = Amount.parse(args.amount, settings.terminal.currency) if args.amount else None
        outcome = _engine_run(settings, lambda engine: engine.cash_tender(args.id, amount))
        return report(args, outcome)

    return guarded(args, body)
