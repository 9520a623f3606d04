"""What the schemes want on a contactless receipt that only the card's answers say: the
cryptogram type the card produced and how the cardholder was verified.

Pure functions over the EMV data the kernel already collected (tag -> hex, as `CardData.emv`
and PROTOCOL.md carry it), so the journal can keep the result without keeping card data.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

CID_TYPE_MASK = 0xC0
_CRYPTOGRAM_TYPES = {0x00: "AAC", 0x40: "TC", 0x80: "ARQC"}

# CVM results (9F34) byte 1, low six bits: the method performed (EMV Book 3, annex C3).
_OFFLINE_PIN_CODES = frozenset({0x01, 0x04})
_ONLINE_PIN = 0x02  # checked by the issuer: the result byte stays "unknown" at the terminal
_PIN_AND_SIGNATURE_CODES = frozenset({0x03, 0x05})
_SIGNATURE = 0x1E
_CVM_SUCCESSFUL = 0x02


class Cvm(StrEnum):
    """How the cardholder was verified, as the receipt's CVM line says it."""

    NONE = "no_cvm"
    """Under the CVM limit nothing is asked: "No signature required"."""
    CDCVM = "cdcvm"
    """The phone or watch verified its owner (consumer device CVM)."""
    PIN = "pin"
    """The card's PIN was verified (offline by the card or online by the issuer)."""
    SIGNATURE = "signature"
    """The cardholder signs the merchant copy."""


def cryptogram_type(emv: Mapping[str, str]) -> str:
    """TC (the card approved offline), ARQC (it asks the issuer), AAC (it declined), from the
    cryptogram information data 9F27; "" when the card gave none that can be read."""
    cid = emv.get("9F27", "")
    try:
        value = bytes.fromhex(cid)
    except ValueError:
        return ""
    if len(value) != 1:
        return ""
    return _CRYPTOGRAM_TYPES.get(value[0] & CID_TYPE_MASK, "")


def cvm_performed(emv: Mapping[str, str], *, cdcvm: bool) -> Cvm:
    """The verification that took place: the device's own (CDCVM) first, else what the CVM
    results (9F34) record as successful, else none (a tap under the CVM limit)."""
    if cdcvm:
        return Cvm.CDCVM
    try:
        results = bytes.fromhex(emv.get("9F34", ""))
    except ValueError:
        return Cvm.NONE
    if len(results) != 3:
        return Cvm.NONE
    method, outcome = results[0] & 0x3F, results[2]
    if method == _SIGNATURE or method in _PIN_AND_SIGNATURE_CODES:
        return Cvm.SIGNATURE
    if method == _ONLINE_PIN or (method in _OFFLINE_PIN_CODES and outcome == _CVM_SUCCESSFUL):
        return Cvm.PIN
    return Cvm.NONE
