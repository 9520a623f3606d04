"""`posterm config check|show`: validate the configuration and show what is in effect."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pydantic import BaseModel

from terminal.cli._common import print_json, settings_from
from terminal.settings import Settings, redacted


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


def check_command(args: argparse.Namespace) -> int:
    settings = settings_from(args, quiet_logs=True)
    print(render_toml(settings, docs=False))
    sources = ", ".join(settings.sources) or "defaults"
    print(f"configuration OK (read from {sources})", file=sys.stderr)
    return 0


def show_command(args: argparse.Namespace) -> int:
    settings = settings_from(args, quiet_logs=True)
    if args.json:
        print_json(redacted(settings))
    else:
        print(render_toml(settings, docs=args.docs))
    return 0


def render_toml(settings: Settings, *, docs: bool) -> str:
    """The effective configuration as TOML text, secrets redacted, optionally documented."""
    data = redacted(settings)
    lines: list[str] = []
    for section, values in data.items():
        model = type(getattr(settings, section))
        assert issubclass(model, BaseModel)
        if lines:
            lines.append("")
        lines.append(f"[{section}]")
        for key, value in values.items():
            if docs:
                doc = model.model_fields[key].description or ""
                lines.extend(f"# {line.strip()}" for line in doc.splitlines())
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines)


def _toml_value(value: object) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
