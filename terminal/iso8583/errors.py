"""What can go wrong on the ISO 8583 link, one tree:

    Iso8583Error (PostermError)
     ├── DialectError     the dialect file cannot be used (names the file and the field)
     ├── MessageError     bytes are not a message of the dialect (names the field, the offset)
     │    └── FrameError  the length-prefixed framing is broken (truncated, too long)
     └── MacError         an answer's MAC is missing or does not verify (a security alarm)

Every error carries a sentence for the technician's log; none of them ever holds card data.
"""

from __future__ import annotations

from terminal.errors import PostermError


class Iso8583Error(PostermError):
    """Base of the ISO 8583 link's errors."""


class DialectError(Iso8583Error):
    """The dialect file is missing or does not describe fields the codec can use."""

    exit_code = 2


class MessageError(Iso8583Error):
    """Bytes that are not a message of the dialect, or a field value the dialect refuses."""

    def __init__(self, sentence: str, *, field: str = "", offset: int | None = None) -> None:
        super().__init__(sentence)
        self.field = field
        self.offset = offset


class FrameError(MessageError):
    """The 2-byte length prefix does not match the bytes that came with it."""


class MacError(Iso8583Error):
    """An answer whose MAC is missing or wrong: it is treated as no answer at all."""
