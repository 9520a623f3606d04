"""`posterm audit verify|show`: check the tamper-evident audit log and read it.

`verify` exits 0 when every record's seal, the sequence and the links are intact, and 1 when
anything was edited or deleted (each finding printed as a sentence).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from terminal.cli._common import print_json, settings_from
from terminal.security.audit import AuditLog


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("audit", help="verify and read the audit log")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify", help="check the hash chain: exit 1 if a record was edited or deleted"
    )
    verify.add_argument("--json", action="store_true", help="as one JSON object")
    verify.set_defaults(handler=verify_command)
    show = actions.add_parser("show", help="print the latest records")
    show.add_argument("--last", type=int, default=20, metavar="N", help="how many (default 20)")
    show.add_argument("--json", action="store_true", help="as a JSON array")
    show.set_defaults(handler=show_command)


def verify_command(args: argparse.Namespace) -> int:
    settings = settings_from(args, quiet_logs=True)
    log = AuditLog(settings.data_dir)
    result = log.verify()
    if args.json:
        print_json({**result.as_dict(), "file": str(log.path)})
    elif result.intact:
        last = f", last at {result.last_at}" if result.last_at else ""
        print(f"audit log intact: {result.records} records{last} ({log.path})")
    else:
        print(f"audit log TAMPERED ({log.path}):")
        for problem in result.problems:
            print(f"  - {problem}")
        print(
            "keep a copy of the file as evidence, then report it to the merchant's security "
            "contact",
            file=sys.stderr,
        )
    return 0 if result.intact else 1


def show_command(args: argparse.Namespace) -> int:
    settings = settings_from(args, quiet_logs=True)
    records = AuditLog(settings.data_dir).records()[-max(args.last, 0) :] if args.last else []
    if args.json:
        print_json([r.as_dict() for r in records])
        return 0
    for record in records:
        details = " ".join(f"{k}={v}" for k, v in record.details.items())
        print(
            f"{record.seq:>5} {record.at} {record.actor} [{record.role}] {record.action} {details}"
        )
    return 0
