"""The one retry pause of the house: full-jitter exponential backoff.

Shared by the gateway client (re-sending the same message until its deadline) and the
store-and-forward queue (waiting for the link to return), so both spread their retries the
same way and a change of policy is made once. A pure function of the attempt and a random
source, as stripe-python's retry decision is.
"""

from __future__ import annotations

import random

_RNG = random.Random()


def backoff_s(
    attempt: int, *, first_s: float, max_s: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, ...): a random pause between half
    and all of min(max_s, first_s * 2^(attempt - 1)), so retries of many senders spread out."""
    ceiling = min(max_s, first_s * 2 ** min(max(attempt, 1) - 1, 30))
    return (rng or _RNG).uniform(ceiling / 2, ceiling)
