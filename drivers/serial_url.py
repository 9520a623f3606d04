"""Open a serial device from a posterm device string: a pyserial URL or a port with options.

pyserial's `serial_for_url` understands `socket://host:port`, `loop://`, `rfc2217://...`, but
hands a plain port name to `Serial` as is: `/dev/ttyUSB0?baudrate=19200` would be taken as a
file called "ttyUSB0?baudrate=19200". posterm's configuration writes port settings that way
(ARCHITECTURE.md, "a device is a URL"), so the options after "?" are parsed here and passed as
keyword arguments. Unknown options are an error naming them, so a typo does not silently leave
the port at 9600 baud.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

PORT_OPTIONS: dict[str, type] = {
    "baudrate": int,
    "bytesize": int,
    "parity": str,
    "stopbits": float,
    "rtscts": bool,
    "dsrdtr": bool,
    "xonxoff": bool,
}


class SerialUrlError(ValueError):
    """The device string's options cannot be used."""


def split_port(url: str) -> tuple[str, dict[str, Any]]:
    """`/dev/ttyUSB0?baudrate=19200` -> ("/dev/ttyUSB0", {"baudrate": 19200}); URLs unchanged."""
    if "://" in url or "?" not in url:
        return url, {}
    port, _, query = url.partition("?")
    options: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        kind = PORT_OPTIONS.get(key)
        if kind is None:
            known = ", ".join(PORT_OPTIONS)
            raise SerialUrlError(f"unknown serial option {key!r} in {url!r} (known: {known})")
        try:
            if kind is bool:
                options[key] = value.lower() in ("1", "true", "yes", "on")
            elif kind is float:
                options[key] = float(value) if "." in value else int(value)
            elif kind is str:
                options[key] = value.upper()[:1]
            else:
                options[key] = int(value)
        except ValueError:
            raise SerialUrlError(f"serial option {key}={value!r} in {url!r} is not valid") from None
    return port, options


def open_serial(url: str, **settings: Any) -> Any:
    """An open pyserial port for `url` (a URL or a port with ?options); pyserial's errors pass."""
    import serial

    port, options = split_port(url)
    if "://" in port:
        return serial.serial_for_url(port, **settings)
    return serial.Serial(port, **{**options, **settings})
