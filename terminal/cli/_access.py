"""Technician access for CLI commands: the PIN prompt, `--pin-stdin`, and the audit trail.

A technician command asks for the technician PIN when `ui.technician_pin_hash` is set in the
configuration files (environment overrides are ignored here, so unsetting the hash through
the environment does not open the door). On a terminal the PIN is read without echo; scripts
pass `--pin-stdin` and write the PIN as the first line of standard input; with neither the
command refuses instead of hanging.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terminal.errors import UsageError
from terminal.security.audit import AuditLog
from terminal.security.key_hierarchy import RootPlace
from terminal.security.pins import PinGuard, Role

if TYPE_CHECKING:
    from terminal.settings import Settings


def add_pin_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pin-stdin",
        action="store_true",
        help="read PINs from standard input, one per line, in the order they are asked "
        "(for scripts; interactively the PIN is asked without echo)",
    )


def read_secret(args: argparse.Namespace, prompt: str) -> str:
    """One line from stdin with --pin-stdin, else a no-echo prompt on the terminal."""
    if getattr(args, "pin_stdin", False):
        line = sys.stdin.readline()
        if not line:
            raise UsageError(f"--pin-stdin: standard input ended before the {prompt.rstrip(': ')}")
        return line.strip()
    if not sys.stdin.isatty():
        raise UsageError(
            f"the {prompt.rstrip(': ')} is needed: run this from a terminal, or pass --pin-stdin "
            "and write it to standard input"
        )
    return getpass.getpass(prompt).strip()


def file_pin_hash(site: Path | None, role: Role) -> str:
    """The PIN hash the configuration files set (defaults + site file, no environment)."""
    from terminal.settings import ConfigError, load_settings

    try:
        settings = load_settings(site, environ={})
    except ConfigError:
        # A broken site file must not unlock technician commands: read the key directly.
        try:
            data: dict[str, Any] = tomllib.loads(site.read_text("utf-8")) if site else {}
        except (OSError, tomllib.TOMLDecodeError):
            data = {}
        value = data.get("ui", {}).get(f"{role}_pin_hash", "")
        return value if isinstance(value, str) else ""
    return str(getattr(settings.ui, f"{role}_pin_hash"))


def require_pin(
    args: argparse.Namespace,
    site: Path | None,
    data_dir: Path,
    *,
    purpose: str,
    role: Role = "technician",
) -> str:
    """Ask for and check the PIN of `role` if one is configured; returns the role acting."""
    pin_hash = file_pin_hash(site, role)
    if not pin_hash:
        return f"{role} (no PIN configured)"
    pin = read_secret(args, f"{role} PIN: ")
    keys = RootPlace.from_site(site)  # the PIN pepper and audit key: the key hierarchy
    PinGuard(data_dir, AuditLog(data_dir, keys), keys=keys).check(
        role, pin, pin_hash, purpose=purpose
    )
    return role


def data_dir_of(settings: Settings | None, site: Path | None) -> Path:
    """The data folder the audit log and PIN counters live in."""
    from terminal.settings import ConfigError, load_settings

    if settings is not None:
        return settings.data_dir
    try:
        return load_settings(site, environ={}).data_dir
    except ConfigError:
        return load_settings(None, environ={}).data_dir
