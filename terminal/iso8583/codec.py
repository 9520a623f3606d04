"""ISO 8583 messages to bytes and back, through pyiso8583 and a `Dialect`; framing; the MAC.

Pure functions. Every way bytes can fail to be a message of the dialect ends in a
`MessageError` (or `FrameError`, `MacError`) naming the field and where, never in another
exception: the host is an external input like any other.

    body = encode(Message("0200", {3: "000000", 4: "1234", ...}), dialect, mac_key)
    wire = frame(body, dialect)
    message = decode(body, dialect)          # then verify_mac(body, message, mac_key)
"""

from __future__ import annotations

import hmac
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import iso8583
from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.cmac import CMAC

from terminal.iso8583.dialect import Dialect, FieldFormat
from terminal.iso8583.errors import FrameError, MacError, MessageError

Value = str | bytes
MAC_LENGTH = 8

_CHARSETS = {
    "n": frozenset(string.digits),
    "z": frozenset(string.digits + "="),
    "an": frozenset(string.ascii_letters + string.digits + " "),
    "ans": frozenset(chr(c) for c in range(0x20, 0x7F)),
}


@dataclass(frozen=True, slots=True)
class Message:
    """An MTI and its data elements: text for n/an/ans/z fields, bytes for b fields."""

    mti: str
    fields: Mapping[int, Value] = field(default_factory=dict)

    def text(self, number: int) -> str:
        """A text field as sent (padding stripped from an/ans), or "" when absent."""
        value = self.fields.get(number, "")
        return value.strip() if isinstance(value, str) else value.hex()

    def with_fields(self, mti: str | None = None, **changes: Value | None) -> Message:
        """A copy with another MTI and fields set (f39="00") or dropped (f64=None)."""
        fields = dict(self.fields)
        for key, value in changes.items():
            number = int(key.removeprefix("f"))
            if value is None:
                fields.pop(number, None)
            else:
                fields[number] = value
        return Message(mti or self.mti, fields)

    def __repr__(self) -> str:  # never card data, even in a traceback
        return f"Message({self.mti!r}, fields={sorted(self.fields)})"


def mac_field(numbers: Iterable[int]) -> int:
    """F128 when the message has a secondary bitmap (a field above 64), else F64."""
    return 128 if any(n > 64 and n != 128 for n in numbers) else 64


def _check_value(fmt: FieldFormat, value: Value) -> str:
    """The value as pyiso8583 takes it (hex for b), padded to a fixed length."""
    where = f"field {fmt.number}"
    if fmt.kind == "b":
        if not isinstance(value, bytes):
            raise MessageError(f"{where} must be bytes", field=str(fmt.number))
        if (fmt.fixed and len(value) != fmt.length) or len(value) > fmt.length:
            raise MessageError(
                f"{where} is {len(value)} bytes; the dialect says {fmt.length}",
                field=str(fmt.number),
            )
        return value.hex().upper()
    if not isinstance(value, str):
        raise MessageError(f"{where} must be text", field=str(fmt.number))
    if not set(value) <= _CHARSETS[fmt.kind]:
        raise MessageError(
            f"{where} holds characters type {fmt.kind} forbids", field=str(fmt.number)
        )
    if fmt.fixed:
        if fmt.kind == "n":
            value = value.rjust(fmt.length, "0")
        else:
            value = value.ljust(fmt.length)
    if len(value) > fmt.length or (fmt.fixed and len(value) != fmt.length):
        raise MessageError(
            f"{where} is {len(value)} long; the dialect allows {fmt.length}", field=str(fmt.number)
        )
    return value


def encode(message: Message, dialect: Dialect, mac_key: bytes | None = None) -> bytes:
    """The message's bytes (without the length prefix); with `mac_key`, the MAC in F64/F128.

    Raises MessageError for an MTI, field or value the dialect does not allow."""
    if len(message.mti) != 4 or not message.mti.isdigit() or not message.mti.isascii():
        raise MessageError("the MTI must be 4 digits", field="t")
    fields = {n: v for n, v in message.fields.items() if n not in (64, 128)}
    if mac_key is not None:
        fields[mac_field(fields)] = bytes(MAC_LENGTH)
    doc: dict[str, str] = {"t": message.mti}
    for number, value in fields.items():
        fmt = dialect.fields.get(number)
        if fmt is None:
            raise MessageError(
                f"field {number} is not in dialect {dialect.name}", field=str(number)
            )
        doc[str(number)] = _check_value(fmt, value)
    try:
        raw, _ = iso8583.encode(doc, dict(dialect.spec))
    except iso8583.EncodeError as error:
        raise MessageError(f"cannot encode: {error}", field=str(error.field)) from None
    body = bytes(raw)
    if mac_key is not None:
        body = body[:-MAC_LENGTH] + mac_of(body[:-MAC_LENGTH], mac_key)
    return body


def decode(data: bytes, dialect: Dialect) -> Message:
    """The message in `data` (one frame's body). Raises MessageError saying which field."""
    try:
        doc, _ = iso8583.decode(bytes(data), dict(dialect.spec))
    except iso8583.DecodeError as error:
        raise MessageError(
            f"not a message of dialect {dialect.name}: {error.msg} "
            f"(field {error.field}, offset {error.pos})",
            field=str(error.field),
            offset=error.pos,
        ) from None
    except KeyError as error:  # a bitmap bit for a field the dialect does not define
        raise MessageError(
            f"the bitmap announces field {error.args[0]}, which dialect {dialect.name} "
            "does not define",
            field=str(error.args[0]),
        ) from None
    mti = str(doc.get("t", ""))
    if len(mti) != 4 or not mti.isdigit() or not mti.isascii():
        raise MessageError(f"the MTI {mti!r} is not 4 digits", field="t", offset=0)
    fields: dict[int, Value] = {}
    for key, value in doc.items():
        if not key.isdigit() or key == "1":
            continue
        fmt = dialect.fields[int(key)]
        if fmt.kind == "b":
            fields[fmt.number] = bytes.fromhex(value)
            continue
        if not set(value) <= _CHARSETS[fmt.kind]:
            raise MessageError(
                f"field {key} holds characters its type {fmt.kind} forbids "
                "(a wrong-length field before it?)",
                field=key,
            )
        fields[fmt.number] = value
    return Message(mti, fields)


def mac_of(data: bytes, key: bytes) -> bytes:
    """AES-CMAC (NIST SP 800-38B) of `data`, first 8 bytes."""
    try:
        cmac = CMAC(AES(key))
    except (ValueError, InvalidKey) as error:
        raise MacError(f"the MAC key is not an AES key: {error}") from None
    cmac.update(data)
    return cmac.finalize()[:MAC_LENGTH]


def verify_mac(body: bytes, message: Message, key: bytes) -> None:
    """Check an answer's MAC (in its F64 or F128, the last 8 bytes). Raises MacError."""
    number = mac_field(message.fields)
    sent = message.fields.get(number)
    if not isinstance(sent, bytes) or len(sent) != MAC_LENGTH or body[-MAC_LENGTH:] != sent:
        raise MacError(f"the answer {message.mti} carries no MAC in field {number}")
    other = 64 if number == 128 else 128
    if other in message.fields:
        raise MacError(f"the answer {message.mti} carries a MAC in field {other} as well")
    if not hmac.compare_digest(mac_of(body[:-MAC_LENGTH], key), sent):
        raise MacError(f"the MAC of answer {message.mti} does not verify")


# -- framing ---------------------------------------------------------------------------------
def frame(body: bytes, dialect: Dialect) -> bytes:
    """`body` behind its big-endian length prefix."""
    limit = 1 << (8 * dialect.length_prefix)
    if len(body) >= limit:
        raise FrameError(f"a message of {len(body)} bytes does not fit the length prefix")
    return len(body).to_bytes(dialect.length_prefix, "big") + body


def unframe(data: bytes, dialect: Dialect) -> tuple[bytes, bytes]:
    """(the first frame's body, the bytes after it). Raises FrameError when `data` holds
    less than the prefix announces (a truncated frame) or an empty frame."""
    width = dialect.length_prefix
    if len(data) < width:
        raise FrameError(f"a truncated frame: {len(data)} bytes, not even the length prefix")
    size = int.from_bytes(data[:width], "big")
    if size == 0:
        raise FrameError("an empty frame (length prefix 0)")
    if len(data) - width < size:
        raise FrameError(
            f"the length prefix announces {size} bytes but only {len(data) - width} came"
        )
    return data[width : width + size], data[width + size :]
