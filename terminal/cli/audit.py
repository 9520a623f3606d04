"""`posterm audit verify|show`: check the tamper-evident audit log and read it.

`verify` exits 0 when every record's seal, the sequence and the links are intact, and 1 when
anything was edited or deleted (each finding printed as a sentence). Records are sealed with the
audit key of the key hierarchy, so verifying needs the root secret (run it as the service user
with the root file, or with sudo so the credential can be decrypted). When the system journal
is readable, the log is also compared with the anchors each append left there (a deleted tail
or re-sealed records); when it is not, the output says the comparison was skipped.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from terminal.cli._common import print_json, settings_from
from terminal.security.audit import AuditLog
from terminal.security.key_hierarchy import RootPlace


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
    log = AuditLog(settings.data_dir, RootPlace.of(settings))
    result = log.verify()
    if args.json:
        print_json(
            {
                **result.as_dict(),
                "file": str(log.path),
                "journal_anchors": result.anchors,
                "journal_note": result.anchor_note,
            }
        )
    elif result.intact:
        last = f", last at {result.last_at}" if result.last_at else ""
        print(f"audit log intact: {result.records} records{last} ({log.path})")
        if result.anchors is not None:
            print(f"matches the system journal's {result.anchors} anchors")
    else:
        print(f"audit log TAMPERED ({log.path}):")
        for problem in result.problems:
            print(f"  - {problem}")
        print(
            "keep a copy of the file as evidence, then report it to the merchant's security "
            "contact",
            file=sys.stderr,
        )
    if result.anchor_note and not args.json:
        print(result.anchor_note, file=sys.stderr)
    return 0 if result.intact else 1


def show_command(args: argparse.Namespace) -> int:
    settings = settings_from(args, quiet_logs=True)
    records = (
        AuditLog(settings.data_dir, RootPlace.of(settings)).records()[-max(args.last, 0) :]
        if args.last
        else []
    )
    if args.json:
        print_json([r.as_dict() for r in records])
        return 0
    for record in records:
        details = " ".join(f"{k}={v}" for k, v in record.details.items())
        print(
            f"{record.seq:>5} {record.at} {record.actor} [{record.role}] {record.action} {details}"
        )
    return 0
