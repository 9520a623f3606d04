"""No PAN or track data reaches a log line, whatever the caller passes."""

from __future__ import annotations

import io
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.logs import PanMaskingFilter, StructuredFormatter
from terminal.security.pan import luhn_valid, mask_pan, redact_text


@pytest.fixture
def captured() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(StructuredFormatter())
    handler.addFilter(PanMaskingFilter())
    logger = logging.getLogger("test.pan")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_pan_in_message_args_is_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("card %s read", "4111111111111111")
    assert "4111111111111111" not in stream.getvalue()
    assert "411111******1111" in stream.getvalue()


def test_grouped_pan_and_extra_fields_are_masked(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.warning("pan 5555 5555 5555 4444", extra={"card": "5555-5555-5555-4444"})
    text = stream.getvalue()
    assert "5555 5555 5555 4444" not in text and "5555-5555-5555-4444" not in text
    assert "555555******4444" in text


def test_track2_is_removed(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.error("track2=4761739001010010D22122011143804400000F")
    assert "4761739001010010" not in stream.getvalue()
    assert "<track data>" in stream.getvalue()


def test_pan_inside_exception_trace_is_masked(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    try:
        raise ValueError("bad card 4111111111111111")
    except ValueError:
        logger.exception("failed")
    assert "4111111111111111" not in stream.getvalue()


def test_non_luhn_numbers_are_left_alone() -> None:
    assert redact_text("order 1234567890123") == "order 1234567890123"


def test_mask_pan_keeps_six_and_four() -> None:
    assert mask_pan("4111111111111111") == "411111******1111"


@given(st.text(alphabet="0123456789", min_size=13, max_size=19), st.text(max_size=20))
def test_no_luhn_valid_pan_survives_redaction(digits: str, noise: str) -> None:
    text = f"{noise} {digits} {noise}"
    if luhn_valid(digits):
        assert digits not in redact_text(text)


# The answer to READ RECORD and GPO of the visa-credit test card, as nfcpy logs them at DEBUG:
# the PAN (5A) and track 2 (57) are BCD inside one hex run, where no digit mask sees them.
_RECORD = "03701b5a0847617390010100105f24033012315f25032001015f280202769000"
_GPO = "0277448202200094040801010057114761739001010010d301220100000000005f340101"


def test_nfcpy_frame_dumps_lose_card_data(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    frames = logging.getLogger("nfc.clf")
    frames.handlers = logger.handlers
    frames.propagate = False
    frames.setLevel(logging.DEBUG)
    try:
        frames.debug("<<< %s %.3fs", _RECORD, 0.003)
        frames.debug("<< %s", _GPO)
        frames.debug(">>> %s timeout=%s", "0300b2010c00", 0.08)
    finally:
        frames.handlers = []
        frames.propagate = True
    text = stream.getvalue()
    assert "4761739001010010" not in text and "761739001010010" not in text
    assert "0370…9000 (32 bytes)" in text  # the technician still sees tag, SW and length
    assert "0300b2010c00" in text  # short commands stay readable


def test_hex_of_other_loggers_is_kept(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    logger.info("audit head %s", digest)
    assert digest in stream.getvalue()
