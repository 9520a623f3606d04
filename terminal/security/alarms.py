"""Security alarms: a forged bank answer, a bank certificate that did not verify, a burst of
wrong ECR tokens, a PIN lockout. Raised where they are seen (a bank adapter, an ECR door, the
PIN guard) and handed to whoever listens in this process (the fleet reporter publishes them on
`.../events`).

The places that raise an alarm know nothing of who listens: the payment core and the doors
import this module only, never the fleet package (tests/unit/test_import_rules.py). An alarm
carries its kind and a few plain details (ids, counts, a reason); it never carries card data,
a key, a token or a PIN, and `raise_alarm` refuses any other detail than a short scalar so
that a careless caller cannot leak one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Literal

log = logging.getLogger(__name__)

AlarmKind = Literal[
    "forged_bank_answer",
    "bank_certificate_untrusted",
    "ecr_bad_token_burst",
    "pin_lockout",
]
Detail = str | int | float | bool
Sink = Callable[[AlarmKind, Mapping[str, Detail]], None]

MAX_DETAIL_CHARS = 200
"""A detail is a short sentence or an id, never a message body."""

_sinks: list[Sink] = []
_lock = threading.Lock()


def listen(sink: Sink) -> Callable[[], None]:
    """Call `sink` for every alarm raised in this process (from any thread) until the
    returned function is called."""
    with _lock:
        _sinks.append(sink)

    def stop() -> None:
        with _lock:
            if sink in _sinks:
                _sinks.remove(sink)

    return stop


def raise_alarm(kind: AlarmKind, **details: Detail) -> None:
    """Tell every listener; never raises (an alarm must not break the sale that saw it)."""
    plain = {
        key: value[:MAX_DETAIL_CHARS] if isinstance(value, str) else value
        for key, value in details.items()
        if isinstance(value, (str, int, float, bool))
    }
    with _lock:
        sinks = list(_sinks)
    for sink in sinks:
        try:
            sink(kind, plain)
        except Exception:  # a listener's bug must not reach the payment that saw the alarm
            log.exception("a security alarm listener failed on %s", kind)
