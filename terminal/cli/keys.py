"""`posterm keys ...`: the terminal's signing keys (technician commands).

posterm keys init [--force]        create the key store and key 1 (first start does it too)
posterm keys rotate                make key n+1 current; older public keys stay listed
posterm keys show-public [--format jwk|jwks] [--kid KID]
                                   print the public key(s) to enrol with the bank
posterm keys enroll --gateway-admin URL [--ca-file PEM]
                                   enrol the public keys with the gateway simulator
                                   (labs, demos); real banks: docs/install.md section 6
posterm keys nexo-cert [--days N]  make the nexo Terminal API's CA (for the POS) and server
                                   certificate, CN <POIID>.<environment>.terminal.adyen.com
posterm keys pin-hash              read a PIN on stdin, print its peppered argon2 hash for
                                   ui.supervisor_pin_hash / ui.technician_pin_hash

Every key comes from the key hierarchy (`[security]`, docs/security.md); a root kept in a plain
file is announced with a warning on stderr.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terminal.cli._access import add_pin_option, require_pin
from terminal.cli._common import print_json, progress, settings_from
from terminal.errors import UsageError

if TYPE_CHECKING:
    from terminal.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("keys", help="terminal signing keys (init, rotate, show)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser("init", help="create the key store and the first key")
    init.add_argument(
        "--force",
        action="store_true",
        help="start a new key store (the old one is kept as a .bak file); re-enrol afterwards",
    )
    add_pin_option(init)
    init.set_defaults(handler=init_command)
    rotate = actions.add_parser("rotate", help="make a new current key, keep the old public key")
    add_pin_option(rotate)
    rotate.set_defaults(handler=rotate_command)
    show = actions.add_parser("show-public", help="print the public key for the bank")
    show.add_argument("--format", choices=["jwk", "jwks"], default="jwk")
    show.add_argument("--kid", help="a specific key (default: the current one)")
    show.set_defaults(handler=show_command)
    enroll = actions.add_parser(
        "enroll",
        help="enrol the public keys with the gateway simulator (a real bank: send show-public)",
    )
    enroll.add_argument(
        "--gateway-admin",
        required=True,
        metavar="URL",
        help="the simulator's admin API (its --admin-listen, or DATA/admin-url)",
    )
    enroll.add_argument(
        "--admin-token-file",
        metavar="FILE",
        help="the simulator's admin token (DATA/admin-token of `posterm gateway-sim`)",
    )
    enroll.add_argument(
        "--ca-file",
        metavar="PEM",
        help="CA of the simulator's certificate (default gateway.ca_file)",
    )
    enroll.set_defaults(handler=enroll_command)
    nexo = actions.add_parser(
        "nexo-cert",
        help="make the nexo Terminal API's CA and server certificate (the CA file goes to the POS)",
    )
    nexo.add_argument("--days", type=int, default=825, help="validity in days (default 825)")
    add_pin_option(nexo)
    nexo.set_defaults(handler=nexo_cert_command)
    pin = actions.add_parser("pin-hash", help="hash a supervisor/technician PIN (argon2)")
    pin.set_defaults(handler=pin_hash_command)


def _admin_token(path: str | None) -> str:
    """The token in `path` ("" without one); a usage error names a file that cannot be read."""
    from pathlib import Path

    from terminal.errors import UsageError

    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read the admin token file {path} ({error})") from None


def _keystore(args: argparse.Namespace) -> Any:
    from terminal.security.keystore import Keystore

    settings = settings_from(args, quiet_logs=True)
    store = Keystore.open(
        settings.data_dir, settings.terminal.terminal_id, root=_hierarchy(settings)
    )
    return store


def _hierarchy(settings: Settings) -> Any:
    from terminal.security.key_hierarchy import KeyHierarchy
    from terminal.security.root_secret import RootSecretError

    try:
        keys = KeyHierarchy.for_settings(settings)
    except RootSecretError as error:
        from terminal.security.keystore import KeystoreError

        raise KeystoreError(f"The key store cannot be opened: {error.sentence}") from None
    if keys.warning:
        progress(keys.warning)
    return keys


def _technician(args: argparse.Namespace, settings: Settings, purpose: str) -> str:
    import os

    from terminal.settings import site_file

    site = site_file(getattr(args, "config", None), os.environ)
    return require_pin(
        args, site if site and Path(site).exists() else None, settings.data_dir, purpose=purpose
    )


def _audit(settings: Settings, action: str, role: str, details: dict[str, Any]) -> None:
    from terminal.security.audit import AuditLog, current_actor
    from terminal.security.key_hierarchy import RootPlace

    AuditLog(settings.data_dir, RootPlace.of(settings)).append(
        action, details, role=role, actor=current_actor()
    )


def init_command(args: argparse.Namespace) -> int:
    from terminal.security.keystore import KEYS_FOLDER, STORE_FILE

    settings = settings_from(args, quiet_logs=True)
    path = settings.data_dir / KEYS_FOLDER / STORE_FILE
    existed = path.exists()
    if existed and args.force:
        role = _technician(args, settings, "keys init --force")
        _audit(settings, "keys.init", role, {"replaced": str(path)})
        backup = path.with_name(f"{STORE_FILE}.{time.strftime('%Y%m%dT%H%M%S')}.bak")
        path.rename(backup)
        progress(f"old key store kept as {backup}")
    store = _keystore(args)
    created = not existed or args.force
    progress(
        f"key store {'created' if created else 'already present'}: current key {store.kid}"
        + ("; enrol its public key with the bank (posterm keys show-public)" if created else "")
    )
    print_json({"kid": store.kid, "created": created})
    return 0


def rotate_command(args: argparse.Namespace) -> int:
    settings = settings_from(args, quiet_logs=True)
    role = _technician(args, settings, "keys rotate")
    store = _keystore(args)
    previous = store.kid
    kid = store.rotate()
    _audit(settings, "keys.rotate", role, {"kid": kid, "previous": previous})
    progress(f"new current key {kid}; enrol it with the bank (older keys stay valid there)")
    print_json({"kid": kid, "previous": previous})
    return 0


def show_command(args: argparse.Namespace) -> int:
    store = _keystore(args)
    if args.format == "jwks":
        print_json({"keys": store.public_jwks()})
    else:
        print_json(store.public_jwk(args.kid))
    return 0


def enroll_command(args: argparse.Namespace) -> int:
    from terminal.security.enrolment import enroll_with_simulator

    settings = settings_from(args, quiet_logs=True)
    store = _keystore(args)
    kids = enroll_with_simulator(
        args.gateway_admin,
        settings.terminal.terminal_id,
        store.public_jwks(),
        ca_file=args.ca_file or settings.gateway.ca_bundle or "",
        token=_admin_token(args.admin_token_file),
    )
    _audit(
        settings,
        "keys.enroll",
        "unverified",
        {"gateway_admin": args.gateway_admin, "kids": kids},
    )
    progress(
        f"enrolled {', '.join(kids)} with the gateway simulator at {args.gateway_admin}; with a "
        "real bank, send the output of `posterm keys show-public` instead (docs/install.md)"
    )
    print_json({"enrolled": kids})
    return 0


def nexo_cert_command(args: argparse.Namespace) -> int:
    from terminal.nexo import certificate

    settings = settings_from(args, quiet_logs=True)
    if not 1 <= args.days <= 3650:
        raise UsageError("--days must be from 1 to 3650.")
    role = _technician(args, settings, "keys nexo-cert")
    made = certificate.create(settings, days=args.days)
    poi_id = settings.nexo.effective_poi_id(settings.terminal.terminal_id)
    cn = certificate.expected_cn(poi_id, settings.nexo.environment)
    _audit(settings, "keys.nexo_cert", role, {"cn": cn, "cert": str(made.cert), "days": args.days})
    progress(f"nexo certificate {cn} made; give {made.ca} to the POS as its terminal CA file")
    print_json({"ca": str(made.ca), "cert": str(made.cert), "key": str(made.key), "cn": cn})
    return 0


def pin_hash_command(args: argparse.Namespace) -> int:
    from terminal.security.pins import hash_pin

    settings = settings_from(args, quiet_logs=True)
    if sys.stdin.isatty():
        pin = getpass.getpass("PIN: ")
        if getpass.getpass("PIN again: ") != pin:
            raise UsageError("the two PINs differ")
    else:
        pin = sys.stdin.readline().strip()
    pepper = _hierarchy(settings).pin_pepper()
    print(hash_pin(pin, pepper))  # PinFormatError carries the operator sentence
    return 0
