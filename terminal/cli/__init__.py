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
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from terminal import __version__
from terminal.errors import PostermError
from terminal.process_guard import forbid_core_dumps

log = logging.getLogger("terminal.cli")


class CommandLineError(Exception):
    """argparse refused the command line (exit 2); raised instead of exiting so that `main`
    can let the subcommand answer in its own format first (`pay --json` prints one object)."""

    def __init__(self, parser: CliParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class CliParser(argparse.ArgumentParser):
    """An ArgumentParser (subcommands get the same class) that remembers which of them read
    which arguments, and raises `CommandLineError` instead of printing and exiting."""

    usage_error: Callable[[Sequence[str], str, str | None], None] | None = None
    """Set by a subcommand that must answer a refused command line itself: called with the
    subcommand's own arguments, argparse's message and the `--config` given (if any), before
    the usage goes to stderr."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        arguments = list(sys.argv[1:] if args is None else args)
        _reading.append((self, arguments))
        return super().parse_known_args(arguments, namespace)

    def error(self, message: str) -> NoReturn:
        raise CommandLineError(self, message)


_reading: list[tuple[CliParser, list[str]]] = []
"""Parsers in the order they started reading (the root, then the chosen subcommand)."""


def _config_named(sub_arguments: Sequence[str]) -> str | None:
    """The root's `--config PATH` of a refused command line (before the subcommand's own
    arguments), read without rules since the line as a whole was refused."""
    root = _reading[0][1] if _reading else []
    before = root[: len(root) - len(sub_arguments)]
    lenient = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    lenient.add_argument("--config")
    try:
        config: str | None = lenient.parse_known_args(before)[0].config
    except (argparse.ArgumentError, SystemExit):
        return None
    return config


def build_parser() -> CliParser:
    parser = CliParser(
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


def parse(parser: CliParser, argv: Sequence[str] | None) -> argparse.Namespace | int:
    """The parsed command line, or exit status 2 after the usage and the reason on stderr
    (and whatever the refused subcommand prints for itself, e.g. `pay --json`)."""
    del _reading[:]
    try:
        return parser.parse_args(argv)
    except CommandLineError as refused:
        for reader, arguments in reversed(_reading):
            if reader is not parser and reader.usage_error is not None:
                reader.usage_error(arguments, refused.message, _config_named(arguments))
                break
        refused.parser.print_usage(sys.stderr)
        print(f"{refused.parser.prog}: error: {refused.message}", file=sys.stderr)
        return 2
    finally:
        del _reading[:]


def main(argv: Sequence[str] | None = None) -> int:
    forbid_core_dumps()  # before any card data or key is in memory
    parser = build_parser()
    args = parse(parser, argv)
    if isinstance(args, int):
        return args
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
    except BrokenPipeError:
        # The reader of our output went away (`posterm history | head`): nothing to report.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
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
