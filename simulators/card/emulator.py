"""A simulated card or phone in the field of a reader, over nfcpy's listen mode.

Over nfcpy's UDP driver (`udp:localhost:PORT`) this is the other end of the terminal's
simulated reader: it answers Type A anticollision (nfcpy's `listen_tta`), then runs the
ISO-DEP block layer (`isodep.IsoDepTarget`) around an `apdu_handler` that plays the card
application. It knows nothing of EMV: the application is passed in.

`technology="type2"` presents a tag without ISO-DEP (as a MIFARE Ultralight / NTAG sticker
does) that only answers READ, for the "this is no payment card" case.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import nfc
import nfc.clf

from drivers.base import DeviceBusy, DeviceLost, DeviceNotFound
from drivers.nfc.reader import check_udp_path, quiet_nfcpy
from simulators.card.isodep import ApduHandler, IsoDepParameters, IsoDepTarget

log = logging.getLogger(__name__)

# NTAG213-like memory: UID, lock bytes, capability container of an empty NDEF tag.
TYPE2_MEMORY = bytes.fromhex("04A1B2BF C3D4E5F6 A2480000 E1101200 0300FE00") + bytes(160)


class CardEmulator:
    """Presents one simulated card to a reader, tap after tap."""

    def __init__(
        self,
        path: str,
        handler: ApduHandler,
        *,
        technology: str = "iso-dep",
        params: IsoDepParameters | None = None,
        on_tap: Callable[[], None] | None = None,
        idle_timeout: float = 2.0,
        away_s: float = 1.0,
    ) -> None:
        if technology not in ("iso-dep", "type2"):
            raise ValueError(f"unknown technology {technology!r}")
        self.path = path
        self.technology = technology
        self.params = params or IsoDepParameters()
        self.last_reason = ""
        self.listen_slice_s = 1.0
        """How long each listen lasts; `stop` is checked between them."""
        self._handler = handler
        self._on_tap = on_tap or (lambda: None)
        self._idle = idle_timeout
        self._away = away_s
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="card-app")
        quiet_nfcpy()
        if path.startswith("udp"):
            check_udp_path(path)
        try:
            self._clf = nfc.ContactlessFrontend(path)
        except OSError as error:
            cls = DeviceBusy if error.errno in (errno.EBUSY, errno.EACCES) else DeviceNotFound
            raise cls(
                f"Cannot open '{path}' to present a simulated card.", device=path, detail=str(error)
            ) from None
        self._target = self._local_target()

    def _local_target(self) -> nfc.clf.LocalTarget:
        target = nfc.clf.LocalTarget("106A")
        if self.technology == "type2":
            target.sens_res = bytearray.fromhex("4400")
            target.sdd_res = bytearray(TYPE2_MEMORY[0:3] + TYPE2_MEMORY[4:8])
            target.sel_res = bytearray([0x00])
        else:
            target.sens_res = bytearray.fromhex("0400")
            target.sdd_res = bytearray(b"\x08" + os.urandom(3))  # random UID, as cards do
            target.sel_res = bytearray([0x20])  # ISO 14443-4 compliant
        return target

    def serve(
        self,
        taps: int | None = None,
        stop: threading.Event | None = None,
        duration_s: float | None = None,
    ) -> int:
        """Answer taps until `taps` were served, `stop` is set or `duration_s` passed."""
        stop = stop or threading.Event()
        end = None if duration_s is None else time.monotonic() + duration_s
        served = 0
        while not stop.is_set() and (taps is None or served < taps):
            if end is not None and time.monotonic() >= end:
                break
            try:
                activated = self._clf.listen(self._target, self.listen_slice_s)
            except OSError as error:
                raise DeviceLost(
                    "The simulated card lost its reader link.", device=self.path, detail=str(error)
                ) from None
            if activated is None:
                continue
            if self.technology == "type2":
                if self._type2(activated.tt2_cmd):
                    served += 1
                continue
            rats = activated.tt4_cmd
            if not rats or rats[0] != 0xE0:
                continue  # a stray frame from an earlier session, not an activation
            self._on_tap()
            session = IsoDepTarget(
                self._exchange,
                self._handler,
                self.params,
                idle_timeout=self._idle,
                worker=self._worker,
            )
            self.last_reason = session.run(bytes(rats))
            served += 1
            log.info("tap %d ended: %s after %d APDUs", served, self.last_reason, session.apdus)
            if self.last_reason == "left-field":
                stop.wait(self._away)  # out of the reader's reach for a moment
        return served

    def _exchange(self, frame: bytes | None, timeout: float) -> bytes | None:
        data = None if frame is None else bytearray(frame)
        answer = self._clf.exchange(data, timeout)
        return None if answer is None else bytes(answer)

    def _type2(self, command: bytes | None) -> bool:
        """Serve READ commands until the reader halts or leaves; True when a reader was seen."""
        if not command:
            return False
        self._on_tap()
        while command and command[0] == 0x30 and len(command) >= 2:
            offset = command[1] * 4
            page = TYPE2_MEMORY[offset : offset + 16].ljust(16, b"\x00")
            try:
                command = self._exchange(page, self._idle)
            except nfc.clf.CommunicationError:
                break
        self.last_reason = "halted"
        return True

    def close(self) -> None:
        self._worker.shutdown(wait=False)
        self._clf.close()
