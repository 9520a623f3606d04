"""The operator's side of remote configuration: sign a bundle, send it to each target
terminal's `config/set`, and collect the answers from `config/result` as they arrive."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from terminal.fleet.bundles import Target, sign_bundle
from terminal.fleet.errors import FleetUsage
from terminal.fleet.listing import Subscription, read_statuses
from terminal.fleet.topics import TerminalTopics, all_command_results, all_config_results
from terminal.settings.fleet_section import FleetSection


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


def recipients_of(
    fleet: FleetSection, terminals: list[str], merchant: str | None
) -> tuple[dict[str, str], tuple[str, ...]]:
    """(terminal id -> merchant id of the targets seen on the broker, ids never seen)."""
    seen = {
        str(s.get("terminal_id")): str(s.get("merchant_id")) for s in read_statuses(fleet, merchant)
    }
    if merchant:
        return seen, ()
    return (
        {t: seen[t] for t in terminals if t in seen},
        tuple(t for t in terminals if t not in seen),
    )


def send(fleet: FleetSection, push: Push, wait_s: float) -> Iterator[dict[str, Any]]:
    """Publish a bundle to every recipient and yield each answer to its version as it arrives,
    until all answered or `wait_s` passed."""
    return _exchange(
        fleet,
        push.token,
        push.recipients,
        results=all_config_results(fleet.topic_prefix),
        topic_of=lambda topics: topics.config_set,
        ours=lambda answer: answer.get("version") in (push.version, None),
        wait_s=wait_s,
    )


def send_command(
    fleet: FleetSection,
    command_id: str,
    token: str,
    recipients: dict[str, str],
    wait_s: float,
) -> Iterator[dict[str, Any]]:
    """Publish a command to every recipient and yield each answer to it as it arrives."""
    return _exchange(
        fleet,
        token,
        recipients,
        results=all_command_results(fleet.topic_prefix),
        topic_of=lambda topics: topics.command,
        ours=lambda answer: answer.get("id") in (command_id, None),
        wait_s=wait_s,
    )


def _exchange(
    fleet: FleetSection,
    token: str,
    recipients: dict[str, str],
    *,
    results: str,
    topic_of: Callable[[TerminalTopics], str],
    ours: Callable[[dict[str, Any]], bool],
    wait_s: float,
) -> Iterator[dict[str, Any]]:
    waiting = set(recipients)
    with Subscription(fleet, results) as subscription:
        for terminal_id, merchant_id in recipients.items():
            topics = TerminalTopics(fleet.topic_prefix, merchant_id, terminal_id)
            subscription.publish(topic_of(topics), token.encode())
        deadline = time.monotonic() + wait_s
        while waiting and time.monotonic() < deadline:
            try:
                _, payload, _ = subscription.messages.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                answer = json.loads(payload)
            except ValueError:
                continue
            if not isinstance(answer, dict) or answer.get("terminal_id") not in waiting:
                continue
            if not ours(answer):
                continue
            waiting.discard(answer["terminal_id"])
            yield answer
