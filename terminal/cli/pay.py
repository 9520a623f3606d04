"""`posterm pay`: one sale from the command line, for scripts and cash registers.

    posterm pay --amount 12.34 [--currency EUR] [--method nfc|qr-scan|qr-show]
                [--reference TEXT] [--timeout S] [--json]

Exit status: 0 approved (online or offline), 1 declined or cancelled, 2 usage or configuration
error, 3 device or gateway error. Ctrl-C cancels while waiting for the card; once the payment
is sent it runs to a definite end.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from terminal.cli._common import progress
from terminal.cli._payment import devices_for, guarded, report, run, show_progress
from terminal.errors import UsageError
from terminal.money import Amount
from terminal.payment.api import EntryMethod, SaleRequest
from terminal.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "pay",
        help="take one payment (progress on stderr, result on stdout)",
        description="Take one payment. Exit status: 0 approved (online or offline), "
        "1 declined or cancelled, 2 usage or configuration error, 3 device or gateway error.",
    )
    parser.add_argument("--amount", required=True, help="amount in major units, e.g. 12.34")
    parser.add_argument(
        "--currency", help="ISO 4217 code; must be the terminal's (default: terminal.currency)"
    )
    parser.add_argument(
        "--method",
        choices=[m.value for m in EntryMethod],
        default=EntryMethod.NFC.value,
        help="nfc (card or phone, default), qr-scan (customer shows a code), "
        "qr-show (terminal shows a code)",
    )
    parser.add_argument("--reference", default="", help="till reference kept with the sale")
    parser.add_argument(
        "--timeout", type=float, metavar="S", help="seconds to wait for the card or code"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(handler=pay_command)


def pay_command(args: argparse.Namespace) -> int:
    parsed: list[Amount] = []

    def body(settings: Settings) -> int:
        amount = Amount.parse(args.amount, args.currency or settings.terminal.currency)
        parsed.append(amount)
        if amount.currency != settings.currency:
            raise UsageError(
                f"This terminal takes {settings.currency.code}, not {amount.currency.code}."
            )
        if len(args.reference) > 64:
            raise UsageError("--reference is limited to 64 characters.")
        if args.timeout is not None and not 0 < args.timeout <= 600:
            raise UsageError("--timeout must be between 0 and 600 seconds.")
        method = EntryMethod(args.method)
        request = SaleRequest(
            amount=amount, method=method, reference=args.reference, timeout_s=args.timeout
        )
        capture, scanner, presenter = devices_for(method, settings)
        from terminal.payment.factory import build_engine

        engine = build_engine(
            settings, card_capture=capture, code_scanner=scanner, code_presenter=presenter
        )

        async def sale(cancel: asyncio.Event) -> Any:
            async with engine:
                return await engine.sale(request, show_progress, cancel)

        outcome = run(sale)
        return report(args, outcome)

    try:
        return guarded(args, body, lambda: parsed[0] if parsed else None)
    except KeyboardInterrupt:
        progress("posterm: interrupted")
        return 1
