"""The operator's side of remote configuration: sign a bundle, send it to each target
terminal's `config/set`, and collect the answers from `config/result` as they arrive."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from terminal.fleet.bundles import Target, sign_bundle
from terminal.fleet.errors import FleetUsage
from terminal.fleet.listing import Subscription, read_statuses
from terminal.fleet.topics import TerminalTopics, all_config_results
from terminal.settings.sections import FleetSection


@dataclass(frozen=True, slots=True)
class Push:
    """A signed bundle and the terminals it goes to (terminal id -> merchant id)."""

    token: str
    version: int
    recipients: dict[str, str]
    unknown: tuple[str, ...]
    """Terminal ids named but never seen on the broker: nothing is sent to them."""


def load_private_key(path: Path) -> dict[str, Any]:
    try:
        key = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise FleetUsage(
            f"Cannot read the operator key {path} ({error}); make one with "
            "`posterm fleet keys init` or name it with --key."
        ) from None
    if not isinstance(key, dict) or "d" not in key:
        raise FleetUsage(f"{path} is not a private JWK (the .jwk, not the .pub.jwk).")
    return key


def prepare(
    fleet: FleetSection,
    settings_file: Path,
    key_file: Path,
    *,
    terminals: list[str],
    merchant: str | None,
    version: int | None,
    expires_in_s: float,
) -> Push:
    """Sign the bundle and find the target terminals on the broker (their retained status)."""
    try:
        text = settings_file.read_text(encoding="utf-8")
    except OSError as error:
        raise FleetUsage(f"Cannot read {settings_file} ({error.strerror}).") from None
    now = datetime.now(UTC)
    version = version if version is not None else int(now.timestamp())  # increases by itself
    target = Target(merchant=merchant) if merchant else Target(terminals=tuple(terminals))
    token = sign_bundle(
        load_private_key(key_file),
        target=target,
        version=version,
        expires_at=now + timedelta(seconds=expires_in_s),
        settings_toml=text,
    )
    seen = {
        str(s.get("terminal_id")): str(s.get("merchant_id")) for s in read_statuses(fleet, merchant)
    }
    unknown: tuple[str, ...] = ()
    if merchant:
        recipients = seen
    else:
        recipients = {t: seen[t] for t in terminals if t in seen}
        unknown = tuple(t for t in terminals if t not in seen)
    return Push(token, version, recipients, unknown)


def send(fleet: FleetSection, push: Push, wait_s: float) -> Iterator[dict[str, Any]]:
    """Publish to every recipient and yield each answer to this version as it arrives, until
    all answered or `wait_s` passed."""
    waiting = set(push.recipients)
    with Subscription(fleet, all_config_results(fleet.topic_prefix)) as subscription:
        for terminal_id, merchant_id in push.recipients.items():
            topic = TerminalTopics(fleet.topic_prefix, merchant_id, terminal_id).config_set
            subscription.publish(topic, push.token.encode())
        deadline = time.monotonic() + wait_s
        while waiting and time.monotonic() < deadline:
            try:
                _, payload = subscription.messages.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                answer = json.loads(payload)
            except ValueError:
                continue
            if not isinstance(answer, dict) or answer.get("terminal_id") not in waiting:
                continue
            if answer.get("version") not in (push.version, None):
                continue
            waiting.discard(answer["terminal_id"])
            yield answer
