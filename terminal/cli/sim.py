"""`posterm sim card`: present a simulated card or phone to a reader on nfcpy's UDP driver.

The terminal opens `udp:localhost:PORT` as its reader (devices.nfc); this command is the card
on the other side, answering like an EMV contactless card with cryptograms the gateway
simulator verifies. Profiles come from config/sim/cards.toml.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from terminal.cli._common import progress
from terminal.cli._simulators import simulators_installed
from terminal.errors import UsageError
from terminal.logs import configure_logging


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sim", help="simulated devices for tests and demos")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    card = kinds.add_parser(
        "card", help="present a simulated card or phone to a reader (udp:HOST:PORT)"
    )
    card.add_argument("--profile", help="profile name in the cards file (see --list)")
    card.add_argument("--reader", metavar="PATH", help="the reader's nfcpy path, udp:HOST:PORT")
    card.add_argument("--taps", type=int, default=None, help="stop after N taps (default: never)")
    card.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="stop after S seconds"
    )
    card.add_argument(
        "--cards",
        type=Path,
        default=None,
        metavar="FILE",
        help="test cards file (default: config/sim/cards.toml of the package)",
    )
    card.add_argument("--list", action="store_true", help="list the profiles and exit")
    card.set_defaults(handler=card_command)


def card_command(args: argparse.Namespace) -> int:
    # nfcpy takes a while to import: only the command that needs it pays for it.
    with simulators_installed("A simulated card"):
        from simulators.card.present import present_card, profile_summary, simulated_card
        from simulators.card.testcards import CARDS_FILE, load_test_cards

    args.cards = args.cards or CARDS_FILE
    configure_logging("WARNING", "stderr")
    if args.list:
        for profile in load_test_cards(args.cards).values():
            print(profile_summary(profile))
        return 0
    if not args.profile or not args.reader:
        raise UsageError("posterm sim card needs --profile NAME and --reader udp:HOST:PORT.")
    card = simulated_card(args.profile, args.cards)
    progress(f"simulated {profile_summary(card.profile)} at {args.reader}; Ctrl-C to stop")

    def tapped(count: int, reason: str) -> None:
        progress(f"tap {count}: {reason}")

    served = present_card(
        card, args.reader, taps=args.taps, duration_s=args.timeout, on_tap_end=tapped
    )
    if args.taps is not None and served < args.taps:
        print(f"posterm: only {served} of {args.taps} taps happened", file=sys.stderr)
        return 1
    return 0
