"""What is plugged in: NFC readers nfcpy can drive, V4L2 cameras and serial ports.

`posterm devices list` prints these with the device string to put in the configuration, so a
technician never has to guess a path.
"""

from __future__ import annotations

import glob
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from drivers.probe.nfc_reader import loaded_kernel_modules, usb_readers


@dataclass(frozen=True, slots=True)
class AttachedDevice:
    """One device found on this machine."""

    kind: str
    """reader, camera or serial."""
    path: str
    """The device string for the configuration (devices.nfc, devices.camera, ...)."""
    name: str
    """What the device calls itself."""
    accessible: bool
    """This user may open it."""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def attached_devices(sys_class: Path = Path("/sys/class/video4linux")) -> list[AttachedDevice]:
    """Readers, cameras and serial ports present now, each with its configuration string."""
    found: list[AttachedDevice] = []
    modules = loaded_kernel_modules()
    for reader in usb_readers():
        note = ""
        if modules:
            note = f"kernel module {', '.join(modules)} loaded: blacklist it (install guide)"
        found.append(
            AttachedDevice(
                kind="reader",
                path=reader.path,
                name=f"{reader.name} (bus {reader.bus:03d} device {reader.address:03d})",
                accessible=os.access(reader.devnode, os.R_OK | os.W_OK),
                note=note,
            )
        )
    for node in sorted(glob.glob("/dev/video*"), key=_natural):
        name_file = sys_class / os.path.basename(node) / "name"
        try:
            name = name_file.read_text(encoding="utf-8").strip()
        except OSError:
            name = "video device"
        found.append(
            AttachedDevice(
                kind="camera",
                path=node,
                name=name,
                accessible=os.access(node, os.R_OK | os.W_OK),
                note="" if _is_capture(sys_class, node) else "may be a metadata node, not a camera",
            )
        )
    try:
        from serial.tools import list_ports

        ports = list(list_ports.comports())
    except Exception:  # no sysfs (containers): no serial ports to show
        ports = []
    for port in sorted(ports, key=lambda p: _natural(str(p.device))):
        found.append(
            AttachedDevice(
                kind="serial",
                path=str(port.device),
                name=str(port.description or port.name),
                accessible=os.access(str(port.device), os.R_OK | os.W_OK),
                note=str(port.hwid) if port.hwid and port.hwid != "n/a" else "",
            )
        )
    return found


def _is_capture(sys_class: Path, node: str) -> bool:
    # UVC cameras expose two nodes; the metadata one has index 1.
    index_file = sys_class / os.path.basename(node) / "index"
    try:
        return index_file.read_text(encoding="utf-8").strip() == "0"
    except OSError:
        return True


def _natural(text: str) -> tuple[str, int]:
    head = text.rstrip("0123456789")
    tail = text[len(head) :]
    return head, int(tail) if tail else -1
