"""`terminal.process_guard` under the limits a systemd unit sets. Each case runs in a child
process: the guard changes process-wide state that must not leak into the test run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CHILD = """
import json, logging, resource, sys
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
calls = []
if {refuse_setrlimit}:
    def refused(*args):  # what SystemCallFilter=~@resources with SystemCallErrorNumber=EPERM does
        calls.append(args)
        raise PermissionError(1, "Operation not permitted")
    resource.setrlimit = refused
from terminal import process_guard
process_guard.forbid_core_dumps()
print(json.dumps({{
    "dumpable": process_guard.is_dumpable(),
    "core": resource.getrlimit(resource.RLIMIT_CORE),
    "setrlimit_calls": len(calls),
}}))
"""


def guard(ulimit: str, *, refuse_setrlimit: bool) -> tuple[dict[str, object], str]:
    script = CHILD.format(refuse_setrlimit=refuse_setrlimit)
    done = subprocess.run(
        ["bash", "-c", f'{ulimit} && exec "$0" -c "$1"', sys.executable, script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "cannot modify limit" in done.stderr:
        # An in-process `main()` earlier in this run set the runner's own hard limit to 0.
        pytest.skip("only root can raise this test run's core limit again")
    assert done.returncode == 0, done.stderr
    answer: dict[str, object] = json.loads(done.stdout)
    return answer, done.stderr


def test_guard_lowers_a_raised_core_limit_and_clears_dumpable() -> None:
    state, _ = guard("ulimit -c 4096", refuse_setrlimit=False)
    assert state == {"dumpable": False, "core": [0, 0], "setrlimit_calls": 0}


def test_under_limitcore_zero_the_forbidden_setrlimit_is_not_called() -> None:
    # LimitCORE=0 in the unit: the limit is already (0, 0) and setrlimit would be refused.
    state, log = guard("ulimit -c 0 && ulimit -H -c 0", refuse_setrlimit=True)
    assert state == {"dumpable": False, "core": [0, 0], "setrlimit_calls": 0}
    assert "core size limit" not in log


def test_a_refused_setrlimit_is_a_warning_and_dumps_stay_off() -> None:
    state, log = guard("ulimit -c 4096", refuse_setrlimit=True)
    assert state["dumpable"] is False and state["setrlimit_calls"] == 1
    assert "could not set the core size limit to 0" in log
