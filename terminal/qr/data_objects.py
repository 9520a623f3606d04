"""The EMVCo ID-length-value text format: two-digit ID, two-digit length, then the value.

Lengths count characters (Unicode code points), not bytes: "0104最佳运输" is one object of four
characters. Templates nest the same format inside a value. Reading is a pure function that
either returns every object with its position or raises `PayloadSyntaxError` saying where the
structure breaks, so a damaged code is never half-read silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from terminal.qr.errors import BuildError, PayloadSyntaxError

MAX_VALUE_LENGTH = 99
"""Two length digits: a value holds at most 99 characters."""

_ASCII_DIGITS = frozenset("0123456789")


@dataclass(frozen=True, slots=True)
class DataObject:
    """One ID-length-value object; `position` is where its ID starts in the whole payload."""

    id: str
    value: str
    position: int


def is_ascii_digits(text: str) -> bool:
    """True for a non-empty run of 0-9 only (`str.isdigit` also accepts "²" and "٣")."""
    return bool(text) and all(ch in _ASCII_DIGITS for ch in text)


def read_objects(text: str, *, offset: int = 0, parent: str = "") -> list[DataObject]:
    """Every object in `text`, in order (duplicates kept); raise where the structure breaks.

    `offset` is the position of `text` inside the whole payload and `parent` the template ID,
    so errors point at the right place ("62/05", character 142).
    """
    objects: list[DataObject] = []
    index = 0
    while index < len(text):
        where = offset + index
        head = text[index : index + 4]
        field_id = _path(parent, head[:2])
        if len(head) < 4:
            raise PayloadSyntaxError(
                f"{len(head)} stray character(s) where an ID and a length should be",
                position=where,
                field_id=_path(parent, ""),
            )
        if not is_ascii_digits(head[:2]):
            raise PayloadSyntaxError(
                f"ID {head[:2]!r} is not two digits", position=where, field_id=_path(parent, "")
            )
        if not is_ascii_digits(head[2:]):
            raise PayloadSyntaxError(
                f"length {head[2:]!r} is not two digits", position=where + 2, field_id=field_id
            )
        length = int(head[2:])
        end = index + 4 + length
        if end > len(text):
            left = len(text) - index - 4
            raise PayloadSyntaxError(
                f"length {length} runs past the end ({left} character(s) left)",
                position=where + 2,
                field_id=field_id,
            )
        objects.append(DataObject(head[:2], text[index + 4 : end], where))
        index = end
    return objects


def write_object(field_id: str, value: str) -> str:
    """One object as text; refuses IDs that are not two digits and values over 99 characters."""
    if len(field_id) != 2 or not is_ascii_digits(field_id):
        raise BuildError(f"ID {field_id!r} is not two digits")
    if len(value) > MAX_VALUE_LENGTH:
        raise BuildError(f"{field_id}: value of {len(value)} characters is over the 99 allowed")
    if not value:
        raise BuildError(f"{field_id}: an empty value cannot be written (leave the ID out)")
    return f"{field_id}{len(value):02d}{value}"


def _path(parent: str, field_id: str) -> str:
    if not parent:
        return field_id
    return f"{parent}/{field_id}" if field_id else parent
