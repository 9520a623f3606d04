"""Structured logging to stderr or journald, with every record's text PAN-masked.

Records carry extra fields (`extra={"txn_id": ..., "result": ...}`); on stderr they are printed
as `key=value` after the message, under systemd they become journald fields (TXN_ID=..., so
`journalctl -u posterm TXN_ID=...` finds a sale). The masking runs in a filter attached to the
handlers, so no record can bypass it, and once more on the final text (exception traces too).

nfcpy's own DEBUG records (loggers `nfc.*`) dump every radio frame and APDU in hex; a card's
answers carry the PAN (tag 5A) and track 2 (tag 57) as BCD, which no digit-shaped mask can
see. Their hex dumps are cut to the first and last two bytes (command or tag, status word) and
the length, which is what a technician needs to follow the exchange.

A flood of records from one place in the code (an accept loop failing with "Too many open
files" thousands of times a second) is cut to a few lines per window by `RepeatLimitFilter`;
the first record let through after the window says how many were dropped, so a log never
fills a disk and nothing is silently lost.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Literal

from terminal.security.pan import redact_text

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_JOURNAL_SOCKET = "/run/systemd/journal/socket"
_SYSLOG_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a caller attached with `extra=`."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


_HEX_DUMP = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{16,}(?![0-9A-Za-z])")
_FRAME_LOGGERS = ("nfc",)
"""Libraries that log raw card frames in hex (nfcpy)."""


def elide_frames(text: str) -> str:
    """Hex dumps of 8 bytes or more cut to `head…tail (N bytes)`: card data never shows."""
    return _HEX_DUMP.sub(
        lambda m: f"{m.group(0)[:4]}…{m.group(0)[-4:]} ({len(m.group(0)) // 2} bytes)", text
    )


def logs_frames(name: str) -> bool:
    """True for the loggers of libraries that dump raw card frames."""
    return any(name == root or name.startswith(root + ".") for root in _FRAME_LOGGERS)


class PanMaskingFilter(logging.Filter):
    """Masks anything shaped like a PAN or track data in a record's message and fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        if logs_frames(record.name):
            message = elide_frames(message)
        record.msg = redact_text(message)
        record.args = None
        for key, value in extra_fields(record).items():
            if isinstance(value, str):
                setattr(record, key, redact_text(value))
        return True


class RepeatLimitFilter(logging.Filter):
    """At most `burst` records per call site (logger, level, file, line) every `window_s`;
    the rest are counted, and the site's first record of a later window carries the count."""

    def __init__(
        self,
        burst: int = 20,
        window_s: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_sites: int = 1024,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self.clock = clock
        self.max_sites = max_sites
        self._sites: OrderedDict[tuple[str, int, str, int], list[float]] = OrderedDict()
        """Per site: [window start, records let through, records dropped]."""
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.pathname, record.lineno)
        now = self.clock()
        with self._lock:
            site = self._sites.get(key)
            if site is not None and now - site[0] < self.window_s:
                if site[1] < self.burst:
                    site[1] += 1
                    return True
                site[2] += 1
                return False
            dropped = int(site[2]) if site is not None else 0
            self._sites[key] = [now, 1, 0]
            self._sites.move_to_end(key)
            while len(self._sites) > self.max_sites:
                self._sites.popitem(last=False)
        if dropped:
            try:
                message = record.getMessage()
            except Exception:  # a broken format string must not lose the record
                message = f"{record.msg!r} {record.args!r}"
            record.msg = f"{message} ({dropped} more like this were dropped in the last flood)"
            record.args = None
        return True


class StructuredFormatter(logging.Formatter):
    """`2026-11-22T10:00:00.123Z INFO terminal.gateway: message key=value ...`"""

    def __init__(self, *, syslog_prefix: bool = False) -> None:
        super().__init__()
        self.syslog_prefix = syslog_prefix

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={_quote(v)}" for k, v in sorted(extra_fields(record).items()))
        text = f"{record.levelname} {record.name}: {record.getMessage()}"
        if fields:
            text = f"{text} {fields}"
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        if self.syslog_prefix:
            text = f"<{_SYSLOG_PRIORITY.get(record.levelno, 6)}>{text}"
        else:
            text = f"{self.formatTime(record)} {text}"
        return redact_text(text)


def _quote(value: object) -> str:
    text = str(value)
    return f'"{text}"' if (" " in text or not text) else text


class JournaldHandler(logging.Handler):
    """Sends records to journald with its native protocol, fields upper-cased."""

    def __init__(
        self, identifier: str = "posterm", fields: Mapping[str, str] | None = None
    ) -> None:
        super().__init__()
        self.identifier = identifier
        self.static_fields = {_field_name(k): str(v) for k, v in (fields or {}).items()}
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields: dict[str, str] = {
                "MESSAGE": redact_text(self.format(record)),
                "PRIORITY": str(_SYSLOG_PRIORITY.get(record.levelno, 6)),
                "SYSLOG_IDENTIFIER": self.identifier,
                "LOGGER": record.name,
                **self.static_fields,
            }
            for key, value in extra_fields(record).items():
                name = _field_name(key)
                if name:
                    fields[name] = redact_text(str(value))
            payload = bytearray()
            for key, value in fields.items():
                data = value.encode("utf-8", "replace")
                if b"\n" in data:
                    payload += key.encode() + b"\n" + len(data).to_bytes(8, "little") + data + b"\n"
                else:
                    payload += key.encode() + b"=" + data + b"\n"
            self.sock.sendto(bytes(payload), _JOURNAL_SOCKET)
        except OSError:
            self.handleError(record)

    def close(self) -> None:
        self.sock.close()
        super().close()


def _field_name(key: str) -> str:
    """A journald field name: upper case, digits, underscores; not starting with _ or a digit."""
    name = "".join(c if c.isascii() and c.isalnum() else "_" for c in key.upper())
    return name.lstrip("_0123456789")[:64]


def under_journald() -> bool:
    """True when stderr is connected to the journal (systemd sets JOURNAL_STREAM)."""
    return bool(os.environ.get("JOURNAL_STREAM")) and os.path.exists(_JOURNAL_SOCKET)


class CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time of the record, not the one at set-up (a
    replaced or closed stderr, as in a test harness or after a redirect, loses nothing)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always the current sys.stderr


def configure_logging(
    level: str = "INFO",
    target: Literal["auto", "stderr", "journald"] = "auto",
    journal_fields: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Install one masked handler on the root logger; returns it (tests inspect it).

    `journal_fields` go with every journald record (e.g. TERMINAL_ID), so `journalctl -u posterm
    TERMINAL_ID=CAFE0001` works across a fleet's collected journals.
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_posterm", False):
            root.removeHandler(old)
            old.close()
    handler: logging.Handler
    if target == "journald" or (target == "auto" and under_journald()):
        handler = JournaldHandler(fields=journal_fields)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = CurrentStderrHandler()
        handler.setFormatter(StructuredFormatter())
    handler.addFilter(RepeatLimitFilter())  # first: it counts by call site, before masking
    handler.addFilter(PanMaskingFilter())
    setattr(handler, "_posterm", True)  # noqa: B010 - marks our own handler for reconfiguration
    root.addHandler(handler)
    root.setLevel(level)
    return handler
