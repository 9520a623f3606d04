"""The `posterm` command.

Each module in this package (other than those starting with `_`) adds one subcommand group by
defining `register(subparsers)`; its handlers take the parsed `argparse.Namespace` and return the
exit status. Exit codes: 0 success/approved, 1 declined or cancelled, 2 usage or configuration,
3 device or gateway. Errors reach the user as sentences, never as tracebacks (`--debug` shows
them for developers).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from terminal import __version__
from terminal.errors import PostermError

log = logging.getLogger("terminal.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posterm",
        description="Point-of-sale payment terminal: NFC, QR, signed bank protocol, offline.",
    )
    parser.add_argument("--version", action="version", version=f"posterm {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="site configuration file (default: $POSTERM_CONFIG, else /etc/posterm/posterm.toml)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks (developers)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("_"):
            continue
        importlib.import_module(f"{__name__}.{module.name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        status: int = args.handler(args)
        return status
    except PostermError as error:
        print(f"posterm: {error.sentence}", file=sys.stderr)
        if args.debug:
            raise
        return error.exit_code
    except KeyboardInterrupt:
        print("posterm: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the last line of defence: a sentence, logged, no traceback
        log.exception("unexpected error in %s", args.command)
        if args.debug:
            raise
        print(
            f"posterm: internal error ({type(error).__name__}); details are in the log. "
            "Nothing was charged twice: the journal is consistent.",
            file=sys.stderr,
        )
        return 3
