"""Is each configured device still there (for the fleet status)? A cheap look that never
opens a device the engine holds: "ok", "missing" (nothing at its path), "error" (configured
but could not be opened at start) or "none" (not configured).

A full self-test (`posterm devices probe`) would open the reader and the printer, which the
running engine has open; the fleet only needs to notice a device that vanished or came back.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from drivers.probe.camera import camera_exists
from drivers.probe.nfc_reader import usb_readers
from terminal.settings import Settings

DevicesLook = Callable[[], dict[str, str]]


def nfc_state(path: str) -> str:
    if path == "none":
        return "none"
    kind, _, rest = path.partition(":")
    if kind == "udp":
        # nfcpy's UDP front end is a socket of this process: there is no reader to lose, and
        # whether a simulated card sits on the other side says nothing about the reader.
        return "ok"
    if kind == "tty":
        return "ok" if os.path.exists("/dev/tty" + rest.split(":")[0]) else "missing"
    try:
        return "ok" if usb_readers() else "missing"
    except OSError:
        return "error"


def serial_state(url: str, opened: bool) -> str:
    if url == "none":
        return "none"
    if not opened:
        return "error"
    if "://" in url:
        return "ok"  # socket:// and loop:// have no device node to look at
    return "ok" if os.path.exists(url.split("?", 1)[0]) else "missing"


def camera_state(device: str) -> str:
    if device in ("none", ""):
        return "none"
    return "ok" if camera_exists(device) else "missing"


def devices_look(settings: Settings, *, printer_opened: bool, display_opened: bool) -> DevicesLook:
    """A function giving every device's state now, for the reporter to call each tick."""
    devices = settings.devices

    def look() -> dict[str, str]:
        return {
            "nfc": nfc_state(devices.nfc),
            "camera": camera_state(devices.camera),
            "printer": serial_state(devices.printer, printer_opened),
            "display": serial_state(devices.display, display_opened),
        }

    return look
