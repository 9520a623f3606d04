"""The simulated customer wallet: reads merchant-presented codes, issues consumer-presented ones.

Merchant-presented (MPM): the EMVCo payload the terminal shows is read here just enough to pay
it (ID-length-value, CRC checked, amount 54, currency 53, reference label 62/05 = intent_id).

Consumer-presented (CPM) one-time code format: the text is the EMVCo consumer-presented payload,
base64 (standard alphabet, padded) of BER-TLV:

    85 "CPV01"
    61 application template
       4F  AID of the paying card        50  its label
       5A  one-time token PAN (card BIN + random digits + Luhn check, BCD, F-padded)
       5F24 expiry YYMMDD                 9F26 8 random bytes   9F36 ATC (2 bytes)

The simulator remembers the SHA-256 of the whole text; an authorize with `entry: "qr_cpm"` and
`qr.data` = JWE of exactly that text pays from the card once. A second use is declined 65, an
expired code 54, an unknown one 14.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from terminal.security.pan import luhn_valid


class WalletError(ValueError):
    """A payload the wallet cannot pay."""


def parse_mpm(payload: str) -> dict[str, str]:
    """Top-level fields of an EMVCo MPM payload, with 62's sub-fields as "62.NN"."""
    if not isinstance(payload, str) or not 8 <= len(payload) <= 512:
        raise WalletError("payload must be EMVCo text of 8 to 512 characters")
    if not payload.startswith("000201"):
        raise WalletError("payload does not start with 000201")
    crc_at = payload.rfind("6304")
    if crc_at < 0 or crc_at + 8 != len(payload):
        raise WalletError("payload does not end with the CRC field 63")
    expected = binascii.crc_hqx(payload[: crc_at + 4].encode("utf-8"), 0xFFFF)
    if payload[crc_at + 4 :].upper() != f"{expected:04X}":
        raise WalletError("payload CRC does not match")
    fields = _ids(payload)
    if "62" in fields:
        for key, value in _ids(fields["62"]).items():
            fields[f"62.{key}"] = value
    return fields


def pays_through(fields: dict[str, str], scheme: str) -> bool:
    """Does the code carry a merchant account template (26-51) of `scheme`, the only kind a
    wallet of that scheme can pay (its GUI in sub-ID 00; KHQR: a Bakong id in 29 or 30)?"""
    from terminal.qr.schemes import SCHEMES

    wanted = SCHEMES[scheme]
    for tag in (f"{n:02d}" for n in range(26, 52)):
        if tag not in fields:
            continue
        try:
            sub = _ids(fields[tag])
        except WalletError:
            continue
        if wanted.gui and sub.get("00", "").upper() == wanted.gui.upper():
            return True
        if not wanted.gui and tag in ("29", "30") and "@" in sub.get("00", ""):
            return True
    return False


def _ids(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    position = 0
    while position < len(text):
        head = text[position : position + 4]
        if len(head) < 4 or not head.isdigit():
            raise WalletError(f"bad field header at position {position}")
        length = int(head[2:])
        value = text[position + 4 : position + 4 + length]
        if len(value) != length:
            raise WalletError(f"field {head[:2]} runs past the end")
        fields[head[:2]] = value
        position += 4 + length
    return fields


def _tlv(tag: str, value: bytes) -> bytes:
    if len(value) > 127:
        raise ValueError("value too long for a short-form length")
    return bytes.fromhex(tag) + bytes([len(value)]) + value


def one_time_pan(bin_source: str) -> str:
    """A Luhn-valid 16-digit token sharing the card's BIN (first six digits of `bin_source`)."""
    while True:
        body = bin_source[:6] + "".join(secrets.choice("0123456789") for _ in range(9))
        for check in "0123456789":
            if luhn_valid(body + check):
                return body + check


def consumer_code(bin_source: str, aid: str, label: str, expiry: str) -> tuple[str, str]:
    """(code text, token PAN) for a one-time consumer-presented payment."""
    token = one_time_pan(bin_source)
    app = (
        _tlv("4F", bytes.fromhex(aid))
        + _tlv("50", label.encode("ascii", "replace")[:16])
        + _tlv("5A", bytes.fromhex(token + "F" * (len(token) % 2)))
        + _tlv("5F24", bytes.fromhex(expiry[:6].ljust(6, "0")))
        + _tlv("9F26", secrets.token_bytes(8))
        + _tlv("9F36", secrets.token_bytes(2))
    )
    payload = _tlv("85", b"CPV01") + _tlv("61", app)
    return base64.b64encode(payload).decode("ascii"), token
