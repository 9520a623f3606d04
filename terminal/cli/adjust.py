"""`posterm refund ID [--amount X]` and `posterm void ID`: act on an earlier sale.

Checked against the journal before anything is sent: an unknown id, a refund above what is
left of the sale, or a void of a settled or refunded sale is refused with exit status 2 and
nothing reaches the bank.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

from terminal.cli._payment import guarded, report, run, show_progress
from terminal.money import Amount
from terminal.payment.api import Outcome

if TYPE_CHECKING:
    from terminal.settings import Settings


def register(subparsers: Any) -> None:
    refund = subparsers.add_parser("refund", help="refund all or part of an earlier sale")
    refund.add_argument("id", help="the sale's id (see `posterm history`)")
    refund.add_argument("--amount", help="part to refund, e.g. 5.00 (default: all that is left)")
    refund.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    refund.set_defaults(handler=refund_command)
    void = subparsers.add_parser("void", help="cancel a sale that is not yet settled")
    void.add_argument("id", help="the sale's id (see `posterm history`)")
    void.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    void.set_defaults(handler=void_command)


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
        outcome = _engine_run(
            settings, lambda engine: engine.refund(args.id, amount, show_progress)
        )
        return report(args, outcome)

    return guarded(args, body)


def void_command(args: argparse.Namespace) -> int:
    def body(settings: Settings) -> int:
        outcome = _engine_run(settings, lambda engine: engine.void(args.id, show_progress))
        return report(args, outcome)

    return guarded(args, body)
