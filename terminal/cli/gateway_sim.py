"""`posterm gateway-sim`: run the bank gateway simulator, or enrol a terminal's key with it.

posterm gateway-sim --listen 127.0.0.1:8443 --data DIR [--admin-listen 127.0.0.1:PORT]
posterm gateway-sim enroll --data DIR --terminal-id T --jwk FILE
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from terminal.cli._simulators import simulators_installed
from terminal.errors import UsageError
from terminal.logs import configure_logging


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gateway-sim", help="run the bank gateway simulator (tests, demos, labs)"
    )
    parser.add_argument(
        "--listen", default="127.0.0.1:8443", help="host:port to serve on (default 127.0.0.1:8443)"
    )
    parser.add_argument("--data", default="gateway-sim", help="data folder (created if missing)")
    parser.add_argument(
        "--admin-listen",
        metavar="HOST:PORT",
        help="serve the /sim/ admin API here (default 127.0.0.1 on a free port, written to "
        "DATA/admin-url; needs the bearer token in DATA/admin-token; stays up while faults "
        "set down=true)",
    )
    parser.add_argument(
        "--plain-http", action="store_true", help="serve http:// instead of TLS (loopback labs)"
    )
    parser.add_argument(
        "--iso8583-listen",
        metavar="HOST:PORT",
        help="also answer ISO 8583 (posterm-1987 dialect) here; TLS unless --plain-http",
    )
    parser.add_argument(
        "--iso8583-mac-key",
        metavar="FILE",
        help="hex AES key file (as [iso8583] mac_key_file): the ISO 8583 listener MACs its "
        "answers and leaves requests whose MAC fails unanswered",
    )
    parser.add_argument("--cards", help="test-card file (default config/sim/cards.toml)")
    parser.add_argument(
        "--intent-ttl", type=float, default=120.0, help="seconds a QR payment intent stays payable"
    )
    parser.add_argument(
        "--hold-expiry",
        type=float,
        default=7 * 24 * 3600.0,
        metavar="S",
        help="seconds a pre-authorisation hold lives before it is released (default 7 days)",
    )
    parser.add_argument(
        "--capture-tolerance",
        type=int,
        default=20,
        metavar="PERCENT",
        help="how far a capture may exceed its hold, in percent (default 20)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.set_defaults(handler=run_command)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    enroll = actions.add_parser("enroll", help="enrol a terminal's public key (JWK file)")
    enroll.add_argument("--data", required=True, help="the simulator's data folder")
    enroll.add_argument("--terminal-id", required=True)
    enroll.add_argument("--jwk", required=True, help="public JWK file (or - for stdin)")
    enroll.set_defaults(handler=enroll_command)


def run_command(args: argparse.Namespace) -> int:
    with simulators_installed("The gateway simulator"):
        import simulators.bank.server  # noqa: F401  (all of it, pyemv too, before serving)
        from simulators.bank import serve, split_listen
        from simulators.card.testcards import CARDS_FILE

    configure_logging(args.log_level, "stderr")
    try:
        split_listen(args.listen)
        if args.admin_listen:
            split_listen(args.admin_listen)
        if args.iso8583_listen:
            split_listen(args.iso8583_listen)
    except ValueError as error:
        raise UsageError(str(error)) from None
    mac_key = None
    if args.iso8583_mac_key:
        from terminal.iso8583.adapter import read_mac_key
        from terminal.iso8583.errors import Iso8583Error

        if not args.iso8583_listen:
            raise UsageError("--iso8583-mac-key needs --iso8583-listen")
        try:
            mac_key = read_mac_key(args.iso8583_mac_key)
        except Iso8583Error as error:
            raise UsageError(error.sentence) from None
    if not 0 < args.hold_expiry <= 31e6:
        raise UsageError("--hold-expiry must be between 0 and 31000000 seconds")
    if not 0 <= args.capture_tolerance <= 100:
        raise UsageError("--capture-tolerance must be a percentage from 0 to 100")
    if args.plain_http and not args.listen.startswith(("127.", "localhost", "[::1]")):
        raise UsageError("--plain-http is allowed on loopback addresses only")
    try:
        asyncio.run(
            serve(
                args.listen,
                Path(args.data),
                admin_listen=args.admin_listen,
                plain_http=args.plain_http,
                cards_file=Path(args.cards) if args.cards else CARDS_FILE,
                intent_ttl_s=args.intent_ttl,
                iso8583_listen=args.iso8583_listen,
                iso8583_mac_key=mac_key,
                hold_rules={
                    "expiry_s": args.hold_expiry,
                    "tolerance_percent": args.capture_tolerance,
                },
            )
        )
    except OSError as error:
        raise UsageError(f"cannot serve on {args.listen}: {error.strerror or error}") from None
    return 0


def enroll_command(args: argparse.Namespace) -> int:
    import sys

    with simulators_installed("The gateway simulator"):
        from simulators.bank.admin import AdminError, enroll
        from simulators.bank.ledger import Ledger
        from simulators.bank.setup import prepare

    text = sys.stdin.read() if args.jwk == "-" else Path(args.jwk).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        raise UsageError(f"{args.jwk} is not a JSON JWK") from None
    jwks = data if isinstance(data, list) else data.get("keys", [data])
    files, keys = prepare(Path(args.data))
    ledger = Ledger(files.ledger, keys.pan_fingerprint)
    try:
        with ledger.transaction():
            kids = [enroll(ledger, args.terminal_id, jwk) for jwk in jwks]
    except AdminError as error:
        raise UsageError(f"cannot enrol: {error.message}") from None
    finally:
        ledger.close()
    print(json.dumps({"enrolled": kids}))
    return 0
