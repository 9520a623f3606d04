"""The network faults the simulator injects on its protocol port (set through the admin API).

A module of its own so that the server (which applies them) and the admin API (which sets
them) both depend on it instead of on each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Faults:
    """Network faults injected on /v1/messages (rates are probabilities 0..1)."""

    drop_before: float = 0.0
    drop_after: float = 0.0
    delay_ms: int = 0
    error_5xx: float = 0.0
    down: bool = False

    @classmethod
    def from_json(cls, data: object) -> Faults:
        """Parse POST /sim/faults; ValueError naming the bad field."""
        if not isinstance(data, dict):
            raise ValueError("faults must be a JSON object")
        unknown = set(data) - {"drop_before", "drop_after", "delay_ms", "error_5xx", "down"}
        if unknown:
            raise ValueError(f"unknown fault {sorted(unknown)[0]!r}")
        rates = {}
        for name in ("drop_before", "drop_after", "error_5xx"):
            value = data.get(name, 0.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number between 0 and 1")
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
            rates[name] = float(value)
        delay = data.get("delay_ms", 0)
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= 600_000:
            raise ValueError("delay_ms must be an integer from 0 to 600000")
        down = data.get("down", False)
        if not isinstance(down, bool):
            raise ValueError("down must be true or false")
        return cls(delay_ms=delay, down=down, **rates)

    def to_json(self) -> dict[str, Any]:
        return {
            "drop_before": self.drop_before,
            "drop_after": self.drop_after,
            "delay_ms": self.delay_ms,
            "error_5xx": self.error_5xx,
            "down": self.down,
        }
