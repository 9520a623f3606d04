"""`posterm qr parse|make`: read any payment QR text, or make the terminal's merchant code.

    posterm qr parse PAYLOAD [--json] [--strict]
    posterm qr make --amount X [--reference R] [--static] [--png FILE] [--show]

`parse --json` prints {"kind": "mpm"|"cpm"|"wallet_code", "crc_ok", "errors", "warnings",
"fields"}; a wallet pay code's fields are {"scheme": "wechatpay"|"alipay"|"unionpay", "wallet",
"length", "masked"} (the code itself is a bearer token: never printed whole).
Exit codes: 0 readable (even with rule errors unless --strict), 2 wrong or missing CRC,
unreadable text, or (with --strict) any broken rule.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from terminal.cli._common import print_json, settings_from
from terminal.money import Amount
from terminal.qr.cpm import parse_consumer_code
from terminal.qr.errors import CpmError, NotAPaymentCode, PayloadSyntaxError
from terminal.qr.mpm import MerchantCode, build_merchant_code, read_merchant_code
from terminal.qr.recognise import CodeKind, guess_kind
from terminal.qr.wallet_code import WalletCodeError, recognise_wallet_code


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("qr", help="read payment QR codes and make merchant codes")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    parse = actions.add_parser("parse", help="read an EMVCo merchant or consumer QR payload")
    parse.add_argument(
        "payload", metavar="PAYLOAD", help='the text inside the QR code ("-" reads stdin)'
    )
    parse.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parse.add_argument("--strict", action="store_true", help="exit 2 on any broken EMVCo rule")
    parse.set_defaults(handler=parse_command)
    make = actions.add_parser("make", help="make this terminal's merchant-presented payload")
    make.add_argument("--amount", metavar="X", help="amount in the terminal currency, e.g. 12.34")
    make.add_argument("--reference", metavar="R", default="", help="reference label (62/05)")
    make.add_argument("--static", action="store_true", help="a reusable code (01 = 11)")
    make.add_argument("--png", metavar="FILE", help="also write the code as a PNG image")
    make.add_argument("--show", action="store_true", help="draw the code on stderr")
    make.set_defaults(handler=make_command)


def parse_command(args: argparse.Namespace) -> int:
    text: str = sys.stdin.read().rstrip("\r\n") if args.payload == "-" else args.payload
    kind = guess_kind(text)
    if kind is CodeKind.CPM:
        return _parse_cpm(text, args)
    if kind is CodeKind.WALLET_CODE:
        return _parse_wallet_code(text, args)
    if kind is CodeKind.MPM:
        return _parse_mpm(text, args)
    raise NotAPaymentCode(_not_a_payment_code(text))


def _unreadable(kind: str, sentence: str, args: argparse.Namespace) -> int:
    """Report a code that does not parse at all (exit 2)."""
    _report(
        {"kind": kind, "crc_ok": False, "errors": [sentence], "warnings": [], "fields": {}}, args
    )
    return 2


def _parse_mpm(text: str, args: argparse.Namespace) -> int:
    try:
        code = read_merchant_code(text)
    except PayloadSyntaxError as error:
        return _unreadable("mpm", error.sentence, args)
    errors = code.errors(strict=args.strict)
    result = {
        "kind": "mpm",
        "crc_ok": code.crc_ok,
        "errors": errors,
        "warnings": code.warnings(strict=args.strict),
        "fields": _fields_json(code),
    }
    _report(result, args)
    return 2 if not code.crc_ok or (args.strict and errors) else 0


def _parse_cpm(text: str, args: argparse.Namespace) -> int:
    try:
        code = parse_consumer_code(text)
    except CpmError as error:
        return _unreadable("cpm", error.sentence, args)
    warnings = list(code.warnings)
    result = {
        "kind": "cpm",
        "crc_ok": True,  # CPM carries no CRC: a readable code has nothing to fail
        "errors": warnings if args.strict else [],
        "warnings": [] if args.strict else warnings,
        "fields": dict(code.fields),
    }
    _report(result, args)
    return 2 if args.strict and warnings else 0


def _parse_wallet_code(text: str, args: argparse.Namespace) -> int:
    try:
        code = recognise_wallet_code(text)
    except WalletCodeError as error:
        return _unreadable("wallet_code", error.sentence, args)
    result = {
        "kind": "wallet_code",
        "crc_ok": True,  # a pay code carries no CRC: the wallet checks it when it is paid
        "errors": [],
        "warnings": [],
        "fields": code.fields(),
    }
    _report(result, args)
    return 0


def _fields_json(code: MerchantCode) -> dict[str, Any]:
    return {
        key: dict(value) if not isinstance(value, str) else value
        for key, value in code.fields.items()
    }


def _report(result: dict[str, Any], args: argparse.Namespace) -> None:
    if args.json:
        print_json(result)
        return
    kind = {
        "mpm": "merchant-presented (EMVCo MPM)",
        "cpm": "consumer-presented (EMVCo CPM)",
        "wallet_code": "wallet pay code",
    }[result["kind"]]
    print(f"kind: {kind}")
    if result["kind"] == "mpm":
        print(f"crc: {'ok' if result['crc_ok'] else 'FAILED'}")
    for line in _field_lines(result["fields"], ""):
        print(line)
    for error in result["errors"]:
        print(f"error: {error}")
    for warning in result["warnings"]:
        print(f"warning: {warning}")


def _field_lines(fields: dict[str, Any], indent: str) -> list[str]:
    lines = []
    for key, value in fields.items():
        if isinstance(value, dict):
            lines.append(f"{indent}{key}")
            lines.extend(_field_lines(value, indent + "  "))
        elif isinstance(value, list):
            for number, item in enumerate(value, 1):
                lines.append(f"{indent}{key} #{number}")
                lines.extend(
                    _field_lines(item, indent + "  ")
                    if isinstance(item, dict)
                    else [f"{indent}  {item}"]
                )
        else:
            lines.append(f"{indent}{key}  {value}")
    return lines


def _not_a_payment_code(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        return "the QR text is empty: nothing to read"
    if "://" in stripped or stripped.lower().startswith("www."):
        return "not a payment code: the QR code holds a web address"
    return "not a payment code: neither an EMVCo merchant code (000201...) nor a consumer code"


def make_command(args: argparse.Namespace) -> int:
    from terminal.qr.render import half_block_text, write_png
    from terminal.qr.terminal_code import merchant_code_request

    settings = settings_from(args, quiet_logs=True)
    amount = None
    if args.amount is not None:
        amount = Amount.parse(args.amount, settings.currency, allow_zero=False)
    elif not args.static:
        print("posterm: a dynamic code needs --amount (or use --static)", file=sys.stderr)
        return 2
    request = merchant_code_request(
        settings, amount=amount, reference=args.reference, dynamic=not args.static
    )
    payload = build_merchant_code(request)
    if args.png:
        write_png(payload, Path(args.png))
    if args.show:
        print(half_block_text(payload), file=sys.stderr)
    print(payload)
    return 0
