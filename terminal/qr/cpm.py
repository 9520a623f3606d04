"""Consumer-presented codes (EMVCo QRCPS-CPM): base64 of BER-TLV shown by the customer's wallet.

Layout: `85` payload format indicator "CPV01", then one or more `61` application templates
(4F AID mandatory; 50, 57, 5A, 5F20, 9F26, 9F27, 9F36, 9F10, 9F37, 9F19, 9F24, 9F25, ...),
optionally `62` common data and `63`/`64` transparent templates. Every application template is
kept, in order. Card numbers inside (5A, 57) are masked in everything this module shows; the
clear code only ever travels to the gateway inside a JWE. The BER-TLV decoding is the EMV
kernel's (`terminal.emv.tlv`), so card answers and QR codes follow the same rules.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from terminal.emv.errors import TlvError
from terminal.emv.tlv import Tlv, decode
from terminal.qr.errors import CpmError
from terminal.security.pan import mask_pan

FORMAT_INDICATOR = b"CPV01"
TOP_LEVEL_TAGS = frozenset({"85", "61", "62", "63", "64"})
_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")
MAX_CODE_LENGTH = 4096
"""A QR code holds at most ~4300 characters; anything longer is not from a camera."""


@dataclass(frozen=True, slots=True)
class CpmApplication:
    """One `61` application template, as the operator and the receipt may see it."""

    aid: str
    label: str
    masked_pan: str
    tags: Mapping[str, str]
    """Primitive tags of the template as hex (5A and 57 masked)."""


@dataclass(frozen=True, slots=True)
class ConsumerCode:
    """A readable consumer-presented code."""

    text: str
    applications: tuple[CpmApplication, ...]
    fields: Mapping[str, Any]
    """JSON form: tags to hex, templates to objects, repeated templates to lists (masked)."""
    warnings: tuple[str, ...] = ()

    @property
    def masked_pan(self) -> str:
        """The first application's card number, masked (empty for token-only codes)."""
        return self.applications[0].masked_pan


def looks_like_consumer_code(text: str) -> bool:
    """Base64 that starts with the bytes 85 05 "CPV01" ("hQVDUFYwMQ")."""
    return text.strip().startswith("hQVDUFYwMQ")


def parse_consumer_code(text: str) -> ConsumerCode:
    """Read a CPM code; raises `CpmError` saying what is wrong."""
    data = _base64(text)
    try:
        objects = decode(data)
    except TlvError as error:
        raise CpmError(
            f"the consumer-presented code is damaged: {error.reason} at byte {error.offset}"
        ) from None
    if not objects or objects[0].tag != "85":
        raise CpmError("not a consumer-presented code: it must start with tag 85 (CPV01)")
    if objects[0].value != FORMAT_INDICATOR:
        shown = objects[0].value.decode("ascii", "replace")
        raise CpmError(f"unsupported consumer-presented format {shown!r}: only CPV01 is known")
    warnings: list[str] = []
    applications: list[CpmApplication] = []
    common = next((obj for obj in objects if obj.tag == "62" and obj.constructed), None)
    common_pan = _pan_digits({c.tag: c.value for c in _flatten(common)}) if common else ""
    for obj in objects[1:]:
        if obj.tag not in TOP_LEVEL_TAGS:
            warnings.append(f"{obj.tag}: not a consumer-presented top-level tag")
        if obj.tag in ("61", "62", "63", "64") and not obj.constructed:
            raise CpmError(f"tag {obj.tag} must be a template")
        if obj.tag == "85":
            raise CpmError("tag 85 appears more than once")
        if obj.tag == "61":
            applications.append(_application(obj, len(applications) + 1, common_pan))
    if not applications:
        raise CpmError("the consumer-presented code has no application template (tag 61)")
    return ConsumerCode(text.strip(), tuple(applications), _json(objects), tuple(warnings))


def _base64(text: str) -> bytes:
    stripped = text.strip()
    if not stripped:
        raise CpmError("the code is empty")
    if len(stripped) > MAX_CODE_LENGTH:
        raise CpmError(f"the code is {len(stripped)} characters long, too long for a QR code")
    if not set(stripped) <= _B64_CHARS:
        raise CpmError("not a consumer-presented code: not base64 text")
    padded = stripped.replace("-", "+").replace("_", "/").rstrip("=")
    padded += "=" * (-len(padded) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise CpmError("not a consumer-presented code: broken base64 text") from None


def _application(obj: Tlv, number: int, common_pan: str) -> CpmApplication:
    tags: dict[str, str] = {}
    raw: dict[str, bytes] = {}
    for child in _flatten(obj):
        if child.tag not in raw:
            raw[child.tag] = child.value
            tags[child.tag] = _shown_hex(child.tag, child.value)
    aid = raw.get("4F")
    if aid is None:
        raise CpmError(f"application template {number} has no AID (tag 4F)")
    if not 5 <= len(aid) <= 16:
        raise CpmError(f"application template {number}: AID of {len(aid)} bytes (5 to 16 allowed)")
    label = raw.get("50", b"").decode("ascii", "replace")
    pan = _pan_digits(raw) or common_pan
    return CpmApplication(aid.hex().upper(), label, mask_pan(pan) if pan else "", tags)


def _flatten(obj: Tlv) -> list[Tlv]:
    """Primitive tags of a template, including those in nested 63/64 transparent templates."""
    found: list[Tlv] = []
    for child in obj.children or ():
        if child.constructed:
            found.extend(_flatten(child))
        else:
            found.append(child)
    return found


def _pan_digits(raw: Mapping[str, bytes]) -> str:
    if "5A" in raw:
        return raw["5A"].hex().upper().rstrip("F")
    if "57" in raw:
        return raw["57"].hex().upper().partition("D")[0]
    return ""


def _shown_hex(tag: str, value: bytes) -> str:
    """Hex of a value; card numbers and track data keep only what PCI DSS lets us show."""
    text = value.hex().upper()
    if tag == "5A":
        digits = text.rstrip("F")
        return mask_pan(digits) + text[len(digits) :]
    if tag == "57":
        pan, sep, rest = text.partition("D")
        return mask_pan(pan) + sep + "*" * len(rest)
    return text


def _json(objects: list[Tlv] | tuple[Tlv, ...]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    counts: dict[str, int] = {}
    for obj in objects:
        counts[obj.tag] = counts.get(obj.tag, 0) + 1
    for obj in objects:
        value: Any = _json(obj.children) if obj.constructed else _shown_hex(obj.tag, obj.value)
        if counts[obj.tag] > 1:
            result.setdefault(obj.tag, []).append(value)
        else:
            result[obj.tag] = value
    return result
