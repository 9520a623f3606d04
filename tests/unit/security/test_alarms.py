"""Security alarms go to every listener in the process, plain details only, and a broken
listener never reaches the code that raised the alarm."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from terminal.ecr.token_alarm import WrongTokenWatch
from terminal.security import alarms


@pytest.fixture
def heard() -> Any:
    got: list[tuple[str, dict[str, Any]]] = []

    def sink(kind: str, details: Mapping[str, Any]) -> None:
        got.append((kind, dict(details)))

    stop = alarms.listen(sink)
    yield got
    stop()


def test_listeners_hear_alarms_until_they_stop(heard: list[Any]) -> None:
    alarms.raise_alarm("pin_lockout", role="supervisor", failures=3)
    assert heard == [("pin_lockout", {"role": "supervisor", "failures": 3})]


def test_only_short_plain_details_pass(heard: list[Any]) -> None:
    alarms.raise_alarm("forged_bank_answer", reason="x" * 500, body=b"raw", nested={"a": 1})  # type: ignore[arg-type]
    ((_, details),) = heard
    assert details == {"reason": "x" * alarms.MAX_DETAIL_CHARS}


def test_a_failing_listener_does_not_reach_the_caller(heard: list[Any]) -> None:
    def broken(kind: str, details: Mapping[str, Any]) -> None:
        raise RuntimeError("listener bug")

    stop = alarms.listen(broken)
    try:
        alarms.raise_alarm("ecr_bad_token_burst", refused=5)
    finally:
        stop()
    assert heard == [("ecr_bad_token_burst", {"refused": 5})]


def test_a_burst_of_wrong_tokens_is_one_alarm_until_a_quiet_window(heard: list[Any]) -> None:
    now = [0.0]
    watch = WrongTokenWatch("ecr", burst=5, window_s=60, clock=lambda: now[0])
    for _ in range(4):
        watch.refused("10.0.0.7")
        now[0] += 1
    assert heard == []  # a till with a stale token, fixed after a few tries
    for _ in range(20):
        watch.refused("10.0.0.7")
        now[0] += 1
    assert [kind for kind, _ in heard] == ["ecr_bad_token_burst"]
    assert heard[0][1]["refused"] == 5 and heard[0][1]["last_from"] == "10.0.0.7"
    now[0] += 61  # a whole window without a wrong token: the burst is over
    for _ in range(5):
        watch.refused("10.0.0.9")
    assert len(heard) == 2 and watch.alarms == 2


def test_wrong_tokens_spread_over_time_raise_nothing(heard: list[Any]) -> None:
    now = [0.0]
    watch = WrongTokenWatch("ecr", burst=5, window_s=60, clock=lambda: now[0])
    for _ in range(30):
        watch.refused(None)
        now[0] += 20  # three a minute
    assert heard == []
