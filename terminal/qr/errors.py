"""What can go wrong with a QR payment code, as typed errors with operator sentences.

    QrError                    every problem with a scanned or built code (exit code 2)
    ├── PayloadSyntaxError     the ID-length-value text cannot be read; `position` and `field_id`
    ├── CrcError               the CRC (ID 63) is missing, misplaced or does not match
    ├── RuleError              the strict validator found broken EMVCo rules; `problems` lists them
    ├── BuildError             a merchant-presented code cannot be built from these values
    ├── CpmError               a consumer-presented code (base64 BER-TLV) cannot be read
    └── NotAPaymentCode        the text is no payment code at all (a URL, random text)

Every error carries `sentence` for the operator; the codecs raise nothing else on bad input.
"""

from __future__ import annotations

from dataclasses import dataclass

from terminal.errors import PostermError


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule in a payload, named by its ID path (e.g. "62/05")."""

    field_id: str
    message: str
    tolerated: bool = False
    """A bend real-world codes commonly carry (lower-case CRC hex, over-long name, emoji,
    missing mandatory tag): the lenient reader reports it as a warning, strict as an error."""

    def __str__(self) -> str:
        return f"{self.field_id}: {self.message}" if self.field_id else self.message


class QrError(PostermError):
    """Base of every QR code error; a bad code is the input's fault, hence exit code 2."""

    exit_code = 2


class PayloadSyntaxError(QrError):
    """The ID-length-value structure breaks at `position` (0-based, in characters)."""

    def __init__(self, message: str, *, position: int, field_id: str = "") -> None:
        where = f"{field_id}: " if field_id else ""
        super().__init__(f"{where}{message} (at character {position})")
        self.message = message
        self.position = position
        self.field_id = field_id


class CrcError(QrError):
    """The checksum proves the code was damaged or altered: never pay from it."""


class RuleError(QrError):
    """The payload breaks EMVCo rules; each problem is named by its ID."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("the QR code breaks EMVCo rules: " + "; ".join(str(p) for p in problems))
        self.problems = problems


class BuildError(QrError):
    """A merchant-presented code cannot be made from the given values."""


class CpmError(QrError):
    """A consumer-presented code cannot be read."""


class NotAPaymentCode(QrError):
    """The scanned text is not a payment code (a web address, a product code, random text)."""
