"""The card side of ISO-DEP, frame by frame: what a reader sends, what the card answers."""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.card.isodep import IsoDepParameters, IsoDepTarget

RATS = b"\xe0\x80"


class Reader:
    """Plays the reader: hands the card the next frame, records what the card sent."""

    def __init__(self, frames: list[bytes]) -> None:
        self.frames: Iterator[bytes] = iter(frames)
        self.sent: list[bytes | None] = []

    def exchange(self, frame: bytes | None, timeout: float) -> bytes | None:
        self.sent.append(frame)
        if timeout == 0:
            return None
        try:
            return next(self.frames)
        except StopIteration:
            raise TimeoutError("no data received") from None


def echo(apdu: bytes) -> bytes:
    return apdu + b"\x90\x00"


def session(frames: list[bytes], **params: int) -> tuple[str, Reader]:
    reader = Reader(frames)
    target = IsoDepTarget(reader.exchange, echo, IsoDepParameters(**params), idle_timeout=0.1)
    return target.run(RATS), reader


def test_ats_carries_frame_size_and_waiting_time() -> None:
    _, reader = session([])
    assert reader.sent[0] == bytes.fromhex("0578808000")  # FSCI 8, TA, TB: FWI 8, TC


def test_i_block_is_answered_with_the_same_block_number_then_deselect() -> None:
    reason, reader = session([b"\x02\x00\xa4", b"\x03\x00\xb2", b"\xc2"])
    assert reader.sent[1:] == [b"\x02\x00\xa4\x90\x00", b"\x03\x00\xb2\x90\x00", b"\xc2"]
    assert reason == "deselected"


def test_chained_command_is_acknowledged_and_joined() -> None:
    _, reader = session([b"\x12\x80\xa8", b"\x03\x00\x00", b"\xc2"])
    assert reader.sent[1] == b"\xa2"  # R(ACK) for block 0
    assert reader.sent[2] == b"\x03\x80\xa8\x00\x00\x90\x00"


def test_long_answer_is_chained_until_the_reader_acknowledges_each_part() -> None:
    _, reader = session([b"\x02" + bytes(10), b"\xa3", b"\xa2", b"\xc2"], max_inf=4)
    assert reader.sent[1:4] == [
        b"\x12" + bytes(4),
        b"\x13" + bytes(4),
        b"\x02" + bytes(2) + b"\x90\x00",
    ]


def test_nak_for_the_last_block_retransmits_it_and_a_presence_check_gets_an_ack() -> None:
    _, reader = session([b"\x02\x01", b"\xb2", b"\xb3", b"\xc2"])
    assert reader.sent[2] == reader.sent[1] == b"\x02\x01\x90\x00"  # NAK 0: same block again
    assert reader.sent[3] == b"\xa2"  # NAK 1 (presence check): "still here"


def test_card_that_leaves_the_field_stops_answering() -> None:
    reader = Reader([b"\x02\x00\xa8"])
    target = IsoDepTarget(reader.exchange, lambda _: None, IsoDepParameters(), idle_timeout=0.1)
    assert target.run(RATS) == "left-field"
    assert len(reader.sent) == 1  # only the ATS


def test_failing_application_answers_no_precise_diagnosis() -> None:
    def broken(apdu: bytes) -> bytes:
        raise RuntimeError("bug")

    reader = Reader([b"\x02\x00\xa8", b"\xc2"])
    IsoDepTarget(reader.exchange, broken, IsoDepParameters(), idle_timeout=0.1).run(RATS)
    assert reader.sent[1] == b"\x02\x6f\x00"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=20), max_size=12), st.integers(1, 253))
def test_any_frames_from_a_reader_end_the_session_cleanly(
    frames: list[bytes], max_inf: int
) -> None:
    reason, reader = session(frames, max_inf=max_inf)
    assert reason in {"deselected", "reset", "idle", "left-field", "field-off"}
    assert all(frame is None or len(frame) >= 1 for frame in reader.sent)
