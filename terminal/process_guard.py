"""Keep card data and keys out of core dumps.

A crashing posterm process would otherwise leave its memory on disk: an assessor's SIGSEGV
core held the full PAN, track 2, the signing key and the machine secret. Every `posterm`
command calls `forbid_core_dumps()` first, which closes both doors the kernel checks:

- `prctl(PR_SET_DUMPABLE, 0)`: the kernel writes no core at all (whatever `core_pattern` says,
  a pipe to systemd-coredump included, which ignores RLIMIT_CORE), and processes of the same
  user can no longer ptrace us or read `/proc/<pid>/mem`. The flag is reset by `execve`, so
  programs we start are covered by the next point only.
- `RLIMIT_CORE = (0, 0)`: no core file for us or our children; the hard limit cannot be raised
  again without privilege. Under systemd `LimitCORE=0` has set it already and the unit's
  `SystemCallFilter=~@resources` forbids `setrlimit`, so the call is skipped when the limit is
  already zero.
"""

from __future__ import annotations

import ctypes
import logging
import resource
import sys
from collections.abc import Callable

log = logging.getLogger(__name__)

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4


def forbid_core_dumps() -> None:
    """Make this process (and what it starts) leave no core dump; never raises."""
    _limit_core_size()
    _clear_dumpable()


def is_dumpable() -> bool | None:
    """The kernel's dumpable flag for this process (None where prctl is unavailable)."""
    prctl = _prctl()
    if prctl is None:
        return None
    return bool(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))


def _limit_core_size() -> None:
    try:
        if resource.getrlimit(resource.RLIMIT_CORE) == (0, 0):
            return
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (OSError, ValueError) as error:
        log.warning("could not set the core size limit to 0 (%s); core dumps stay possible", error)


def _clear_dumpable() -> None:
    prctl = _prctl()
    if prctl is None:
        log.debug(
            "prctl is unavailable on %s: only the core size limit keeps dumps off", sys.platform
        )
        return
    if prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        log.warning(
            "prctl(PR_SET_DUMPABLE, 0) failed (errno %d); only the core size limit keeps dumps off",
            ctypes.get_errno(),
        )


def _prctl() -> Callable[..., int] | None:
    """libc's prctl, looked up in the running program (no `find_library`: it forks ldconfig)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_int
    function.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    return function  # type: ignore[no-any-return]
