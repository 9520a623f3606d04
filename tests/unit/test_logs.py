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
