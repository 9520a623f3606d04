"""A burst of requests with a missing or wrong ECR token is a security alarm.

One till with a stale token after an update fails a few times and someone fixes it; a program
guessing the token fails many times a minute. `BURST` refusals within `WINDOW_S` raise one
alarm (terminal/security/alarms.py, which the fleet publishes); the next burst is reported
again only after `WINDOW_S` without a refusal, so a long attack is one alarm, not thousands.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from terminal.security.alarms import raise_alarm

BURST = 5
WINDOW_S = 60.0


class WrongTokenWatch:
    """Counts refused tokens and raises `ecr_bad_token_burst` once per burst."""

    def __init__(
        self,
        door: str,
        *,
        burst: int = BURST,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.door = door
        self.burst = burst
        self.window_s = window_s
        self.clock = clock
        self._recent: deque[float] = deque()
        self._in_burst = False
        self._last: float | None = None
        self.alarms = 0

    def refused(self, remote: str | None) -> None:
        """A request of `remote` (its IP address) was refused for its token."""
        now = self.clock()
        if self._last is not None and now - self._last > self.window_s:
            self._in_burst = False  # quiet for a whole window: the burst is over
        self._last = now
        self._recent.append(now)
        while self._recent and now - self._recent[0] > self.window_s:
            self._recent.popleft()
        if self._in_burst or len(self._recent) < self.burst:
            return
        self._in_burst = True
        self.alarms += 1
        raise_alarm(
            "ecr_bad_token_burst",
            door=self.door,
            refused=len(self._recent),
            window_s=int(self.window_s),
            last_from=remote or "unknown",
        )
