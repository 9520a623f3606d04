"""`posterm pay`: one sale from the command line, for scripts and cash registers.

    posterm pay --amount 12.34 [--currency EUR] [--method nfc|qr-scan|qr-show]
                [--reference TEXT] [--timeout S] [--allow-partial] [--split-of ID] [--json]

`--allow-partial`: the card's issuer may approve less than the amount (a prepaid card with a
small balance); the outcome then carries `approved_amount` and `remaining_amount`, and the rest
is paid with `--split-of ID` (another card or code) or `posterm cash ID`. Without it, a partial
approval is reversed at once and reported as declined.

Exit status: 0 approved (online or offline), 1 declined or cancelled, 2 usage or configuration
error, 3 device or gateway error. Ctrl-C cancels while waiting for the card; once the payment
is sent it runs to a definite end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from terminal.cli._common import print_json, progress
from terminal.cli._payment import (
    devices_for,
    error_object,
    guarded,
    report,
    run,
    show_progress,
)
from terminal.errors import PostermError, UsageError
from terminal.iso_codes import currency
from terminal.money import Amount
from terminal.payment.api import EntryMethod, Result, SaleRequest

if TYPE_CHECKING:
    from terminal.settings import Settings


def requested_amount(
    raw_amount: str | None, raw_currency: str | None, default_currency: str | None
) -> dict[str, Any]:
    """The `amount` of a `--json` refusal: what was asked for, as far as it can be read.

    The currency is `--currency`, else the terminal's (unknown when the configuration was
    refused); the value needs both a readable amount and a known currency. What cannot be read
    is null, so a till always finds the same keys."""
    code = raw_currency or default_currency
    try:
        cur = currency(code) if code else None
    except PostermError:
        cur = None
    value: int | None = None
    if cur is not None and raw_amount is not None:
        try:
            value = Amount.parse(raw_amount, cur).minor
        except PostermError:
            value = None
    return {"value": value, "currency": cur.code if cur else None}


def requested_entry(method: str | None) -> str:
    """The `entry` of a `--json` refusal, in the vocabulary of the sale's own outcome
    (`nfc`, `qr_cpm`, `qr_mpm`); empty only when `--method` itself is not one we know."""
    try:
        return EntryMethod(method or EntryMethod.NFC.value).protocol_entry
    except ValueError:
        return ""


def _lenient_parser() -> argparse.ArgumentParser:
    """The pay options without rules, to read what a refused command line asked for."""
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    for option in ("--amount", "--currency", "--method", "--reference", "--timeout"):
        parser.add_argument(option)
    parser.add_argument("--json", action="store_true")
    return parser


def usage_error(arguments: Sequence[str], message: str, config: str | None) -> None:
    """argparse refused `posterm pay ARGUMENTS`: with `--json`, still print one object, with
    the amount in the terminal's currency when the configuration can be read."""
    from terminal.settings import load_settings

    try:
        asked, _ = _lenient_parser().parse_known_args(list(arguments))
    except (argparse.ArgumentError, SystemExit):
        asked = argparse.Namespace(
            amount=None, currency=None, method=None, json="--json" in arguments
        )
    if not asked.json:
        return
    default_currency = None
    if not asked.currency:
        with contextlib.suppress(PostermError):
            default_currency = load_settings(config).terminal.currency
    sentence = message[:1].upper() + message[1:].rstrip(".") + "."
    print_json(
        error_object(
            sentence,
            requested_amount(asked.amount, asked.currency, default_currency),
            entry=requested_entry(asked.method),
        )
    )


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
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="accept a partial approval (the rest is paid by another tender)",
    )
    parser.add_argument(
        "--split-of",
        default="",
        metavar="ID",
        help="pay (part of) what is left of that partially approved sale",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(handler=pay_command)
    parser.usage_error = usage_error


def _check_split(settings: Settings, request: SaleRequest) -> None:
    """`--split-of ID`: what is left of that sale must cover the amount (TenderNotAllowed)."""
    from terminal.payment.journal import Journal
    from terminal.payment.tenders import check_tender

    journal = Journal.open(settings.data_dir)
    try:
        check_tender(journal, request.split_of, request.amount)
    finally:
        journal.close()


def pay_command(args: argparse.Namespace) -> int:
    started: list[bool] = []
    loaded: list[Settings] = []

    def body(settings: Settings) -> int:
        loaded.append(settings)
        amount = Amount.parse(args.amount, args.currency or settings.terminal.currency)
        method = EntryMethod(args.method)
        request = SaleRequest(
            amount=amount,
            method=method,
            reference=args.reference,
            timeout_s=args.timeout,
            allow_partial=args.allow_partial,
            split_of=args.split_of,
        ).check(settings.currency)  # amount and currency: refused here, exit code 2
        from terminal.payment.qr_link import method_refusal

        refused = method_refusal(settings, method)
        if refused:  # no link carries this method (QR on the ISO 8583 link): exit code 2
            raise UsageError(refused)
        if len(args.reference) > 64:
            raise UsageError("--reference is limited to 64 characters.")
        if args.timeout is not None and not 0 < args.timeout <= 600:
            raise UsageError("--timeout must be between 0 and 600 seconds.")
        if request.split_of:  # refused before any device opens or card is read: exit code 2
            _check_split(settings, request)
        capture, scanner, presenter = devices_for(method, settings)
        from terminal.payment.factory import build_engine

        engine = build_engine(
            settings, card_capture=capture, code_scanner=scanner, code_presenter=presenter
        )

        async def sale(cancel: asyncio.Event) -> Any:
            async with engine:
                return await engine.sale(request, show_progress, cancel)

        started.append(True)
        outcome = run(sale)
        return report(args, outcome)

    def asked(settings: Settings | None) -> dict[str, Any]:
        default = settings.terminal.currency if settings else None
        return requested_amount(args.amount, args.currency, default)

    entry = requested_entry(args.method)
    try:
        return guarded(args, body, asked, entry=entry)
    except KeyboardInterrupt:
        progress("posterm: interrupted")
        if started:  # the engine ran: its answer is in the journal, not lost
            sentence = "Interrupted while the payment was under way: see `posterm history`."
            status, result = 3, Result.ERROR
        else:
            sentence = "Interrupted before the payment started. Nothing was charged."
            status, result = 1, Result.CANCELLED
        if args.json:
            print_json(
                error_object(
                    sentence, asked(loaded[0] if loaded else None), entry=entry, result=result
                )
            )
        return status
