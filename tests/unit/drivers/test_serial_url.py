"""Serial device strings: `/dev/ttyUSB0?baudrate=19200` carries port settings pyserial's
serial_for_url would mistake for part of the file name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.probe.serial_devices import probe_printer
from drivers.serial_url import SerialUrlError, open_serial, split_port


def test_port_options_become_keyword_arguments() -> None:
    assert split_port("/dev/ttyUSB0?baudrate=19200&parity=e&stopbits=1&rtscts=1") == (
        "/dev/ttyUSB0",
        {"baudrate": 19200, "parity": "E", "stopbits": 1, "rtscts": True},
    )


def test_urls_are_left_to_pyserial() -> None:
    assert split_port("socket://127.0.0.1:9100?logging=debug") == (
        "socket://127.0.0.1:9100?logging=debug",
        {},
    )
    assert split_port("/dev/ttyS0") == ("/dev/ttyS0", {})


def test_a_misspelt_option_is_named_not_ignored() -> None:
    with pytest.raises(SerialUrlError, match="'baud'"):
        split_port("/dev/ttyUSB0?baud=19200")
    with pytest.raises(SerialUrlError, match="not valid"):
        split_port("/dev/ttyUSB0?baudrate=fast")


def test_probe_reports_a_bad_option_with_the_fix() -> None:
    result = probe_printer("/dev/ttyUSB0?baud=19200")
    assert not result.healthy and "unknown serial option 'baud'" in result.problem
    assert result.fix == "correct devices.printer"


def test_loopback_url_opens_through_serial_for_url() -> None:
    port = open_serial("loop://", timeout=0.1)
    try:
        port.write(b"ping")
        assert port.read(4) == b"ping"
    finally:
        port.close()


@given(st.text(max_size=60))
def test_any_device_string_parses_or_fails_with_a_sentence(text: str) -> None:
    try:
        port, options = split_port(text)
    except SerialUrlError as error:
        assert str(error)
    else:
        assert isinstance(port, str) and isinstance(options, dict)
