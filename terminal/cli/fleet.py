"""`posterm fleet ...`: the technician's view of a fleet of terminals over the MQTT broker.

`status` lists every terminal's retained status (one row each, or `--json` the status objects
plus `last_seen`); `screen` shows the same live in a read-only Textual screen; `watch` prints
events as they happen; `keys init` makes the fleet operator's
Ed25519 key pair. The broker address and credentials are the `[fleet]` settings of the
configuration given (the technician's own account on the broker).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from terminal.cli._common import print_json, settings_from


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fleet", help="a fleet of terminals over the MQTT broker: status, watch, keys"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="one row per terminal: online, bank, queue ...")
    status.add_argument("--merchant", metavar="ID", help="only this merchant's terminals")
    status.add_argument("--json", action="store_true", help="print a JSON array")
    status.set_defaults(handler=status_command)
    watch = actions.add_parser("watch", help="print the terminals' events as they happen")
    watch.add_argument("--merchant", metavar="ID", help="only this merchant's terminals")
    watch.add_argument("--json", action="store_true", help="one JSON object per line")
    watch.add_argument("--for", dest="for_s", type=float, metavar="S", help="stop after S seconds")
    watch.set_defaults(handler=watch_command)
    push = actions.add_parser(
        "push-config", help="sign a settings fragment and apply it on terminals"
    )
    push.add_argument("file", type=Path, metavar="FILE", help="TOML fragment of settings")
    targets = push.add_mutually_exclusive_group(required=True)
    targets.add_argument("--terminal", nargs="+", metavar="ID", help="these terminals")
    targets.add_argument("--merchant", metavar="ID", help="every terminal of this merchant")
    push.add_argument(
        "--wait", type=float, default=30.0, metavar="S", help="seconds to wait for answers"
    )
    push.add_argument(
        "--key",
        type=Path,
        default=Path("fleet-operator.jwk"),
        metavar="PATH",
        help="the operator's private JWK (default: ./fleet-operator.jwk)",
    )
    push.add_argument(
        "--version", type=int, metavar="N", help="bundle version (default: the time now)"
    )
    push.add_argument(
        "--expires-in",
        type=float,
        default=3600.0,
        metavar="S",
        help="seconds the bundle stays valid (default 3600)",
    )
    push.set_defaults(handler=push_config_command)
    command = actions.add_parser(
        "command", help="run a signed command on terminals (saf-flush, close-batch, ...)"
    )
    command.add_argument(
        "name", choices=["saf-flush", "close-batch", "probe", "reload-status"], metavar="NAME"
    )
    command_targets = command.add_mutually_exclusive_group(required=True)
    command_targets.add_argument("--terminal", nargs="+", metavar="ID", help="these terminals")
    command_targets.add_argument("--merchant", metavar="ID", help="every terminal of a merchant")
    command.add_argument(
        "--wait", type=float, default=60.0, metavar="S", help="seconds to wait for answers"
    )
    command.add_argument(
        "--key",
        type=Path,
        default=Path("fleet-operator.jwk"),
        metavar="PATH",
        help="the operator's private JWK (default: ./fleet-operator.jwk)",
    )
    command.add_argument("--json", action="store_true", help="one JSON answer per line")
    command.set_defaults(handler=command_command)
    screen = actions.add_parser(
        "screen", help="the terminals' status on a live, read-only screen (q quits)"
    )
    screen.add_argument("--merchant", metavar="ID", help="only this merchant's terminals")
    screen.set_defaults(handler=screen_command)
    keys = actions.add_parser("keys", help="the fleet operator's signing key")
    key_actions = keys.add_subparsers(dest="key_action", metavar="ACTION", required=True)
    init = key_actions.add_parser("init", help="make a new Ed25519 operator key pair (JWK)")
    init.add_argument(
        "--out", type=Path, default=Path("."), metavar="DIR", help="folder for the two files"
    )
    init.add_argument("--name", default="fleet-operator", help="file name stem")
    init.set_defaults(handler=keys_init_command)


def _fleet(args: argparse.Namespace) -> Any:
    return settings_from(args, quiet_logs=True).fleet


def status_command(args: argparse.Namespace) -> int:
    from terminal.fleet.listing import read_statuses
    from terminal.fleet.rows import HEADER, status_row

    statuses = read_statuses(_fleet(args), args.merchant)
    if args.json:
        print_json(statuses)
        return 0
    if not statuses:
        print("No terminal has reported to this broker yet.")
        return 0
    header = HEADER
    rows = [status_row(s) for s in statuses]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


def watch_command(args: argparse.Namespace) -> int:
    from terminal.fleet.listing import watch_events

    until = time.monotonic() + args.for_s if args.for_s is not None else None
    for event in watch_events(_fleet(args), args.merchant, until=until):
        if args.json:
            print(json.dumps(event, sort_keys=True), flush=True)
            continue
        details = {
            k: v for k, v in event.items() if k not in ("event", "terminal_id", "merchant_id", "at")
        }
        extra = " ".join(f"{k}={json.dumps(v, sort_keys=True)}" for k, v in details.items())
        print(
            f"{event.get('at')} {event.get('merchant_id')}/{event.get('terminal_id')} "
            f"{event.get('event')} {extra}".rstrip(),
            flush=True,
        )
    return 0


def push_config_command(args: argparse.Namespace) -> int:
    """Exit 0 only when every target terminal answered `applied`; 1 when one refused; 3 when
    one did not answer (or is unknown to the broker)."""
    from terminal.fleet.push import prepare, send

    fleet = _fleet(args)
    push = prepare(
        fleet,
        args.file,
        args.key,
        terminals=args.terminal or [],
        merchant=args.merchant,
        version=args.version,
        expires_in_s=args.expires_in,
    )
    for terminal_id in push.unknown:
        print(f"{terminal_id} unknown: it never reported to this broker; nothing sent")
    if not push.recipients:
        print("No target terminal is known to the broker; nothing sent.", file=sys.stderr)
        return 3
    print(f"version {push.version} sent to {len(push.recipients)} terminal(s)", file=sys.stderr)
    answered: dict[str, str] = {}
    for answer in send(fleet, push, args.wait):
        answered[answer["terminal_id"]] = answer["result"]
        print(f"{answer['terminal_id']} {answer['result']}: {answer['sentence']}", flush=True)
    missing = sorted(set(push.recipients) - set(answered))
    for terminal_id in missing:
        print(f"{terminal_id} no answer within {args.wait:g} s")
    if missing or push.unknown:
        return 3
    return 0 if all(result == "applied" for result in answered.values()) else 1


def command_command(args: argparse.Namespace) -> int:
    """Exit 0 only when every target terminal answered `done`."""
    from datetime import UTC, datetime, timedelta

    from terminal.fleet.bundles import Target
    from terminal.fleet.commands import sign_command
    from terminal.fleet.push import load_private_key, recipients_of, send_command

    fleet = _fleet(args)
    now = datetime.now(UTC)
    target = Target(merchant=args.merchant) if args.merchant else Target(tuple(args.terminal))
    command_id, token = sign_command(
        load_private_key(args.key),
        args.name,
        target=target,
        version=time.time_ns() // 1000,  # microseconds: strictly increasing per operator
        expires_at=now + timedelta(minutes=10),
    )
    recipients, unknown = recipients_of(fleet, args.terminal or [], args.merchant)
    for terminal_id in unknown:
        print(f"{terminal_id} unknown: it never reported to this broker; nothing sent")
    if not recipients:
        print("No target terminal is known to the broker; nothing sent.", file=sys.stderr)
        return 3
    answered: dict[str, str] = {}
    for answer in send_command(fleet, command_id, token, recipients, args.wait):
        answered[answer["terminal_id"]] = answer["result"]
        if args.json:
            print(json.dumps(answer, sort_keys=True), flush=True)
        else:
            detail = answer["sentence"] or json.dumps(answer["details"], sort_keys=True)
            print(f"{answer['terminal_id']} {answer['result']}: {detail}", flush=True)
    missing = sorted(set(recipients) - set(answered))
    for terminal_id in missing:
        print(f"{terminal_id} no answer within {args.wait:g} s")
    if missing or unknown:
        return 3
    return 0 if all(result == "done" for result in answered.values()) else 1


def screen_command(args: argparse.Namespace) -> int:
    from terminal.ui.fleet_view import FleetView

    FleetView(_fleet(args), args.merchant).run()
    return 0


def keys_init_command(args: argparse.Namespace) -> int:
    from terminal.fleet.operator_keys import init_keys

    pair = init_keys(args.out, args.name)
    print(f"private key (keep it on the operator's machine, never on a terminal): {pair.private}")
    print(f"public key (copy to each terminal, list it in [fleet] operator_keys): {pair.public}")
    print(f"key id: {pair.kid}", file=sys.stderr)
    return 0
