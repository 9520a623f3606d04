"""`posterm config check|show|set|diff`: validate, show, change and compare the configuration.

`set` is a technician command (technician PIN when one is configured); every change is written
to the audit log with the old and new value, secrets redacted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terminal.cli._access import add_pin_option, data_dir_of, require_pin
from terminal.cli._common import print_json, settings_from
from terminal.cli._config_edit import Change, change_setting, permission_denied, target_file
from terminal.security.audit import AuditLog, current_actor
from terminal.security.key_hierarchy import RootPlace

if TYPE_CHECKING:
    from terminal.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="check and show the configuration")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check", help="validate; print the effective config, secrets redacted"
    )
    check.set_defaults(handler=check_command)
    show = actions.add_parser("show", help="print the effective configuration")
    show.add_argument("--json", action="store_true", help="as one JSON object")
    show.add_argument("--docs", action="store_true", help="with each key's documentation")
    show.set_defaults(handler=show_command)
    change = actions.add_parser(
        "set",
        help="change one key in the site file (validated, atomic, backup kept, audited)",
        description="Set SECTION.KEY to VALUE in the site file (--config, $POSTERM_CONFIG, else "
        "/etc/posterm/posterm.toml). The whole resulting configuration is validated before "
        "anything is written; the previous file is kept as NAME.bak.",
    )
    change.add_argument("key", metavar="SECTION.KEY", help="e.g. devices.printer")
    change.add_argument(
        "value", metavar="VALUE", help='e.g. "/dev/ttyUSB0?baudrate=19200", 25.00, true, [5, 10]'
    )
    add_pin_option(change)
    change.set_defaults(handler=set_command)
    diff = actions.add_parser("diff", help="show where the effective config differs from defaults")
    diff.add_argument("--json", action="store_true", help="as one JSON object")
    diff.set_defaults(handler=diff_command)


def check_command(args: argparse.Namespace) -> int:
    from terminal.settings.toml_text import settings_text

    settings = settings_from(args, quiet_logs=True)
    print(settings_text(settings, docs=False))
    sources = ", ".join(settings.sources) or "defaults"
    print(f"configuration OK (read from {sources})", file=sys.stderr)
    from terminal.payment.qr_link import QR_REFUSED, carries_qr

    if not carries_qr(settings):  # valid, but the QR methods will be refused: say so now
        print(f"note: {QR_REFUSED}; `pay --method qr-scan|qr-show` is refused.", file=sys.stderr)
    return 0


def show_command(args: argparse.Namespace) -> int:
    from terminal.settings import redacted
    from terminal.settings.toml_text import settings_text

    settings = settings_from(args, quiet_logs=True)
    if args.json:
        print_json(redacted(settings))
    else:
        print(settings_text(settings, docs=args.docs))
    return 0


def set_command(args: argparse.Namespace) -> int:
    path = target_file(args.config)
    try:
        return _set(args, path)
    except PermissionError as error:
        raise permission_denied(error, path) from None


def _set(args: argparse.Namespace, path: Path) -> int:
    from terminal.settings import ConfigError, load_settings

    try:
        current: Settings | None = load_settings(path if path.exists() else None, environ={})
    except ConfigError:
        current = None  # a broken file may be repaired with `config set`
    data_dir = data_dir_of(current, path if path.exists() else None)
    role = require_pin(
        args, path if path.exists() else None, data_dir, purpose=f"config set {args.key}"
    )

    def audit(change: Change) -> None:
        old, new = change.shown()
        AuditLog(data_dir, RootPlace.of(current)).append(
            "config.set",
            {
                "file": str(change.path),
                "key": change.key,
                "old": old,
                "new": new,
                "sha256": change.sha256,
            },
            role=role,
            actor=current_actor(),
        )

    change = change_setting(path, args.key, args.value, before_commit=audit)
    old, new = change.shown()
    print(f"{change.key}: {old} -> {new}")
    kept = f"; previous version in {change.backup}" if change.backup else ""
    print(f"written to {change.path}{kept}", file=sys.stderr)
    print("restart posterm to apply: sudo systemctl restart posterm", file=sys.stderr)
    return 0


def diff_command(args: argparse.Namespace) -> int:
    from terminal.settings import DEFAULT_FILE, load_settings
    from terminal.settings.toml_text import toml_value

    settings = settings_from(args, quiet_logs=True)
    defaults = load_settings(DEFAULT_FILE, environ={})
    changes = differences(defaults, settings, args.config)
    if args.json:
        print_json({"differences": changes})
        return 0
    if not changes:
        print("the effective configuration is the default one")
        return 0
    section = ""
    for change in changes:
        if change["section"] != section:
            section = change["section"]
            print(f"[{section}]")
        print(f"- {change['key']} = {toml_value(change['default'])}")
        print(f"+ {change['key']} = {toml_value(change['value'])}    # from {change['source']}")
    return 0


def differences(
    defaults: Settings, settings: Settings, explicit: str | None
) -> list[dict[str, Any]]:
    """Every key whose effective value differs from the default, with where it was set."""
    from terminal.settings import ENV_PREFIX, redacted, site_file

    base, now = redacted(defaults), redacted(settings)
    raw_base = defaults.model_dump(mode="json", exclude={"sources"})
    raw_now = settings.model_dump(mode="json", exclude={"sources"})
    site = site_file(explicit, os.environ)
    site_keys: dict[str, Any] = {}
    if site is not None and site.exists():
        site_keys = tomllib.loads(site.read_text("utf-8"))
    found = []
    for section, values in now.items():
        for key, value in values.items():
            if raw_now[section][key] == raw_base[section][key]:
                continue
            variable = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
            if variable in os.environ:
                source = f"environment {variable}"
            elif key in site_keys.get(section, {}):
                source = str(site)
            else:
                source = "unknown"
            found.append(
                {
                    "section": section,
                    "key": key,
                    "default": base[section][key],
                    "value": value,
                    "source": source,
                }
            )
    return found
