"""A contactless reader through nfcpy: poll for a card, activate ISO-DEP, exchange APDUs.

The path is nfcpy's (`usb`, `usb:072f:2200`, `tty:USB0:pn532`, `udp:localhost:PORT`). The wait
for a card is a bounded loop of single `sense` calls, so it ends on its timeout or on `cancel()`
(nfcpy's `connect()` without `terminate`/`iterations` would wait forever). nfcpy's exceptions
are translated once, by the table in `errors.py` that every nfcpy call here goes through, into
the `drivers.base` tree with a sentence for the operator.

More than one card in the field: nfcpy resolves Type A anticollision and returns one target
(`sense()` has no collision flag). On readers whose PN53x chip lists two targets (PN531, PN532,
ACR122U) the driver asks the chip itself, after a Type A card was sensed and before RATS: field
reset, InListPassiveTarget MaxTg = 2 at 106 kbps, `MultipleCards` when two cards answer, else a
field reset and a fresh selection of the one card by its UID (collision.py). Not detected: two
Type B cards, a Type A and a Type B card together, and any pair on PN533, RC-S956 and RC-S380
readers or the UDP simulator (nfcpy lists one target there); see README "Contactless".
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

import nfc
import nfc.clf
import nfc.tag
import nfc.tag.tt4

from drivers.base import (
    Cancelled,
    CardRemoved,
    DeviceNotFound,
    MultipleCards,
    NotAPaymentCard,
    Timeout,
)
from drivers.nfc.collision import ChipRefused, can_count_cards, count_type_a_cards
from drivers.nfc.errors import (
    CARD_REMOVED,
    MULTIPLE_CARDS,
    NOT_A_PAYMENT_CARD,
    nfcpy_errors,
)

__all__ = ["CARD_REMOVED", "MULTIPLE_CARDS", "NOT_A_PAYMENT_CARD", "IsoDepCard", "NfcReader"]

log = logging.getLogger(__name__)


def quiet_nfcpy() -> None:
    """nfcpy logs every recoverable radio hiccup (ISO-DEP retries, a card leaving) as a
    warning or error, which this driver turns into one sentence for the operator; keep its
    records for a technician running at DEBUG only."""
    debugging = logging.getLogger().isEnabledFor(logging.DEBUG)
    logging.getLogger("nfc").setLevel(logging.DEBUG if debugging else logging.CRITICAL)


HARDWARE_TECHNOLOGIES = ("106A", "106B", "212F")
UDP_TECHNOLOGIES = ("106A",)
"""nfcpy's UDP driver waits a full second for an absent technology, so the simulator polls A."""


def check_udp_path(path: str) -> None:
    """nfcpy turns a port named in /etc/services into its name and then fails to parse it."""
    parts = path.split(":")
    if len(parts) > 2 and parts[2].isdigit():
        try:  # nfcpy's getnameinfo looks the port up as TCP
            name = socket.getservbyport(int(parts[2]))
        except OSError:
            return
        raise DeviceNotFound(
            f"UDP port {parts[2]} is reserved for '{name}' and nfcpy cannot use it — "
            "choose another port for the simulated reader.",
            device=path,
        )


class IsoDepCard:
    """An activated ISO 14443-4 card or phone (`drivers.base.Card`)."""

    def __init__(self, reader: NfcReader, tag: Any, uid: bytes) -> None:
        self._reader = reader
        self._tag = tag
        self.uid = uid

    def transceive(self, apdu: bytes) -> bytes:
        with nfcpy_errors(self._reader.path, "card"):
            answer = self._tag.transceive(bytearray(apdu))
        if answer is None:
            raise CardRemoved(CARD_REMOVED, device=self._reader.path, detail="no answer")
        return bytes(answer)

    def is_present(self) -> bool:
        """Still in the field? (ISO-DEP presence check: an R(NAK) the card must answer.)"""
        with nfcpy_errors(self._reader.path, "card"):
            return bool(self._tag.is_present)

    def release(self) -> None:
        """DESELECT the card and switch the field off, so the next tap starts clean."""
        self._reader.release()


class NfcReader:
    """A reader opened from an nfcpy path (`drivers.base.CardReader`)."""

    def __init__(
        self,
        path: str,
        *,
        technologies: Sequence[str] | None = None,
        poll_interval: float = 0.05,
        frontend: Any = None,
    ) -> None:
        """`frontend`: an already opened `nfc.ContactlessFrontend` (tests replaying chip
        frames); otherwise `path` is opened."""
        self.path = path
        self.poll_interval = poll_interval
        udp = path.startswith("udp")
        self.technologies = tuple(
            technologies or (UDP_TECHNOLOGIES if udp else HARDWARE_TECHNOLOGIES)
        )
        self._cancel = threading.Event()
        quiet_nfcpy()
        if frontend is not None:
            self._clf = frontend
            self.counts_cards = can_count_cards(frontend.device)
            return
        if udp:
            check_udp_path(path)
        with nfcpy_errors(path, "open"):
            self._clf = nfc.ContactlessFrontend(path)
        self.counts_cards = can_count_cards(self._clf.device)
        """Whether a second Type A card in the field is detected (PN531/PN532 chips)."""

    def __str__(self) -> str:
        return f"NfcReader({self.path})"

    # -- waiting for a card --------------------------------------------------------------

    def wait_for_card(self, timeout: float) -> IsoDepCard:
        """Poll until an ISO-DEP card is activated; Timeout, Cancelled or another DriverError."""
        self._cancel.clear()
        deadline = time.monotonic() + timeout
        while True:
            if self._cancel.is_set():
                raise Cancelled("The wait for a card was cancelled.", device=self.path)
            target = self._sense()
            if target is not None:
                card = self._activate(target)
                if card is not None:
                    return card
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout(
                    f"No card or phone was presented within {timeout:g} seconds.",
                    device=self.path,
                )
            self._cancel.wait(min(self.poll_interval, remaining))

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        self._cancel.set()
        self._clf.close()

    def release(self) -> None:
        """DESELECT the activated card (S-block) and switch the field off."""
        try:
            self._clf.exchange(bytearray(b"\xc2"), 0.1)
        except (nfc.clf.CommunicationError, OSError) as error:
            log.debug("deselect: %s", error)
        with self._clf.lock:
            if self._clf.device is not None:
                try:
                    self._clf.device.mute()
                except OSError as error:
                    log.debug("field off: %s", error)

    def _sense(self) -> Any:
        targets = [nfc.clf.RemoteTarget(brty) for brty in self.technologies]
        with nfcpy_errors(self.path, "poll"):
            try:
                return self._clf.sense(*targets, iterations=1)
            except ConnectionRefusedError:
                return None  # udp: no simulated card listening on the other side

    def _activate(self, target: Any) -> IsoDepCard | None:
        if self.counts_cards and target.brty == "106A" and target.sdd_res:
            target = self._the_only_card(target)
            if target is None:
                return None
        uid = bytes(target.sdd_res or (target.sensb_res or b"")[1:5] or b"")
        iso_dep = (target.brty.endswith("A") and target.sel_res and target.sel_res[0] & 0x20) or (
            target.brty.endswith("B")
        )
        if not iso_dep:
            self._halt(target)
            raise NotAPaymentCard(
                NOT_A_PAYMENT_CARD, device=self.path, detail=f"{target.brty} tag {uid.hex()}"
            )
        with nfcpy_errors(self.path, "poll"):
            tag = nfc.tag.activate(self._clf, target)
        if tag is None:
            log.debug("activation of %s failed; polling again", target)
            return None
        if not isinstance(tag, nfc.tag.tt4.Type4Tag):
            raise NotAPaymentCard(NOT_A_PAYMENT_CARD, device=self.path, detail=str(tag))
        return IsoDepCard(self, tag, uid)

    def _the_only_card(self, target: Any) -> Any:
        """Raise MultipleCards when a second Type A card answers; else the sensed card, selected
        afresh (None when it left meanwhile)."""
        with nfcpy_errors(self.path, "poll"):
            try:
                cards = count_type_a_cards(self._clf)
            except ChipRefused as error:
                log.warning("%s refuses to list two targets (%s); one card assumed", self, error)
                self.counts_cards = False
                cards = 1
        if cards == 2:
            raise MultipleCards(
                MULTIPLE_CARDS, device=self.path, detail="InListPassiveTarget listed 2 targets"
            )
        if cards == 0:
            log.debug("the card left while the field was counted; polling again")
            return None
        uid = bytes(target.sdd_res)
        with nfcpy_errors(self.path, "poll"):
            try:
                return self._clf.sense(nfc.clf.RemoteTarget("106A", sel_req=uid), iterations=1)
            except nfc.clf.CommunicationError as error:
                log.debug("reselecting %s: %s", uid.hex(), error)
                return None

    def _halt(self, target: Any) -> None:
        """HLTA a Type A tag we do not want, so it keeps quiet (ISO 14443-3)."""
        if not target.brty.endswith("A"):
            return
        try:
            self._clf.exchange(bytearray(b"\x50\x00"), 0.005)
        except (nfc.clf.CommunicationError, OSError):
            pass  # a halted tag does not answer
