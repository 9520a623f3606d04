"""Audit anchors: a copy of each audit record's sequence number and seal kept outside the data
directory, in the system journal, so rewriting the audit log is caught even by someone who
holds the audit key.

Each append sends one journald entry (identifier `posterm-audit`, fields AUDIT_SEQ, AUDIT_SEAL,
POSTERM_AUDIT_LOG; no secrets: a seal is an HMAC output) over the native journal socket.
`posterm audit verify` reads them back with `journalctl -o json` and compares: a sequence number
the journal saw that the log no longer has means a deleted tail, an anchored seal that differs
from the record's means the record was re-sealed.

Limits (docs/security.md): without a journal (no journald, a container, a machine that forgets
its journal) or without the right to read it (root, or the adm / systemd-journal groups), the
comparison is skipped and said so; the service user can add journal entries (false alarms) but
cannot remove them; journald's own retention (SystemMaxUse=) bounds how far back anchors reach.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

log = logging.getLogger("terminal.security.audit_anchor")

IDENTIFIER = "posterm-audit"
JOURNAL_SOCKET = "/run/systemd/journal/socket"


@dataclass(frozen=True, slots=True)
class Anchor:
    """What the system journal recorded when a record was appended."""

    seq: int
    seal: str
    at: str = ""


@dataclass(slots=True)
class AnchorReading:
    """The anchors found for one audit log; `available` False when no journal could be read."""

    available: bool
    anchors: list[Anchor] = field(default_factory=list)
    note: str = ""


class AnchorJournal(Protocol):
    """Where anchors are written and read back (the system journal; a test double in tests)."""

    def write(self, log_path: Path, seq: int, seal: str) -> None: ...

    def read(self, log_path: Path) -> AnchorReading: ...


class SystemJournal:
    """Anchors in journald: written over its socket, read with journalctl."""

    def __init__(self, socket_path: str = JOURNAL_SOCKET) -> None:
        self.socket_path = socket_path

    def write(self, log_path: Path, seq: int, seal: str) -> None:
        """Send one anchor; a machine without journald gets none (verify says so)."""
        if not os.path.exists(self.socket_path):
            return
        fields = {
            "MESSAGE": f"audit anchor {seq} {seal[:16]}",
            "PRIORITY": "6",
            "SYSLOG_IDENTIFIER": IDENTIFIER,
            "AUDIT_SEQ": str(seq),
            "AUDIT_SEAL": seal,
            "POSTERM_AUDIT_LOG": str(Path(os.path.abspath(log_path))),
        }
        payload = "".join(f"{key}={value}\n" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(payload, self.socket_path)
        except OSError as error:
            log.warning("the audit anchor for record %d could not reach journald (%s)", seq, error)

    def read(self, log_path: Path) -> AnchorReading:
        tool = shutil.which("journalctl")
        if tool is None:
            return AnchorReading(False, note="journalctl is not installed")
        if not os.path.exists(self.socket_path):
            return AnchorReading(False, note="journald is not running on this machine")
        wanted = str(Path(os.path.abspath(log_path)))
        try:
            done = subprocess.run(
                [
                    tool,
                    "--output=json",
                    "--no-pager",
                    "--quiet",
                    f"SYSLOG_IDENTIFIER={IDENTIFIER}",
                    f"POSTERM_AUDIT_LOG={wanted}",
                ],
                capture_output=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return AnchorReading(False, note=f"journalctl failed ({error})")
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
            return AnchorReading(False, note=f"journalctl failed ({reason[-1] if reason else ''})")
        return AnchorReading(True, parse_journal_json(done.stdout.decode("utf-8", "replace")))


def parse_journal_json(text: str) -> list[Anchor]:
    """Anchors from `journalctl -o json` output; lines that are not anchors are skipped."""
    anchors = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            anchors.append(
                Anchor(
                    int(entry["AUDIT_SEQ"]),
                    str(entry["AUDIT_SEAL"]),
                    str(entry.get("__REALTIME_TIMESTAMP", "")),
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return anchors


class Sealed(Protocol):
    """What the comparison reads of an audit record (audit.AuditRecord has it)."""

    @property
    def seq(self) -> int: ...

    @property
    def seal(self) -> str: ...


def compare_with_anchors(records: Sequence[Sealed], anchors: Sequence[Anchor]) -> list[str]:
    """Problems where the log disagrees with what the journal saw written, as sentences."""
    seals = {record.seq: record.seal for record in records}
    last = max(seals, default=0)
    problems = []
    # Any disagreeing anchor counts, even beside an agreeing one: whoever re-sealed a record
    # could also have sent a matching anchor, but cannot remove the original.
    resealed = sorted({a.seq for a in anchors if a.seq in seals and a.seal != seals[a.seq]})
    for seq in resealed:
        problems.append(
            f"record {seq} was re-sealed: its seal differs from the one the system journal "
            "recorded when it was written"
        )
    beyond = [a.seq for a in anchors if a.seq > last]
    if beyond:
        first, newest = last + 1, max(beyond)
        span = f"record {first} was" if first == newest else f"records {first} to {newest} were"
        problems.append(
            f"{span} deleted from the end: the system journal saw them written "
            f"(the log stops at {last})"
        )
    return problems
