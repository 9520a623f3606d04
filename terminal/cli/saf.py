"""`posterm saf status|flush`: the store-and-forward queue (offline sales, reversals).

`status` shows what waits to be forwarded: count, total, oldest, reversals, last error, and
whether the link is trusted (`"link": "untrusted"` while the bank's certificate fails
verification: a security alarm, offline approvals suspended).
`flush` forwards everything pending now, showing progress on stderr, and exits non-zero
(3) if anything is left.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from terminal.cli._common import print_json, progress, settings_from
from terminal.cli._payment import run
from terminal.gateway.trust import TRUSTED, UNTRUSTED, link_alarm
from terminal.payment.api import QueueStatus, TransactionView


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("saf", help="store-and-forward queue: status, flush")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="pending advices and reversals")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(handler=status_command)
    flush = actions.add_parser("flush", help="forward everything pending now")
    flush.add_argument("--json", action="store_true", help="print one JSON object")
    flush.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="give up after S seconds"
    )
    flush.set_defaults(handler=flush_command)


def status_object(
    status: QueueStatus, parked: int, declined: list[TransactionView], alarm: str = ""
) -> dict[str, Any]:
    return {
        "link": UNTRUSTED if alarm else TRUSTED,
        "link_alarm": alarm or None,
        "count": status.count,
        "advices": status.count - status.reversals - status.holds,
        "reversals": status.reversals,
        "captures": status.holds,
        "total": status.total.to_json(),
        "oldest": status.oldest.isoformat() if status.oldest else None,
        "parked": parked,
        "last_error": status.last_error,
        "declined_after_forward": [row.to_json() for row in declined],
    }


def _print_status(
    status: QueueStatus, parked: int, declined: list[TransactionView], alarm: str = ""
) -> None:
    if alarm:
        print(f"link:       UNTRUSTED - security alarm: {alarm}")
    oldest = status.oldest.astimezone().strftime("%Y-%m-%d %H:%M:%S") if status.oldest else "-"
    print(
        f"pending:    {status.count} ({status.count - status.reversals - status.holds} advices, "
        f"{status.reversals} reversals"
        + (f", {status.holds} captures or cancels of holds" if status.holds else "")
        + ")"
    )
    print(f"total:      {status.total}")
    print(f"oldest:     {oldest}")
    if parked:
        print(f"parked:     {parked} (refused by the bank; see the log)")
    print(f"last error: {status.last_error or '-'}")
    for row in declined:  # the merchant carries these: the bank refused them afterwards
        print(f"declined by the bank after forwarding: {row.id} {row.amount} code {row.code}")


def status_command(args: argparse.Namespace) -> int:
    from terminal.payment import reports
    from terminal.payment.journal import Journal

    settings = settings_from(args, quiet_logs=True)
    journal = Journal.open(settings.data_dir)
    try:
        status = reports.queue_status(journal, settings.currency)
        parked = reports.parked_count(journal)
        declined = reports.offline_declined(journal)
    finally:
        journal.close()
    alarm = link_alarm(settings.data_dir)
    if args.json:
        print_json(status_object(status, parked, declined, alarm))
    else:
        _print_status(status, parked, declined, alarm)
    return 0


def flush_command(args: argparse.Namespace) -> int:
    from terminal.payment import reports
    from terminal.payment.forwarder import FlushReport

    settings = settings_from(args, quiet_logs=True)
    from terminal.payment.factory import build_engine

    engine = build_engine(settings)

    shown = {"at": 0.0}

    def show(report: FlushReport) -> None:
        now = time.monotonic()
        if report.left == 0 or now - shown["at"] >= 0.5:  # a line every half second at most
            shown["at"] = now
            progress(f"forwarded {report.sent}, declined {report.declined}, left {report.left}")

    async def flush(
        cancel: asyncio.Event,
    ) -> tuple[FlushReport, QueueStatus, int, list[TransactionView]]:
        await engine.start(forward=False)
        try:
            try:
                async with asyncio.timeout(args.timeout):
                    report = await engine.flush(show)
            except TimeoutError:
                report = FlushReport(0, 0, 0, -1, f"gave up after {args.timeout:.0f} s")
            return (
                report,
                engine.queue_status(),
                reports.parked_count(engine.journal),
                reports.offline_declined(engine.journal),
            )
        finally:
            await engine.stop()

    report, status, parked, declined = run(flush)
    alarm = link_alarm(settings.data_dir)
    if args.json:
        print_json(
            {
                **status_object(status, parked, declined, alarm),
                "forwarded": report.sent,
                "declined": report.declined,
                "error": report.last_error,
            }
        )
    else:
        progress(f"forwarded {report.sent} ({report.declined} declined by the bank)")
        _print_status(status, parked, declined, alarm)
    return 0 if status.count == 0 else 3
