"""`posterm history`, `posterm totals` and `posterm close-batch`: what the journal holds.

`history --json` prints a JSON array of transactions (id, type, state, result, amount, entry,
masked_pan, created_at, ...), newest first; `totals --json` one object with the lines since the
last batch close. Reading needs only the journal, never the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from terminal.cli._common import print_json, progress, settings_from
from terminal.cli._payment import run
from terminal.payment.api import BatchResult


def register(subparsers: Any) -> None:
    history = subparsers.add_parser("history", help="list transactions, newest first")
    history.add_argument("--json", action="store_true", help="print a JSON array")
    history.add_argument("--limit", type=int, default=100, help="most rows shown (default 100)")
    history.add_argument("--search", default="", help="id, last digits of the card, reference")
    history.set_defaults(handler=history_command)
    totals = subparsers.add_parser("totals", help="counts and sums since the last batch close")
    totals.add_argument("--json", action="store_true", help="print one JSON object")
    totals.set_defaults(handler=totals_command)
    close = subparsers.add_parser(
        "close-batch", help="forward what is queued, send the totals to the bank, start a batch"
    )
    close.add_argument("--json", action="store_true", help="print one JSON object")
    close.set_defaults(handler=close_batch_command)


def history_command(args: argparse.Namespace) -> int:
    from terminal.payment import reports
    from terminal.payment.journal import Journal

    settings = settings_from(args, quiet_logs=True)
    if args.limit < 1:
        from terminal.errors import UsageError

        raise UsageError("--limit must be at least 1.")
    journal = Journal.open(settings.data_dir)
    try:
        rows = reports.history(journal, limit=args.limit, search=args.search)
    finally:
        journal.close()
    if args.json:
        print_json([row.to_json() for row in rows])
        return 0
    if not rows:
        print("no transactions")
    for row in rows:
        when = row.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        ref = f" of {row.ref}" if row.ref else ""
        print(
            f"{when}  {row.type:<6} {row.state:<22} {row.amount!s:>14}  "
            f"{row.masked_pan or row.scheme or '-':<19} {row.code or '--':<3} {row.id}{ref}"
        )
        if row.paid_with:
            print(f"{'':21}{row.paid_with}")
    return 0


def totals_command(args: argparse.Namespace) -> int:
    from terminal.payment import reports
    from terminal.payment.journal import Journal

    settings = settings_from(args, quiet_logs=True)
    journal = Journal.open(settings.data_dir)
    try:
        totals = reports.totals(journal, settings.currency)
    finally:
        journal.close()
    if args.json:
        print_json(totals.to_json())
        return 0
    since = totals.since.astimezone().strftime("%Y-%m-%d %H:%M") if totals.since else "the start"
    print(f"since {since}")
    if not totals.lines:
        print("no transactions")
    for line in totals.lines:
        print(
            f"{line.type:<7} {line.entry:<7} {line.result:<17} {line.count:>5}  {line.total!s:>16}"
        )
    return 0


def close_batch_command(args: argparse.Namespace) -> int:
    settings = settings_from(args, quiet_logs=True)
    from terminal.payment.factory import build_engine

    engine = build_engine(settings)

    async def close(cancel: asyncio.Event) -> BatchResult:
        async with engine:
            return await engine.close_batch()

    result = run(close)
    if result.result == "error":  # the batch stays open: a device/bank problem (exit 3)
        print(f"posterm: {result.message}", file=sys.stderr)
        return 3
    if args.json:
        print_json(
            {
                "result": result.result,
                "terminal_totals": result.terminal_totals,
                "gateway_totals": result.gateway_totals,
                "message": result.message,
            }
        )
    else:
        print(result.result)
        progress(result.message)
    return 0 if result.result == "balanced" else 1
