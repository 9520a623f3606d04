"""The link's trust alarm: kept on disk while the gateway's TLS certificate fails verification.

A certificate that does not verify against `gateway.ca_file` is not "the bank is down": it is
what a man in the middle looks like (or a wrong CA file). The client raises the alarm when a
handshake fails verification and clears it when a verified connection answers; the file lets
every process see it (`posterm saf status`, the operator screen, the ECR door) and survives a
restart, so nobody forgets it until the link verifies again.

    DATA_DIR/link-alarm.json    {"link": "untrusted", "since": ISO 8601, "detail": "..."}
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("terminal.gateway")

ALARM_FILE = "link-alarm.json"
UNTRUSTED = "untrusted"
TRUSTED = "ok"


def raise_alarm(data_dir: Path, detail: str) -> None:
    """Record (or keep) the alarm; the first time it is logged as a security alarm."""
    path = data_dir / ALARM_FILE
    if path.exists():
        return
    log.error("security alarm: the gateway's TLS certificate failed verification (%s)", detail)
    record = {"link": UNTRUSTED, "since": datetime.now(UTC).isoformat(), "detail": detail[:200]}
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(path.name + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.replace(temp, path)
    except OSError as error:  # the alarm is logged either way
        log.error("cannot record the link alarm in %s: %s", path, error)


def clear_alarm(data_dir: Path) -> None:
    """A verified connection answered: the link is trusted again."""
    path = data_dir / ALARM_FILE
    if path.exists():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        log.warning("gateway link verified again: security alarm cleared")


def link_alarm(data_dir: Path) -> str:
    """The alarm's detail while the link is untrusted, else ""."""
    try:
        record = json.loads((data_dir / ALARM_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ""
    except (OSError, ValueError):
        return "link alarm file unreadable"
    detail = record.get("detail") if isinstance(record, dict) else None
    return detail if isinstance(detail, str) and detail else "certificate failed verification"
