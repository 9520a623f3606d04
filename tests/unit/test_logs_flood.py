"""A flood of identical log records (finding 5: 166,817 "Too many open files" records, 74 MB in
40 s) becomes a few lines and a count, without hiding anything else."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from terminal.logs import RepeatLimitFilter, configure_logging


class Log:
    """The terminal's own log handler, writing to a string, with a clock the test moves."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.now = 1000.0
        self.capsys = capsys

    def __call__(self) -> float:
        return self.now

    def lines(self) -> list[str]:
        """What reached stderr since the last look (the handler writes to the current one)."""
        return self.capsys.readouterr().err.splitlines()


@pytest.fixture
def log(capsys: pytest.CaptureFixture[str]) -> Iterator[Log]:
    handler = configure_logging("INFO", target="stderr")
    assert isinstance(handler, logging.StreamHandler)
    captured = Log(capsys)
    limit = next(f for f in handler.filters if isinstance(f, RepeatLimitFilter))
    limit.clock = captured
    try:
        yield captured
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def accept_failed(times: int) -> None:
    for _ in range(times):
        logging.getLogger("asyncio").error("socket.accept() failed: [Errno 24] Too many open files")


def test_a_flood_from_one_place_is_cut_and_counted(log: Log) -> None:
    accept_failed(10_000)
    lines = log.lines()
    assert len(lines) == 20 and all("Too many open files" in line for line in lines)

    log.now += 10.5
    accept_failed(1)
    (summary,) = log.lines()
    assert "Too many open files (9980 more like this were dropped" in summary


def test_other_records_still_get_through_during_a_flood(log: Log) -> None:
    accept_failed(500)
    logging.getLogger("terminal.payment").info("sale %s approved", "T-1")
    accept_failed(500)
    logging.getLogger("terminal.payment").info("sale %s approved", "T-2")
    err = "\n".join(log.lines())
    assert "sale T-1 approved" in err and "sale T-2 approved" in err
    assert err.count("Too many open files") == 20


def test_the_count_line_is_still_pan_masked(log: Log) -> None:
    def refused(times: int) -> None:
        for _ in range(times):
            logging.getLogger("terminal.test").warning("card %s refused", "4111111111111111")

    refused(25)
    log.now += 11
    refused(1)
    err = "\n".join(log.lines())
    assert "4111111111111111" not in err
    assert "411111******1111 refused (5 more like this were dropped" in err
