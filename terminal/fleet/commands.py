"""Signed commands from the fleet operator: `saf-flush`, `close-batch`, `probe`,
`reload-status` on `.../command`, under the same rules as configuration bundles (a trusted
Ed25519 key, this terminal as target, not expired, a version newer than the last command's),
idempotent by id (the same id gets the stored answer, never a second run), answered on
`.../command/result`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from joserfc.jwk import OKPKey

from terminal.fleet.bundles import (
    BundleRefused,
    Target,
    sign_payload,
    signed_payload,
    target_of,
    trusted_keys,
)
from terminal.fleet.status import iso
from terminal.settings import Settings

TYP = "posterm-command+jws"
NAMES = ("saf-flush", "close-batch", "probe", "reload-status")
STATE_FILE = "fleet-commands.json"
REMEMBERED = 200
"""Answers kept for idempotency (by command id)."""

Runner = Callable[[str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Command:
    id: str
    name: str
    version: int
    target: Target
    expires_at: datetime
    kid: str


def sign_command(
    private_jwk: Mapping[str, Any],
    name: str,
    *,
    target: Target,
    version: int,
    expires_at: datetime,
    command_id: str | None = None,
) -> tuple[str, str]:
    """(command id, compact JWS) of a command."""
    if name not in NAMES:
        raise BundleRefused(f"Unknown command {name!r}: one of {', '.join(NAMES)}.")
    command_id = command_id or str(uuid.uuid4())
    payload = {
        "id": command_id,
        "command": name,
        "target": target.to_json(),
        "version": version,
        "expires_at": expires_at.astimezone(UTC).isoformat(timespec="seconds"),
    }
    return command_id, sign_payload(private_jwk, payload, TYP)


def verify_command(
    token: bytes,
    keys: Mapping[str, OKPKey],
    *,
    terminal_id: str,
    merchant_id: str,
    last_version: int,
    now: datetime,
) -> Command:
    data, kid = signed_payload(token, keys, TYP)
    try:
        payload = json.loads(data)
        command = Command(
            id=str(payload["id"]),
            name=str(payload["command"]),
            version=payload["version"],
            target=target_of(payload),
            expires_at=datetime.fromisoformat(payload["expires_at"]),
            kid=kid,
        )
        if not isinstance(command.version, int) or command.expires_at.tzinfo is None:
            raise ValueError
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BundleRefused("The command's content is malformed.") from None
    if command.name not in NAMES:
        raise BundleRefused(f"Unknown command {command.name!r}: one of {', '.join(NAMES)}.")
    if not command.target.includes(terminal_id, merchant_id):
        raise BundleRefused(f"The command is for other terminals, not {terminal_id}.")
    if command.expires_at <= now:
        raise BundleRefused(f"The command expired at {command.expires_at.isoformat()}.")
    if command.version <= last_version:
        raise BundleRefused(
            f"Version {command.version} is not newer than the last command's version "
            f"{last_version}: an older or replayed command is refused."
        )
    return command


class RemoteCommands:
    """Runs verified commands once each and remembers their answers by id."""

    def __init__(
        self,
        settings: Settings,
        run: Runner,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.run = run
        self.clock = clock
        self.state_file: Path = settings.data_dir / STATE_FILE

    def _state(self) -> dict[str, Any]:
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"version": 0, "answers": {}}
        return state if isinstance(state, dict) else {"version": 0, "answers": {}}

    def _save(self, state: dict[str, Any]) -> None:
        from terminal.fleet.remote_config import replace_file

        answers = state["answers"]
        while len(answers) > REMEMBERED:
            answers.pop(next(iter(answers)))
        replace_file(self.state_file, json.dumps(state).encode())

    async def take(self, token: bytes) -> dict[str, Any]:
        """The answer to one command (never raises)."""
        state = self._state()
        terminal = self.settings.terminal
        command_id = _peek_id(token)
        if command_id and command_id in state["answers"]:
            return dict(state["answers"][command_id])  # idempotent: run once, answer again
        try:
            command = verify_command(
                token,
                trusted_keys(self.settings.fleet.operator_keys),
                terminal_id=terminal.terminal_id,
                merchant_id=terminal.merchant_id,
                last_version=int(state.get("version", 0)),
                now=self.clock(),
            )
        except BundleRefused as refused:
            return self._answer(command_id, None, "refused", refused.sentence, {})
        try:
            details = await self.run(command.name)
            answer = self._answer(command.id, command.name, "done", "", details)
        except Exception as error:
            sentence = getattr(error, "sentence", f"{command.name} failed ({error})")
            answer = self._answer(command.id, command.name, "failed", sentence, {})
        state["version"] = command.version
        state["answers"][command.id] = answer
        self._save(state)
        return answer

    def _answer(
        self,
        command_id: str | None,
        name: str | None,
        result: str,
        sentence: str,
        details: dict[str, Any],
    ) -> dict[str, Any]:
        terminal = self.settings.terminal
        return {
            "terminal_id": terminal.terminal_id,
            "merchant_id": terminal.merchant_id,
            "id": command_id,
            "command": name,
            "result": result,
            "sentence": sentence,
            "details": details,
            "at": iso(self.clock()),
        }


def _peek_id(token: bytes) -> str | None:
    """The id a command claims, read before verification only to find a stored answer (the
    stored answer was given to a verified command with that id)."""
    import base64

    try:
        part = token.split(b".")[1]
        data = json.loads(base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4)))
        value = data.get("id")
    except (IndexError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
