"""Application cryptograms (ARQC) of the simulated cards, checked by the simulated issuer.

One definition for both sides so they cannot drift: the card computes `generate_arqc` over the
terminal's transaction data, the gateway simulator recomputes it with `verify_arqc`. The maths is
pyemv's (Visa CVN 10, Mastercard CVN 16, ICC master key derivation option A).

Input data, in this order (EMV Book 2, recommended minimum set): 9F02 amount authorised,
9F03 amount other, 9F1A terminal country, 95 TVR, 5F2A currency, 9A date, 9C type,
9F37 unpredictable number, 82 AIP, 9F36 ATC, then the CVR taken from 9F10.
"""

from __future__ import annotations

import hmac
import warnings
from collections.abc import Mapping
from functools import lru_cache

from pyemv import cvn as pyemv_cvn

from simulators.card.testcards import IssuerKeys

ARQC_TAGS = ("9F02", "9F03", "9F1A", "95", "5F2A", "9A", "9C", "9F37", "82", "9F36")
_LENGTHS = {
    "9F02": 6,
    "9F03": 6,
    "9F1A": 2,
    "95": 5,
    "5F2A": 2,
    "9A": 3,
    "9C": 1,
    "9F37": 4,
    "82": 2,
    "9F36": 2,
}


class CryptogramError(ValueError):
    """The data needed to compute or check a cryptogram is missing or malformed."""


def issuer_application_data(cvn: str) -> bytes:
    """Tag 9F10 as the simulated card returns it for an ARQC (CVR: online requested)."""
    if cvn == "visa-cvn10":
        return bytes.fromhex("06010A03A00000")  # len, DKI, CVN 0A, CVR 03A00000
    if cvn == "mastercard-cvn16":
        return bytes.fromhex("0110A00003220000000000000000000000FF")  # KDI, CVN 10, CVR(6), ...
    raise CryptogramError(f"unsupported cryptogram version {cvn!r}")


def _cvr(cvn: str, iad: bytes) -> bytes:
    if cvn == "visa-cvn10":
        if len(iad) < 7:
            raise CryptogramError("issuer application data too short for Visa CVN 10")
        return iad[3:7]
    if cvn == "mastercard-cvn16":
        if len(iad) < 8:
            raise CryptogramError("issuer application data too short for Mastercard CVN 16")
        return iad[2:8]
    raise CryptogramError(f"unsupported cryptogram version {cvn!r}")


@lru_cache(maxsize=1024)
def _engine(
    keys: IssuerKeys, pan: str, psn: str
) -> pyemv_cvn.VisaCVN10 | pyemv_cvn.MasterCardCVN16:
    """The card's cryptogram engine; its ICC master keys are derived once per card (a
    simulator checking a backlog of advices from the same few test cards would otherwise
    re-derive them for every message). Only simulated issuer test keys are ever held here."""
    psn = psn or "00"
    if keys.cvn == "visa-cvn10":
        return pyemv_cvn.VisaCVN10(keys.imk_ac, keys.imk_smi, keys.imk_smc, pan, psn)
    if keys.cvn == "mastercard-cvn16":
        return pyemv_cvn.MasterCardCVN16(keys.imk_ac, keys.imk_smi, keys.imk_smc, pan, psn)
    raise CryptogramError(f"unsupported cryptogram version {keys.cvn!r}")


def _field(emv: Mapping[str, bytes], tag: str) -> bytes:
    value = emv.get(tag)
    if value is None:
        if tag == "9F03":
            return bytes(6)
        raise CryptogramError(f"tag {tag} missing for the cryptogram")
    if len(value) != _LENGTHS[tag]:
        raise CryptogramError(f"tag {tag} has {len(value)} bytes, expected {_LENGTHS[tag]}")
    return value


def generate_arqc(keys: IssuerKeys, pan: str, psn: str, emv: Mapping[str, bytes]) -> bytes:
    """The 8-byte cryptogram (9F26) over the tags in ARQC_TAGS and the CVR in 9F10."""
    values = [_field(emv, tag) for tag in ARQC_TAGS]
    iad = emv.get("9F10", issuer_application_data(keys.cvn))
    try:
        with warnings.catch_warnings():
            # pyemv uses two-key TDES, which EMV mandates; cryptography flags it as old.
            warnings.simplefilter("ignore")
            engine = _engine(keys, pan, psn)
            a, b, c, d, e, f, g, h, i, j = values
            result: bytes = engine.generate_ac(a, b, c, d, e, f, g, h, i, j, _cvr(keys.cvn, iad))
    except (ValueError, TypeError) as error:
        raise CryptogramError(f"cannot compute cryptogram: {error}") from None
    return result


def verify_arqc(keys: IssuerKeys, pan: str, psn: str, emv_hex: Mapping[str, str]) -> bool:
    """True when 9F26 in `emv_hex` (tag -> hex, as PROTOCOL.md carries it) is the card's ARQC."""
    try:
        emv = {tag.upper(): bytes.fromhex(value) for tag, value in emv_hex.items()}
        expected = generate_arqc(keys, pan, psn, emv)
    except (CryptogramError, ValueError):
        return False
    return hmac.compare_digest(expected, emv.get("9F26", b""))
