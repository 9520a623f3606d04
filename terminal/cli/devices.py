"""`posterm devices list|probe`: what is plugged in, and does each configured device work.

`probe` exits 0 when every configured device (and the gateway) is healthy, 3 otherwise; each
failure is printed with the problem and the fix.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from terminal.cli._common import print_json, progress, settings_from

if TYPE_CHECKING:
    from terminal.wiring.probes import ProbeResult

KINDS = ("reader", "camera", "printer", "display", "gateway", "nexo")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("devices", help="list and probe readers, cameras, printers")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="NFC readers, cameras and serial ports on this machine"
    )
    listing.add_argument("--json", action="store_true", help="as one JSON object")
    listing.set_defaults(handler=list_command)
    probe = actions.add_parser(
        "probe", help="open every configured device, self-test it, check the gateway"
    )
    probe.add_argument("--json", action="store_true", help="as one JSON object")
    probe.add_argument(
        "--only",
        action="append",
        choices=KINDS,
        metavar="KIND",
        help=f"probe only this kind (repeatable): {', '.join(KINDS)}",
    )
    probe.set_defaults(handler=probe_command)


def list_command(args: argparse.Namespace) -> int:
    from terminal.wiring.probes import attached_devices  # libusb and httpx only when needed

    devices = attached_devices()
    if args.json:
        print_json({"devices": [d.as_dict() for d in devices]})
        return 0
    if not devices:
        print("no NFC readers, cameras or serial ports found")
        return 0
    for device in devices:
        access = "" if device.accessible else "  [no permission for this user]"
        note = f"  ({device.note})" if device.note else ""
        print(f"{device.kind:<7} {device.path:<22} {device.name}{access}{note}")
    return 0


def probe_command(args: argparse.Namespace) -> int:
    from terminal.wiring.probes import probe_all

    settings = settings_from(args, quiet_logs=True)
    only = set(args.only) if args.only else None
    if not args.json:
        progress("probing configured devices (the reader senses for a card for 2 s)...")
    results = probe_all(settings, only=only)
    healthy = all(r.healthy for r in results)
    if args.json:
        print_json({"healthy": healthy, "devices": [r.as_dict() for r in results]})
    else:
        for result in results:
            print(render(result))
        print("all devices healthy" if healthy else "some devices need attention (see above)")
    return 0 if healthy else 3


def render(result: ProbeResult) -> str:
    """One device's result as a few lines a technician reads at a glance."""
    mark = "ok  " if result.healthy else "FAIL"
    lines = [f"{mark} {result.kind:<8} {result.device}"]
    if result.found is not None:
        lines.append(
            f"     found: {_yes(result.found)}  opened: {_yes(result.opened)}  "
            f"self-test: {result.self_test}"
        )
    else:
        lines.append(f"     {result.self_test}")
    if not result.healthy:
        lines.append(f"     problem: {result.problem}")
        lines.append(f"     fix: {result.fix}")
    return "\n".join(lines)


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")
