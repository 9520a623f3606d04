"""`posterm pin hash|set`: make peppered argon2 hashes of technician and supervisor PINs.

`hash` prints a hash to paste into the configuration (`ui.technician_pin_hash`,
`ui.supervisor_pin_hash`); `set ROLE` asks for the new PIN twice and writes its hash with
`config set` (so it is validated, atomic, backed up and audited; the current technician PIN is
asked first when one is configured). PINs are read without echo, or with `--pin-stdin` one per
line in the order asked. A new PIN is 6 to 12 digits. The hash is peppered with a key derived
from this terminal's root secret, so it only verifies on this terminal (or one sharing its
root).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terminal.cli._access import add_pin_option, data_dir_of, read_secret, require_pin
from terminal.cli._config_edit import Change, change_setting, permission_denied, target_file
from terminal.errors import UsageError
from terminal.security.audit import AuditLog, current_actor
from terminal.security.key_hierarchy import KeyHierarchy, RootPlace
from terminal.security.pins import ROLES, hash_pin, validate_new_pin

if TYPE_CHECKING:
    from terminal.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("pin", help="hash or set the technician / supervisor PIN")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    make = actions.add_parser("hash", help="read a PIN without echo and print its argon2 hash")
    add_pin_option(make)
    make.set_defaults(handler=hash_command)
    change = actions.add_parser("set", help="set a PIN in the site file (technician command)")
    change.add_argument("role", choices=ROLES, help="whose PIN")
    add_pin_option(change)
    change.set_defaults(handler=set_command)


def _new_pin(args: argparse.Namespace, role: str) -> str:
    pin = validate_new_pin(read_secret(args, f"new {role} PIN (6 to 12 digits): "))
    if not args.pin_stdin and read_secret(args, f"repeat the new {role} PIN: ") != pin:
        raise UsageError("the two PINs differ; nothing was changed")
    return pin


def _site_settings(args: argparse.Namespace) -> tuple[Path | None, Settings | None]:
    from terminal.settings import ConfigError, load_settings

    path = target_file(args.config)
    site = path if path.exists() else None
    try:
        return site, load_settings(site, environ={})
    except ConfigError:
        return site, None  # a broken file may be repaired with `config set`


def hash_command(args: argparse.Namespace) -> int:
    site, current = _site_settings(args)
    pin = _new_pin(args, "technician or supervisor")
    keys = RootPlace.of(current).open(data_dir_of(current, site))
    print(hash_pin(pin, keys.pin_pepper()))
    return 0


def set_command(args: argparse.Namespace) -> int:
    path = target_file(args.config)
    try:
        return _set(args, path)
    except PermissionError as error:
        raise permission_denied(error, path) from None


def _set(args: argparse.Namespace, path: Path) -> int:
    site, current = _site_settings(args)
    data_dir = data_dir_of(current, site)
    acting = require_pin(args, site, data_dir, purpose=f"pin set {args.role}")
    keys: KeyHierarchy = RootPlace.of(current).open(data_dir)
    pin_hash = hash_pin(_new_pin(args, args.role), keys.pin_pepper())

    def audit(change: Change) -> None:
        AuditLog(data_dir, keys).append(
            "pin.changed",
            {"file": str(change.path), "key": change.key, "pin": args.role},
            role=acting,
            actor=current_actor(),
        )

    change = change_setting(path, f"ui.{args.role}_pin_hash", pin_hash, before_commit=audit)
    print(f"{args.role} PIN set in {change.path}", file=sys.stderr)
    return 0
