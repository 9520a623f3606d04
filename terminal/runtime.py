"""Process-wide runtime tuning, for a process that owns its whole runtime (the gateway
simulator). The payment engine no longer calls it: a library must not change the
interpreter's switch interval for everything else in its process (the Textual screen, the
ECR server), and with the answers now recorded in group commits off the request path the
gain is gone. Measured on the 500-advice backlog drain, 8 alternating runs each on the shared
2-core machine: median 295 advices/s at CPython's default 5 ms, 288/s at 0.5 ms (spread
140-428 and 218-378: noise, no gain).

Why it was added (fb27216): both processes ran one busy asyncio loop plus worker threads that
commit to SQLite (the journal's group commits, the simulator's commit thread). A worker that
returns from its fsync must win the GIL back from the loop, and CPython lets the holder keep it
for the whole switch interval (5 ms by default) before handing it over. Under a backlog that
wait, not the disk, set the pace then: each journal write took ~7 ms for a 0.4 ms fsync
(5,000-advice drain). A 0.5 ms interval lets the committing thread back in promptly.
"""

from __future__ import annotations

import sys

GIL_SWITCH_INTERVAL_S = 0.0005


def tune_for_commit_threads() -> None:
    """Shorten the GIL switch interval (never lengthen one someone set shorter)."""
    if sys.getswitchinterval() > GIL_SWITCH_INTERVAL_S:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
