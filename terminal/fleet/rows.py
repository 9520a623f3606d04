"""One terminal's status as a row of text, the same in `posterm fleet status` and the
technician's fleet screen: online, last seen, bank, queue (count / total), devices not ok, and
the start of the configuration digest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HEADER = ("TERMINAL", "MERCHANT", "ONLINE", "LAST SEEN", "BANK", "QUEUE", "DEVICES", "CONFIG")


def queue_text(status: Mapping[str, Any]) -> str:
    from terminal.money import Amount

    queue = status.get("queue") or {}
    try:
        total = Amount.from_json(queue.get("total")).format_plain()
    except Exception:  # a malformed status from the broker shows "?" rather than failing
        total = "?"
    return f"{queue.get('count', '?')} / {total}"


def devices_text(status: Mapping[str, Any]) -> str:
    devices = status.get("devices") or {}
    trouble = [f"{kind} {state}" for kind, state in devices.items() if state not in ("ok", "none")]
    return ", ".join(trouble) or "ok"


def status_row(status: Mapping[str, Any]) -> tuple[str, ...]:
    """The row of HEADER for one status (as `read_statuses` gives it, with `last_seen`)."""
    return (
        str(status.get("terminal_id")),
        str(status.get("merchant_id")),
        "yes" if status.get("online") else "NO",
        str(status.get("last_seen", status.get("at"))),
        str(status.get("bank")),
        queue_text(status),
        devices_text(status),
        str(status.get("config_digest", ""))[7:19],
    )
