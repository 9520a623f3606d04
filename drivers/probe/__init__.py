"""Self-tests a technician runs on the configured hardware (`posterm devices probe`).

Each probe opens one device from its device string with the hardware library directly (nfcpy,
OpenCV, pyserial), exercises it briefly and returns a `ProbeResult`: was it found, could it be
opened, what the self-test saw, and, when something failed, the problem and the fix in words a
technician acts on. Probes never raise for a device fault: a broken device is a result, not a
crash. They import nothing from `terminal/`, so the same functions serve the CLI, the operator
screen's status bar and hardware tests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a probe found out about one configured device."""

    kind: str
    """reader, camera, printer, display or gateway."""
    device: str
    """The device string as configured (nfcpy path, camera index/file, pyserial URL, URL)."""
    found: bool | None
    """Something exists at that path (None: not configured)."""
    opened: bool | None
    """The library could open it (None: not tried)."""
    self_test: str
    """What the self-test did and saw, one sentence."""
    healthy: bool
    """Ready for payments as configured."""
    problem: str = ""
    """What is wrong, when not healthy."""
    fix: str = ""
    """What the technician should do about it."""
    details: dict[str, Any] = field(default_factory=dict)
    """Measured figures (resolution, fps, status bits, latency, ...)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def working(
    kind: str, device: str, self_test: str, details: dict[str, Any] | None = None
) -> ProbeResult:
    """The result for a device found, opened and passing its self-test."""
    return ProbeResult(
        kind=kind,
        device=device,
        found=True,
        opened=True,
        self_test=self_test,
        healthy=True,
        details=details or {},
    )


def failed(
    kind: str,
    device: str,
    *,
    found: bool | None,
    problem: str,
    fix: str,
    opened: bool = False,
    details: dict[str, Any] | None = None,
) -> ProbeResult:
    """The result for a device that is not ready: what is wrong and what to do about it."""
    return ProbeResult(
        kind=kind,
        device=device,
        found=found,
        opened=opened,
        self_test="not run",
        healthy=False,
        problem=problem,
        fix=fix,
        details=details or {},
    )


def not_configured(kind: str, setting: str) -> ProbeResult:
    """The result for a device set to "none": nothing to check, nothing wrong."""
    return ProbeResult(
        kind=kind,
        device="none",
        found=None,
        opened=None,
        self_test=f'not configured ({setting} = "none")',
        healthy=True,
    )
