"""The card side of ISO 14443-4 (ISO-DEP) for emulated Type 4A cards.

nfcpy emulates no Type 4 card, so this is the block layer a card runs after RATS: the ATS (its
TA/TB bytes carry frame size and frame waiting time, without which nfcpy's reader times out),
I-blocks with chaining both ways, R(ACK)/R(NAK) for chaining, retransmission and presence
checks, S(DESELECT), and S(WTX) requests while a slow application is still computing.

`exchange(frame, timeout)` sends one frame and returns the reader's next one (nfcpy's
`ContactlessFrontend.exchange` as a listening target).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

log = logging.getLogger(__name__)

ApduHandler = Callable[[bytes], "bytes | None"]
"""The card application: command APDU in, response APDU out; None when it left the field."""
Exchange = Callable[[bytes | None, float], "bytes | None"]

FRAME_SIZES = (16, 24, 32, 40, 48, 64, 96, 128, 256)
DESELECT = 0xC2
WTX = 0xF2


def fwt_seconds(fwi: int) -> float:
    """Frame waiting time for FWI (ISO 14443-4: 256 * 16 / fc * 2^FWI)."""
    return 4096 / 13.56e6 * (1 << fwi)


@dataclass(frozen=True, slots=True)
class IsoDepParameters:
    fsci: int = 8
    """Largest frame the card accepts: FRAME_SIZES[fsci] (8: 256 bytes)."""
    fwi: int = 8
    """Frame waiting time index: 8 is 77 ms, enough for a loaded test machine."""
    max_inf: int = 253
    """Most APDU bytes per block the card sends (smaller values force response chaining)."""
    wtxm: int = 4
    """Waiting-time multiplier asked for in each S(WTX) request."""

    def ats(self) -> bytes:
        # TL, T0 (TA, TB, TC present | FSCI), TA (106 kbit/s only), TB (FWI | SFGI 0), TC
        return bytes([0x05, 0x70 | self.fsci, 0x80, self.fwi << 4, 0x00])


class Deactivated(Exception):
    """The session ended: `reason` is deselected, left-field, reset, field-off or idle."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IsoDepTarget:
    """One activation of an emulated card, from RATS to DESELECT (or until the field goes)."""

    def __init__(
        self,
        exchange: Exchange,
        handler: ApduHandler,
        params: IsoDepParameters,
        *,
        idle_timeout: float = 2.0,
        worker: ThreadPoolExecutor | None = None,
    ) -> None:
        self._exchange = exchange
        self._handler = handler
        self._params = params
        self._idle = idle_timeout
        self._worker = worker or ThreadPoolExecutor(max_workers=1)
        self._fwt = fwt_seconds(params.fwi)
        self._last: bytes = b""
        self._pending: list[bytes] = []
        self._chained_command = bytearray()
        self.apdus = 0

    def run(self, rats: bytes) -> str:
        """Answer RATS, then serve frames until the session ends; returns the reason."""
        fsdi = rats[1] >> 4 if len(rats) > 1 else 2
        fsd = FRAME_SIZES[min(fsdi, 8)]
        self._max_inf = max(1, min(self._params.max_inf, fsd - 3))
        try:
            frame = self._send(self._params.ats())
            while True:
                frame = self._on_frame(frame)
        except Deactivated as end:
            return end.reason

    def _send(self, frame: bytes | None) -> bytes:
        if frame is not None:
            self._last = frame
        try:
            received = self._exchange(frame, self._idle)
        except Exception as error:  # nfcpy: TimeoutError, BrokenLinkError (RFOFF), ...
            reason = "field-off" if "RFOFF" in str(error) else "idle"
            raise Deactivated(reason) from None
        if received is None:
            raise Deactivated("field-off")
        return bytes(received)

    def _on_frame(self, frame: bytes) -> bytes:
        if not frame:
            return self._send(None)
        pcb = frame[0]
        if pcb & 0xE2 == 0x02:
            return self._i_block(frame)
        if pcb & 0xE6 == 0xA2:
            return self._r_block(pcb)
        if pcb & 0xC7 == 0xC2:
            if pcb & 0x30 == 0x00:  # DESELECT
                self._last = bytes([DESELECT])
                try:
                    self._exchange(bytes([DESELECT]), 0)
                except Exception as error:  # the reader does not wait for more
                    log.debug("after deselect: %s", error)
                raise Deactivated("deselected")
            return self._send(None)  # a WTX response out of turn: ignore
        raise Deactivated("reset")  # REQA/WUPA/HLTA: the reader started over

    def _i_block(self, frame: bytes) -> bytes:
        pcb = frame[0]
        number = pcb & 0x01
        start = 1 + bool(pcb & 0x08) + bool(pcb & 0x04)  # CID, NAD
        self._chained_command += frame[start:]
        if pcb & 0x10:  # the reader chains: acknowledge this part
            return self._send(bytes([0xA2 | number]))
        command = bytes(self._chained_command)
        self._chained_command.clear()
        response = self._call(command)
        if response is None:
            raise Deactivated("left-field")
        size = self._max_inf
        self._pending = [response[i : i + size] for i in range(0, len(response), size)] or [b""]
        return self._send(self._next_block(number))

    def _next_block(self, number: int) -> bytes:
        chunk = self._pending.pop(0)
        more = 0x10 if self._pending else 0x00
        return bytes([0x02 | more | number]) + chunk

    def _r_block(self, pcb: int) -> bytes:
        number = pcb & 0x01
        last_number = self._last[0] & 0x01 if self._last else 1
        if pcb & 0x10:  # NAK: retransmit if it names our last block, else "still here"
            if self._last and number == last_number:
                return self._send(self._last)
            return self._send(bytes([0xA2 | last_number]))
        if self._pending and number != last_number:  # ACK of our chained block
            return self._send(self._next_block(number))
        return self._send(self._last)

    def _call(self, command: bytes) -> bytes | None:
        self.apdus += 1
        future: Future[bytes | None] = self._worker.submit(self._handler, command)
        wait = self._fwt / 2
        while True:
            try:
                return future.result(timeout=wait)
            except FutureTimeout:
                pass
            except Exception:
                log.exception("card application failed on %s", command[:4].hex())
                return b"\x6f\x00"  # no precise diagnosis, as a real card answers
            reply = self._send(bytes([WTX, self._params.wtxm]))  # ask for more time
            if reply[:1] != bytes([WTX]):
                raise Deactivated("reset")
            wait = self._fwt * self._params.wtxm / 2
