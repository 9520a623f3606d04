"""Probe the receipt printer and the customer display through pyserial URLs.

Printer: ESC/POS real-time status (DLE EOT n). The answer to each request is one byte whose
bits 0 and 7 are 0 and bits 1 and 4 are 1 (Epson ESC/POS reference, DLE EOT):
  n=1 printer status  bit 3 offline
  n=2 offline cause   bit 2 cover open, bit 3 feed button, bit 5 stopped by paper end, bit 6 error
  n=4 paper sensor    bits 2-3 paper near end, bits 5-6 paper end
Display: customer displays mostly do not answer; the probe writes a test line and, when the
device echoes (simulators, displays in echo mode), checks the echo.
"""

from __future__ import annotations

import errno
import os
import re
from typing import Any

from drivers.probe import ProbeResult, failed, not_configured, working
from drivers.serial_url import SerialUrlError, open_serial, split_port

DLE_EOT = b"\x10\x04"
STATUS_TIMEOUT_S = 1.0
DISPLAY_TEST = b"\x1b@\x0cPOSTERM PROBE"  # ESC @ (initialise), CLR (clear), text


def is_status_byte(value: int) -> bool:
    """True when `value` has the fixed bits of an ESC/POS DLE EOT answer."""
    return value & 0b1001_0011 == 0b0001_0010


def decode_printer_status(printer: int, cause: int | None, paper: int | None) -> list[str]:
    """The problems the three DLE EOT answers report, in words (empty: ready)."""
    problems = []
    if printer & 0x08:
        problems.append("offline")
    if cause is not None:
        if cause & 0x04:
            problems.append("cover open")
        if cause & 0x08:
            problems.append("paper feed button held")
        if cause & 0x40:
            problems.append("error (cutter jam or head overheated)")
    if paper is not None:
        if paper & 0x60 or (cause is not None and cause & 0x20):
            problems.append("paper out")
        elif paper & 0x0C:
            problems.append("paper low")
    return problems


def _port_path(url: str) -> str | None:
    """The device node behind a plain serial device string (None for socket://, loop://)."""
    if "://" in url:
        return None
    return url.split("?", 1)[0]


def _open(kind: str, url: str, setting: str) -> tuple[Any, ProbeResult | None]:
    import serial

    node = _port_path(url)
    try:
        split_port(url)
    except SerialUrlError as error:
        return None, failed(
            kind, url, found=node is None, problem=str(error), fix=f"correct {setting}"
        )
    if node is not None and not os.path.exists(node):
        return None, failed(
            kind,
            url,
            found=False,
            problem=f"no serial port {node}",
            fix=f"plug the {kind} in and set {setting} to the port `posterm devices list` shows",
        )
    try:
        # exclusive: a port another program holds is reported busy instead of sharing it.
        extra = {"exclusive": True} if node is not None else {}
        port = open_serial(url, timeout=STATUS_TIMEOUT_S, write_timeout=2.0, **extra)
    except (serial.SerialException, OSError, ValueError) as error:
        return None, _open_failure(kind, url, setting, error, node)
    return port, None


def _open_failure(
    kind: str, url: str, setting: str, error: Exception, node: str | None
) -> ProbeResult:
    text = str(error)
    code = getattr(error, "errno", None)
    match = re.search(r"\[Errno (\d+)\]", text)
    if code is None and match:
        code = int(match.group(1))
    if code == errno.EACCES:
        return failed(
            kind,
            url,
            found=True,
            problem=f"no permission to open {node or url}",
            fix="add the posterm user to the dialout group (`sudo usermod -aG dialout posterm`) "
            "and restart posterm",
        )
    if code in (errno.EBUSY, errno.EAGAIN) or "exclusively lock" in text:
        return failed(
            kind,
            url,
            found=True,
            problem=f"{node or url} is busy: another program holds it",
            fix="stop the other program: the posterm service itself (`sudo systemctl stop "
            "posterm`, probe, start it again) or ModemManager (`sudo systemctl disable --now "
            "ModemManager`)",
        )
    if code == errno.ECONNREFUSED or "refused" in text.lower():
        return failed(
            kind,
            url,
            found=False,
            problem=f"nothing is listening at {url}",
            fix=f"start the {kind} simulator or network {kind}, or correct {setting}",
        )
    return failed(
        kind,
        url,
        found=node is None,
        problem=f"cannot open {url}: {text}",
        fix=f"check {setting} (a pyserial URL such as /dev/ttyUSB0?baudrate=19200 or "
        "socket://host:port) and the cable",
    )


def _ask(port: Any, n: int) -> int | None:
    port.reset_input_buffer()
    port.write(DLE_EOT + bytes([n]))
    port.flush()
    answer: bytes = port.read(1)
    return answer[0] if answer else None


def probe_printer(url: str) -> ProbeResult:
    """Open the printer at pyserial `url` and read its ESC/POS real-time status."""
    if url == "none":
        return not_configured("printer", "devices.printer")
    port, failure = _open("printer", url, "devices.printer")
    if failure is not None:
        return failure
    try:
        status = _ask(port, 1)
        if status is None:
            return failed(
                "printer",
                url,
                found=True,
                opened=True,
                problem="the printer did not answer the status request (DLE EOT 1)",
                fix=(
                    "a network printer serves one connection at a time: if posterm is running "
                    "it holds the printer (`sudo systemctl stop posterm`, probe, start it "
                    "again); otherwise check that the printer is on and its address"
                    if "://" in url
                    else "switch the printer on, check the cable and the baud rate in "
                    "devices.printer (e.g. ?baudrate=19200, as printed on its self-test page)"
                ),
            )
        if not is_status_byte(status):
            echoed = status == DLE_EOT[0]
            return failed(
                "printer",
                url,
                found=True,
                opened=True,
                problem=(
                    "the port echoes what is sent: no ESC/POS printer is answering"
                    if echoed
                    else f"the answer 0x{status:02x} is not an ESC/POS status byte"
                ),
                fix="check that devices.printer names the printer's port and the baud rate "
                "matches the printer's",
                details={"status": status},
            )
        cause = _ask(port, 2)
        paper = _ask(port, 4)
    except OSError as error:  # serial.SerialException is an OSError
        return failed(
            "printer",
            url,
            found=True,
            opened=True,
            problem=f"the printer connection failed: {error}",
            fix="check the cable and that the printer stays switched on",
        )
    finally:
        port.close()
    problems = decode_printer_status(status, cause, paper)
    details = {"status": status, "offline_cause": cause, "paper": paper}
    hard = [p for p in problems if p != "paper low"]
    if hard:
        return failed(
            "printer",
            url,
            found=True,
            opened=True,
            problem="printer " + ", ".join(problems),
            fix="load paper, close the cover and make sure the printer is online "
            "(sales are still recorded; reprint receipts from history)",
            details=details,
        )
    state = "online, paper low: change the roll soon" if problems else "online, paper OK"
    return working(
        "printer",
        url,
        f"status: {state}",
        details,
    )


def probe_display(url: str) -> ProbeResult:
    """Open the customer display at `url`, write a test line and check an echo if one comes."""
    if url == "none":
        return not_configured("display", "devices.display")
    port, failure = _open("display", url, "devices.display")
    if failure is not None:
        return failure
    try:
        port.reset_input_buffer()
        port.write(DISPLAY_TEST)
        port.flush()
        echo: bytes = port.read(len(DISPLAY_TEST))
    except OSError as error:
        return failed(
            "display",
            url,
            found=True,
            opened=True,
            problem=f"writing to the display failed: {error}",
            fix="check the display's cable and power",
        )
    finally:
        port.close()
    details: dict[str, Any] = {"written": len(DISPLAY_TEST), "echoed": len(echo)}
    if echo == DISPLAY_TEST:
        seen = "echoed the test text"
    elif echo:
        return failed(
            "display",
            url,
            found=True,
            opened=True,
            problem=f"the display answered {echo[:16].hex()} instead of echoing the test text",
            fix="check the baud rate in devices.display matches the display's",
            details=details,
        )
    else:
        seen = "no echo (most displays do not answer): check that POSTERM PROBE shows on it"
    return working(
        "display",
        url,
        f"wrote a test line; {seen}",
        details,
    )
