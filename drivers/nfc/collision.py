"""Counting the Type A cards in the field, on readers whose chip can list two (PN531, PN532 and
the PN532-based ACR122U).

nfcpy's `sense()` resolves Type A anticollision and hands back one card: its PN53x driver sends
InListPassiveTarget with MaxTg = 1 (`Chipset.in_list_passive_target` even ignores its `max_tg`
argument). So after a card was sensed, the reader resets the field and sends the command itself
with MaxTg = 2 at 106 kbps Type A: NbTg = 2 means a second card answered. The chip's state after
that listing is not relied on; the caller switches the field off again and selects the one card
afresh through nfcpy. nfcpy declares one target at most for the PN533 and the RC-S956
(`in_list_passive_target_max_target`), so those chips, the RC-S380 and the UDP front end are not
asked (see README "Contactless").
"""

from __future__ import annotations

import time
from typing import Any

from nfc.clf import pn53x

IN_LIST_PASSIVE_TARGET = 0x4A
TWO_TARGETS_106A = bytes([2, 0x00])
"""MaxTg = 2, BrTy = 0x00 (106 kbps Type A), no initiator data: any card may answer."""

FIELD_RESET_S = 0.006
"""ISO/IEC 14443-3 t_RESET: the field stays off at least 5.1 ms so every card starts afresh
(a card left selected by the first sense would not answer the new REQA)."""

LIST_TIMEOUT_S = 1.0
"""nfcpy's own timeout for InListPassiveTarget; the chip retries the activation once."""


class MalformedListAnswer(ValueError):
    """The chip's InListPassiveTarget answer does not parse (a reader fault)."""


class ChipRefused(Exception):
    """The chip answered the listing with an error frame (its firmware refuses MaxTg = 2)."""


def can_count_cards(device: Any) -> bool:
    """Does this nfcpy device have a PN53x chip that lists two Type A targets at 106 kbps?"""
    chipset = getattr(device, "chipset", None)
    return (
        isinstance(chipset, pn53x.Chipset)
        and getattr(chipset, "in_list_passive_target_max_target", 1) >= 2
        and 0 in getattr(chipset, "in_list_passive_target_brty_range", ())
    )


def listed_targets(answer: bytes) -> int:
    """NbTg from InListPassiveTarget's answer data (after D5 4B): 0, 1 or 2, each 106A target
    at least Tg, SENS_RES (2), SEL_RES, NFCIDLength and that many NFCID bytes."""
    if not answer:
        raise MalformedListAnswer("empty InListPassiveTarget answer")
    count = answer[0]
    if count > 2:
        raise MalformedListAnswer(f"NbTg {count} for MaxTg 2")
    if count:
        # Only the first target's data is walked: the second may carry an ATS whose length
        # the chip's settings decide; its presence is what NbTg says.
        first = answer[1:]
        if len(first) < 5 or len(first) < 5 + first[4]:
            raise MalformedListAnswer(f"short target data {answer.hex()}")
        if first[0] != 1:
            raise MalformedListAnswer(f"first target numbered {first[0]}")
    return count


def count_type_a_cards(clf: Any) -> int:
    """Reset the field and let the chip list up to two Type A cards; the field is off after.

    Raises OSError when the reader does not answer (unplugged, timeout, garbled frame),
    ChipRefused for an error frame and MalformedListAnswer for an answer that does not parse.
    """
    with clf.lock:
        device = clf.device
        if device is None:
            raise OSError("the reader was closed")
        device.mute()
        time.sleep(FIELD_RESET_S)
        try:
            answer = device.chipset.command(
                IN_LIST_PASSIVE_TARGET, bytearray(TWO_TARGETS_106A), timeout=LIST_TIMEOUT_S
            )
        except pn53x.Chipset.Error as error:
            raise ChipRefused(str(error)) from None
        finally:
            try:
                device.mute()
            except (OSError, pn53x.Chipset.Error):
                pass  # the listing's own failure is the one to report
            time.sleep(FIELD_RESET_S)  # the next selection starts from reset cards too
    return listed_targets(bytes(answer or b""))
