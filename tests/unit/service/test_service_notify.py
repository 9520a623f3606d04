"""systemd notifications over $NOTIFY_SOCKET: READY=1, STATUS=, and a watchdog fed from the
event loop (a real AF_UNIX datagram socket stands in for systemd)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.service.notify import ServiceNotifier, watchdog_task


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(2)
    yield sock
    sock.close()


def messages(sock: socket.socket) -> list[str]:
    found = []
    sock.setblocking(False)
    try:
        while True:
            found.append(sock.recv(4096).decode())
    except BlockingIOError:
        return found
    finally:
        sock.setblocking(True)


def test_ready_and_status_reach_the_service_manager(manager: socket.socket) -> None:
    notifier = ServiceNotifier({"NOTIFY_SOCKET": manager.getsockname()})
    assert notifier.ready("journal open, gateway online")
    assert manager.recv(4096) == b"READY=1\nSTATUS=journal open, gateway online"
    assert notifier.stopping()
    assert manager.recv(4096) == b"STOPPING=1"


def test_abstract_socket_names_are_supported() -> None:
    name = f"posterm-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        assert ServiceNotifier({"NOTIFY_SOCKET": "@" + name}).watchdog()
        assert sock.recv(100) == b"WATCHDOG=1"


def test_outside_systemd_every_call_is_a_harmless_no() -> None:
    notifier = ServiceNotifier({})
    assert not notifier.enabled and not notifier.ready() and notifier.watchdog_s is None


def test_watchdog_interval_applies_only_to_this_process() -> None:
    assert ServiceNotifier({"WATCHDOG_USEC": "30000000"}).watchdog_s == 30.0
    mine = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    assert ServiceNotifier(mine).watchdog_s == 30.0
    other = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert ServiceNotifier(other).watchdog_s is None


async def test_watchdog_is_fed_at_half_the_interval_while_healthy(manager) -> None:
    notifier = ServiceNotifier({"NOTIFY_SOCKET": manager.getsockname(), "WATCHDOG_USEC": "200000"})
    task = asyncio.create_task(watchdog_task(notifier))
    await asyncio.sleep(0.35)
    task.cancel()
    fed = messages(manager)
    assert 3 <= len(fed) <= 5 and set(fed) == {"WATCHDOG=1"}


async def test_watchdog_starves_when_unhealthy_so_systemd_restarts(manager) -> None:
    notifier = ServiceNotifier({"NOTIFY_SOCKET": manager.getsockname(), "WATCHDOG_USEC": "100000"})
    task = asyncio.create_task(watchdog_task(notifier, healthy=lambda: False))
    await asyncio.sleep(0.2)
    task.cancel()
    assert messages(manager) == []


async def test_a_blocked_event_loop_stops_feeding_the_watchdog(manager) -> None:
    import time

    notifier = ServiceNotifier({"NOTIFY_SOCKET": manager.getsockname(), "WATCHDOG_USEC": "100000"})
    task = asyncio.create_task(watchdog_task(notifier))
    await asyncio.sleep(0.01)
    messages(manager)
    time.sleep(0.3)  # the loop is stuck: nothing may be sent meanwhile
    assert messages(manager) == []
    task.cancel()
