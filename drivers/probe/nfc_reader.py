"""Probe an NFC reader through nfcpy: find it, open it, sense for a card for about 2 seconds.

nfcpy reports most failures as an `IOError` with an errno (ENODEV nothing there, EACCES no
permission, EBUSY a kernel driver or another process holds it), and a partial path such as
`usb` fails silently by returning False. The probe looks at the USB bus and the kernel modules
itself so that each of those cases gets its own sentence and fix.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.probe import ProbeResult, failed, not_configured, working

# The USB readers nfcpy drives (nfc/clf/device.py usb_device_map), with their usual names.
KNOWN_READERS: dict[tuple[int, int], str] = {
    (0x054C, 0x0193): "Sony PN531",
    (0x04CC, 0x0531): "Philips PN531 / SCM SCL3710",
    (0x04CC, 0x2533): "NXP PN533",
    (0x04E6, 0x5591): "SCM SCL3711",
    (0x04E6, 0x5593): "SCM SCL3712",
    (0x054C, 0x02E1): "Sony RC-S330/360/370",
    (0x054C, 0x06C1): "Sony RC-S380",
    (0x054C, 0x06C3): "Sony RC-S380",
    (0x072F, 0x2200): "ACS ACR122U",
}

# Kernel NFC drivers that claim these readers before nfcpy can (see systemd/posterm-nfc.conf).
KERNEL_MODULES = ("pn533_usb", "pn533", "port100", "nfc")

FIX_BLACKLIST = (
    "the kernel NFC driver holds the reader: blacklist pn533_usb, pn533, port100 and nfc "
    "(copy systemd/posterm-nfc.conf to /etc/modprobe.d/ as the install guide says), run "
    "`sudo modprobe -r pn533_usb pn533 port100 nfc`, then unplug and replug the reader"
)
FIX_PERMISSION = (
    "install the udev rules (systemd/60-posterm-nfc.rules to /etc/udev/rules.d/, then "
    "`sudo udevadm control --reload && sudo udevadm trigger`), make sure the posterm user is in "
    "the plugdev group, and replug the reader"
)
FIX_UNPLUGGED = (
    "plug the reader in (ACR122U, SCL3711 or another PN533-based reader), check that "
    "`posterm devices list` shows it, and set devices.nfc to the path it prints"
)
SENSE_SECONDS = 2.0
DEFAULT_UDP_PORT = 54321


@dataclass(frozen=True, slots=True)
class UsbReader:
    """A USB device nfcpy has a driver for."""

    vendor_id: int
    product_id: int
    bus: int
    address: int
    name: str

    @property
    def path(self) -> str:
        return f"usb:{self.vendor_id:04x}:{self.product_id:04x}"

    @property
    def devnode(self) -> str:
        return f"/dev/bus/usb/{self.bus:03d}/{self.address:03d}"


def usb_readers() -> list[UsbReader]:
    """NFC readers on the USB bus that nfcpy can drive (empty when libusb is unavailable)."""
    try:
        import usb1
    except ImportError:
        return []
    found = []
    try:
        with usb1.USBContext() as context:
            for dev in context.getDeviceList(skip_on_error=True):
                ids = (dev.getVendorID(), dev.getProductID())
                if ids in KNOWN_READERS:
                    found.append(
                        UsbReader(
                            ids[0],
                            ids[1],
                            dev.getBusNumber(),
                            dev.getDeviceAddress(),
                            KNOWN_READERS[ids],
                        )
                    )
    except Exception:  # libusb missing or no USB at all (containers): nothing to list
        return []
    return found


def loaded_kernel_modules(sys_module: Path = Path("/sys/module")) -> list[str]:
    """The kernel NFC modules currently loaded (they grab readers before nfcpy can)."""
    return [name for name in KERNEL_MODULES if (sys_module / name).is_dir()]


def probe_reader(path: str, *, sense_seconds: float = SENSE_SECONDS) -> ProbeResult:
    """Find, open and sense with the reader at nfcpy `path` ("none": not configured)."""
    if path == "none":
        return not_configured("reader", "devices.nfc")
    if path.startswith("udp"):
        missing = _udp_peer_missing(path)
        if missing is not None:
            return missing
    elif path.startswith("usb"):
        missing = _usb_reader_missing(path)
        if missing is not None:
            return missing
    elif path.startswith("tty:"):
        port = "/dev/tty" + path.split(":")[1]
        if not os.path.exists(port):
            return failed(
                "reader",
                path,
                found=False,
                problem=f"no serial port {port}",
                fix="plug the reader in and set devices.nfc to the port `posterm devices list` "
                "shows (tty:USB0:pn532 for /dev/ttyUSB0)",
            )
    return _open_and_sense(path, sense_seconds)


def _udp_peer_missing(path: str) -> ProbeResult | None:
    """For a loopback UDP path, check that a simulated card has bound the port."""
    parts = path.split(":")
    host = parts[1] if len(parts) > 1 and parts[1] else "localhost"
    port = int(parts[2]) if len(parts) > 2 and parts[2] else DEFAULT_UDP_PORT
    try:
        address = socket.gethostbyname(host)
    except OSError:
        return failed(
            "reader",
            path,
            found=False,
            problem=f"the host {host} in devices.nfc cannot be resolved",
            fix="correct the host name in devices.nfc (udp:localhost:PORT for the simulator)",
        )
    if not address.startswith("127."):
        return None  # a remote simulator: only sensing can tell
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((address, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return None  # something listens there: sense will tell whether it answers
            raise
    return failed(
        "reader",
        path,
        found=False,
        problem=f"nothing is listening at {path}: no simulated card or phone is running",
        fix="start the card simulator on that port (`posterm demo` starts one), or set "
        "devices.nfc to the real reader's path (see `posterm devices list`)",
    )


def _usb_reader_missing(path: str) -> ProbeResult | None:
    """For a USB path, check the bus for a matching reader and access to its device node."""
    readers = [r for r in usb_readers() if _matches(path, r)]
    if not readers:
        return failed(
            "reader", path, found=False, problem=f"no NFC reader found at {path}", fix=FIX_UNPLUGGED
        )
    reader = readers[0]
    if os.path.exists(reader.devnode) and not os.access(reader.devnode, os.R_OK | os.W_OK):
        return failed(
            "reader",
            path,
            found=True,
            problem=f"{reader.name} found but {reader.devnode} may not be opened by this user",
            fix=FIX_PERMISSION,
            details={"reader": reader.name, "devnode": reader.devnode},
        )
    return None


def _matches(path: str, reader: UsbReader) -> bool:
    parts = path.split(":")[1:]
    if not parts:
        return True
    if len(parts[0]) == 4:  # usb:VID[:PID]
        if int(parts[0], 16) != reader.vendor_id:
            return False
        return len(parts) < 2 or int(parts[1], 16) == reader.product_id
    if int(parts[0]) != reader.bus:  # usb:BUS[:DEV]
        return False
    return len(parts) < 2 or int(parts[1]) == reader.address


def _open_and_sense(path: str, sense_seconds: float) -> ProbeResult:
    import nfc
    import nfc.clf

    from drivers.nfc.collision import can_count_cards

    # nfcpy logs an ERROR for every failed open; the probe reports it in its own words.
    logging.getLogger("nfc").setLevel(logging.CRITICAL)
    clf = nfc.ContactlessFrontend()
    try:
        try:
            opened = clf.open(path)
        except OSError as error:
            return _open_error(path, error)
        if not opened:
            modules = loaded_kernel_modules()
            if path.startswith("usb") and modules and usb_readers():
                return failed(
                    "reader",
                    path,
                    found=True,
                    problem=f"reader busy: the kernel driver {modules[0]} holds it",
                    fix=FIX_BLACKLIST,
                    details={"kernel_modules": modules},
                )
            return failed(
                "reader",
                path,
                found=False,
                problem=f"no NFC reader found at {path}",
                fix=FIX_UNPLUGGED,
            )
        name = str(clf.device) if clf.device is not None else path
        started = time.monotonic()
        deadline = started + sense_seconds
        answers: list[str] = []

        def on_connect(tag: Any) -> bool:
            answers.append(_select_ppse(tag))
            return False  # do not wait for the card to leave

        try:
            tag = clf.connect(
                rdwr={
                    "targets": ["106A", "106B"],
                    "on-connect": on_connect,
                    "iterations": 1,
                    "interval": 0.1,
                    "beep-on-connect": False,
                },
                terminate=lambda: time.monotonic() > deadline,
            )
        except OSError as error:
            return _open_error(path, error, opened=True)
        waited = round(time.monotonic() - started, 2)
        counts = can_count_cards(clf.device)
        details: dict[str, Any] = {"reader": name, "sensed_s": waited, "counts_cards": counts}
        if tag:
            details["card"] = str(tag)
            details["ppse"] = answers[0] if answers else ""
            seen = f"saw {tag}; {answers[0] if answers else 'no answer'}"
        else:
            seen = f"no card presented within {sense_seconds:g} s (hold one to the reader to test)"
        two_cards = (
            "two cards in the field are refused"
            if counts
            else "this reader cannot tell two cards in the field apart (README: Contactless)"
        )
        return working("reader", path, f"{name} opened; {seen}; {two_cards}", details)
    finally:
        with contextlib.suppress(Exception):  # a half-open device must not hide the result
            clf.close()


SELECT_PPSE = bytes.fromhex("00A404000E") + b"2PAY.SYS.DDF01" + b"\x00"


def _select_ppse(tag: Any) -> str:
    """Ask a card in the field for its payment applications (SELECT PPSE), in words."""
    if not hasattr(tag, "transceive") or "Type4" not in type(tag).__name__:
        return "not an ISO-DEP card: it cannot be a payment card"
    try:
        answer = bytes(tag.transceive(SELECT_PPSE))
    except Exception as error:  # nfcpy raises its own tree for a card that left the field
        return f"the card stopped answering ({type(error).__name__})"
    status = answer[-2:].hex().upper() if len(answer) >= 2 else "none"
    if status == "9000":
        return "SELECT PPSE answered 9000: a contactless payment card or phone"
    return f"SELECT PPSE answered {status}: not a contactless payment card"


def _open_error(path: str, error: OSError, *, opened: bool = False) -> ProbeResult:
    if error.errno == errno.EBUSY:
        modules = loaded_kernel_modules()
        holder = f"the kernel driver {modules[0]}" if modules else "another program"
        fix = (
            FIX_BLACKLIST
            if modules
            else "stop the other program using the reader: the posterm service itself (`sudo "
            "systemctl stop posterm`, probe, start it again) or pcscd for an ACR122U (`sudo "
            "systemctl disable --now pcscd.socket pcscd`)"
        )
        return failed(
            "reader", path, found=True, problem=f"reader busy: {holder} holds it", fix=fix
        )
    if error.errno == errno.EACCES:
        return failed(
            "reader",
            path,
            found=True,
            problem="no permission to open the reader",
            fix=FIX_PERMISSION,
        )
    if error.errno == errno.ENODEV:
        return failed(
            "reader", path, found=False, problem=f"no NFC reader found at {path}", fix=FIX_UNPLUGGED
        )
    return failed(
        "reader",
        path,
        found=True,
        opened=opened,
        problem=f"the reader failed: {error}",
        fix="unplug and replug the reader; if it persists, try another USB port or cable",
    )
