"""Helpers shared by the CLI's subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from terminal.settings import Settings


def settings_from(args: argparse.Namespace, *, quiet_logs: bool = False) -> Settings:
    """Load and validate the configuration named on the command line (raises ConfigError)."""
    from terminal.logs import configure_logging
    from terminal.settings import load_settings

    settings = load_settings(getattr(args, "config", None))
    level = (
        "WARNING"
        if quiet_logs and settings.logging.level in ("DEBUG", "INFO")
        else settings.logging.level
    )
    configure_logging(
        level,
        settings.logging.target,
        journal_fields={"terminal_id": settings.terminal.terminal_id},
    )
    return settings


def print_json(value: Any) -> None:
    """One JSON document on stdout (machine-readable; progress goes to stderr)."""
    json.dump(value, sys.stdout, ensure_ascii=False, indent=None, sort_keys=False)
    sys.stdout.write("\n")
    sys.stdout.flush()


def progress(text: str) -> None:
    """A progress line for the person at the terminal, on stderr."""
    print(text, file=sys.stderr, flush=True)
