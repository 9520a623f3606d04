"""The topic tree: {prefix}/{merchant_id}/{terminal_id}/{status|events|config/...}.

One function per topic so the terminal, the technician commands and the broker's ACL
(`pattern readwrite {prefix}/+/%u/#`, docs/fleet.md) agree on a single layout.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TerminalTopics:
    """The topics of one terminal."""

    prefix: str
    merchant_id: str
    terminal_id: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.merchant_id}/{self.terminal_id}"

    @property
    def status(self) -> str:
        """Retained: the latest status object (the broker's last will overwrites it)."""
        return f"{self.base}/status"

    @property
    def events(self) -> str:
        """Not retained: one event object per message."""
        return f"{self.base}/events"

    @property
    def config_set(self) -> str:
        """Signed configuration bundles for this terminal (written by the operator)."""
        return f"{self.base}/config/set"

    @property
    def config_result(self) -> str:
        """The terminal's answer to each bundle: applied or refused, with the sentence."""
        return f"{self.base}/config/result"

    @property
    def command(self) -> str:
        """Signed commands for this terminal (written by the operator)."""
        return f"{self.base}/command"

    @property
    def command_result(self) -> str:
        return f"{self.base}/command/result"


def all_status(prefix: str, merchant_id: str | None = None) -> str:
    """Subscription for every terminal's status (of one merchant when given)."""
    return f"{prefix}/{merchant_id or '+'}/+/status"


def all_events(prefix: str, merchant_id: str | None = None) -> str:
    """Subscription for every terminal's events (of one merchant when given)."""
    return f"{prefix}/{merchant_id or '+'}/+/events"


def all_command_results(prefix: str) -> str:
    """Subscription for every terminal's command answers."""
    return f"{prefix}/+/+/command/result"


def all_config_results(prefix: str) -> str:
    """Subscription for every terminal's configuration answers."""
    return f"{prefix}/+/+/config/result"
