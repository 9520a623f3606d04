"""The status object a terminal publishes, and the events that changes between two of them
mean.

Built only from the engine's public API (`queue_status`, `gateway_online`, `history`,
`totals`) and the configuration: no card data can reach it, since none of those carries more
than a masked PAN and the status copies no transaction at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from terminal import __version__
from terminal.payment.api import PaymentEngine
from terminal.settings import Settings
from terminal.settings.sections import redacted

DEVICE_KINDS = ("nfc", "camera", "printer", "display")


def iso(moment: datetime) -> str:
    """UTC, ISO 8601, whole seconds (the house format of times in messages)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def config_digest(settings: Settings) -> str:
    """sha256 of the effective configuration with secrets redacted: two terminals with the
    same digest run the same settings, and the digest reveals no secret."""
    data = redacted(settings)
    data.pop("terminal", None)  # who the terminal is differs by design
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def status_of(
    settings: Settings,
    engine: PaymentEngine,
    devices: Mapping[str, str],
    *,
    started_at: datetime,
    digest: str,
    now: datetime,
) -> dict[str, Any]:
    """The status object of the issue, exact keys, as plain JSON data."""
    queue = engine.queue_status()
    oldest_age = (
        max(0, int((now - queue.oldest).total_seconds())) if queue.oldest is not None else 0
    )
    recent = engine.history(limit=1)
    return {
        "terminal_id": settings.terminal.terminal_id,
        "merchant_id": settings.terminal.merchant_id,
        "online": True,
        "version": __version__,
        "started_at": iso(started_at),
        "bank": "online" if engine.gateway_online else "offline",
        "queue": {
            "count": queue.count,
            "total": dict(queue.total.to_json()),
            "oldest_age_s": oldest_age,
        },
        "declined_later": queue.declined_offline,
        "devices": {kind: devices.get(kind, "none") for kind in DEVICE_KINDS},
        "config_digest": digest,
        "last_sale_at": iso(recent[0].created_at) if recent else None,
        "at": iso(now),
    }


def changed(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> bool:
    """Does `after` say something `before` did not (the clock and the queue's age aside)?"""
    if before is None:
        return True

    def steady(status: Mapping[str, Any]) -> dict[str, Any]:
        data = {k: v for k, v in status.items() if k != "at"}
        data["queue"] = {k: v for k, v in status["queue"].items() if k != "oldest_age_s"}
        return data

    return steady(before) != steady(after)


def events_between(
    before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The events a change of status means: bank link lost/restored, offline sales declined
    later, devices lost/found. The first status yields none (nothing changed yet)."""
    if before is None:
        return []
    events: list[dict[str, Any]] = []
    if before["bank"] != after["bank"]:
        kind = "bank_link_lost" if after["bank"] == "offline" else "bank_link_restored"
        events.append({"event": kind, "queue": after["queue"]})
    declined = after["declined_later"] - before["declined_later"]
    if declined > 0:
        events.append(
            {"event": "declined_later", "count": declined, "total": after["declined_later"]}
        )
    for kind in DEVICE_KINDS:
        was, now = before["devices"][kind], after["devices"][kind]
        if was == now:
            continue
        if now == "ok":
            events.append({"event": "device_found", "device": kind})
        elif was == "ok":
            events.append({"event": "device_lost", "device": kind, "state": now})
    return events
