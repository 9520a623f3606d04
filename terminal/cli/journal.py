"""`posterm journal wipe-card-data`: remove sealed card data the journal no longer needs.

The engine wipes a transaction's card data (the JWE of the card or scanned code in its
stored request) in the commit that records its final answer, and once over a journal written
before that rule at its first start. This command does the same on demand (a technician
before handing in a disk, an auditor's check): idempotent, it reports how many stored
messages it changed.
"""

from __future__ import annotations

import argparse
from typing import Any

from terminal.cli._common import print_json, progress, settings_from


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("journal", help="payment journal maintenance")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    wipe = actions.add_parser(
        "wipe-card-data",
        help="remove sealed card data from messages that can no longer be sent",
    )
    wipe.add_argument("--json", action="store_true", help="print one JSON object")
    wipe.set_defaults(handler=wipe_command)


def wipe_command(args: argparse.Namespace) -> int:
    from terminal.payment.factory import build_engine

    settings = settings_from(args, quiet_logs=True)
    engine = build_engine(settings)  # the bank adapter knows its stored form
    try:
        wiped = engine.journal.wipe_card_data()
    finally:
        engine.journal.close()
    if args.json:
        print_json({"wiped": wiped})
    else:
        progress(
            f"card data removed from {wiped} stored message(s); "
            "messages that may still be sent keep theirs until they are answered"
        )
    return 0
