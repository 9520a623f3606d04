"""A small acquirer host written only from issue 15's table of the posterm-1987 dialect.

It never imports posterm: messages are parsed and built by hand with `struct`, from its own
copy of the field table below, so the terminal's dialect file (read by pyiso8583) and the
published table cannot drift apart without a test noticing. It answers sales, refunds (of a
referenced sale, or to the card present without F37), voids, reversals, advices, tip
adjustments (0220 with F3 020000), batch closes and network messages; a test scripts
misbehaviour through `script` (swallow a request, a bad MAC, a truncated frame, another
terminal id, ...).
"""

from __future__ import annotations

import asyncio
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.cmac import CMAC

# number: (type, length, length-prefix digits) — from the table, written out again.
TABLE: dict[int, tuple[str, int, int]] = {
    2: ("n", 19, 2), 3: ("n", 6, 0), 4: ("n", 12, 0), 7: ("n", 10, 0), 11: ("n", 6, 0),
    12: ("n", 6, 0), 13: ("n", 4, 0), 14: ("n", 4, 0), 22: ("n", 3, 0), 23: ("n", 3, 0),
    25: ("n", 2, 0), 32: ("n", 11, 2), 35: ("z", 37, 2), 37: ("an", 12, 0), 38: ("an", 6, 0),
    39: ("an", 2, 0), 41: ("ans", 8, 0), 42: ("ans", 15, 0), 43: ("ans", 40, 0),
    49: ("n", 3, 0), 54: ("ans", 120, 3), 55: ("b", 255, 3), 60: ("ans", 99, 3),
    64: ("b", 8, 0), 66: ("n", 1, 0), 70: ("n", 3, 0),
    74: ("n", 10, 0), 76: ("n", 10, 0), 86: ("n", 16, 0), 88: ("n", 16, 0), 90: ("n", 42, 0),
    128: ("b", 8, 0),
}  # fmt: skip
ECHOED = (3, 4, 7, 11, 41, 42)
CARD_PRESENT = (2, 14, 22, 25, 35, 43, 49, 55)
"""A refund without F37 carries the sale's card-present fields: PAN, expiry, entry mode,
condition, track 2, merchant, currency and the ICC data with the card's cryptogram."""


class Malformed(ValueError):
    pass


@dataclass
class Iso:
    mti: str
    fields: dict[int, bytes]
    raw: bytes = b""

    def text(self, number: int) -> str:
        return self.fields[number].decode("ascii").strip() if number in self.fields else ""


def parse(body: bytes) -> Iso:
    """One message (without its length prefix)."""
    if len(body) < 12:
        raise Malformed("shorter than MTI and bitmap")
    mti = body[:4].decode("ascii")
    (primary,) = struct.unpack(">Q", body[4:12])
    offset, bitmap, width = 12, primary, 64
    if primary >> 63:
        if len(body) < 20:
            raise Malformed("no secondary bitmap")
        (secondary,) = struct.unpack(">Q", body[12:20])
        bitmap, width, offset = (primary << 64) | secondary, 128, 20
    fields: dict[int, bytes] = {}
    for number in range(2, width + 1):
        if not (bitmap >> (width - number)) & 1:
            continue
        kind, length, digits = TABLE[number]
        if digits:
            length = int(body[offset : offset + digits])
            offset += digits
        value = body[offset : offset + length]
        if len(value) != length:
            raise Malformed(f"field {number} truncated")
        if kind == "n" and not value.isdigit():
            raise Malformed(f"field {number} is numeric but holds {value!r}")
        fields[number] = value
        offset += length
    if offset != len(body):
        raise Malformed("trailing bytes")
    return Iso(mti, fields, body)


def build(mti: str, fields: dict[int, bytes], mac_key: bytes | None = None) -> bytes:
    """A message; with `mac_key` the MAC goes in F128 when a field above 64 is present, else F64."""
    fields = {n: v for n, v in fields.items() if n not in (64, 128)}
    if mac_key is not None:
        fields[128 if any(n > 64 for n in fields) else 64] = bytes(8)
    numbers = sorted(fields)
    secondary = any(n > 64 for n in numbers)
    bitmap = 0
    for number in numbers:
        bitmap |= 1 << (128 - number)
    if secondary:
        bitmap |= 1 << 127
        head = struct.pack(">QQ", bitmap >> 64, bitmap & (2**64 - 1))
    else:
        head = struct.pack(">Q", bitmap >> 64)
    out = mti.encode() + head
    for number in numbers:
        _kind, length, digits = TABLE[number]
        value = fields[number]
        if not digits and len(value) != length:
            raise Malformed(f"field {number} must be {length} long")
        if digits:
            out += str(len(value)).zfill(digits).encode() + value
        else:
            out += value
    if mac_key is not None:
        out = out[:-8] + cmac(out[:-8], mac_key)
    return out


def cmac(data: bytes, key: bytes) -> bytes:
    mac = CMAC(AES(key))
    mac.update(data)
    return mac.finalize()[:8]


def n(value: int, size: int) -> bytes:
    return str(value).zfill(size).encode()


@dataclass
class Host:
    """The host's state: what arrived, its answers, and the script of misbehaviour."""

    mac_key: bytes | None = None
    received: list[Iso] = field(default_factory=list)
    script: list[Callable[[Iso], object]] = field(default_factory=list)
    """Consulted in order for each request but network ones: a step returns None to pass,
    "swallow" to send nothing, or bytes to send instead of the answer (raw, already framed)."""
    ledger: list[tuple[str, str, int]] = field(default_factory=list)
    """(what, STAN, minor units) of the money the host moved."""
    adjustments: list[tuple[str, str, int, int]] = field(default_factory=list)
    """(STAN of the 0220, STAN of the sale, new total, tip) of each tip adjustment booked."""
    holds: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Open pre-authorisations: RRN -> (STAN of the 0100, minor units held)."""
    tolerance_percent: int = 20
    mac_failures: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(STAN, why) of requests answered 30 (format error)."""
    server: asyncio.Server | None = None
    port: int = 0
    tls: ssl.SSLContext | None = None

    async def start(self) -> None:
        """Listen on a free loopback port (or the same port again after `stop`)."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        self._connections: set[asyncio.StreamWriter] = set()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in list(self._connections):
                writer.close()
            await self.server.wait_closed()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while True:
                (size,) = struct.unpack(">H", await reader.readexactly(2))
                request = parse(await reader.readexactly(size))
                self.received.append(request)
                if self.mac_key is not None:
                    number = 128 if 128 in request.fields else 64
                    if request.fields.get(number) != cmac(request.raw[:-8], self.mac_key):
                        self.mac_failures += 1
                        continue
                scripted = self.script and request.mti != "0800"
                step = self.script.pop(0)(request) if scripted else None
                if step == "swallow":
                    continue
                if isinstance(step, bytes):
                    writer.write(step)
                    await writer.drain()
                    if step.startswith(b"\xff"):
                        writer.close()
                        return
                    continue
                body = build(*self.answer(request), self.mac_key)
                writer.write(struct.pack(">H", len(body)) + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._connections.discard(writer)
            writer.close()

    def answer(self, request: Iso) -> tuple[str, dict[int, bytes]]:
        """The host's answer: MTI + 10, the echoed fields and F39."""
        mti = request.mti[:2] + str(int(request.mti[2]) + 1) + "0"
        fields = {k: v for k, v in request.fields.items() if k in ECHOED}
        amount = int(request.text(4) or 0)
        stan = request.text(11)
        if request.mti == "0100" or (request.mti in ("0220", "0221") and request.text(25) == "06"):
            fields.update(self._hold(request, amount, stan))
        elif request.mti == "0200":
            code = b"51" if amount % 100 == 51 else b"00"
            if request.text(3) == "200000" and 37 not in request.fields:
                # A refund to the card present: the table's sale fields, read from the tap.
                missing = [f for f in CARD_PRESENT if f not in request.fields]
                if missing or request.text(22) != "071" or b"\x9f\x26" not in request.fields[55]:
                    self.refused.append((stan, f"card-present refund without {missing}"))
                    code = b"30"
            # Partial approval (F39 10, F4 the part approved, F54 amount type 57 the amount
            # asked): a sale ending in .10 whose F60 says P1, or any sale ending in .11 (a
            # host that ignores F60). The card covers 20.00 less than asked.
            accepts = request.text(60) == "P1"
            partial = request.text(3) == "000000" and amount > 2000
            partial = partial and ((amount % 100 == 10 and accepts) or amount % 100 == 11)
            if request.text(3) == "000000" and amount % 100 == 10 and not accepts:
                code = b"51"
            fields[39] = b"10" if partial else code
            if partial:
                fields[54] = b"0057" + request.fields[49] + b"C" + n(amount, 12)
                amount -= 2000
                fields[4] = n(amount, 12)
            if code == b"00":
                fields[37] = f"RRN{stan}".ljust(12).encode()
                fields[38] = f"A{stan[-5:]}".encode()
                kind = {"000000": "sale", "200000": "refund", "020000": "void"}[request.text(3)]
                self.ledger.append((kind, stan, amount))
        elif request.mti in ("0400", "0401"):
            fields[39] = b"00"
            original = request.text(90)[4:10]
            self.ledger = [e for e in self.ledger if e[1] != original]
            self.holds = {r: h for r, h in self.holds.items() if h[0] != original}
        elif request.mti in ("0220", "0221") and request.text(3) == "020000":
            fields[39] = self._adjust(request, amount, stan)
        elif request.mti in ("0220", "0221"):
            fields[39] = b"00"
            if all(e[1] != stan for e in self.ledger):
                self.ledger.append(("advice", stan, amount))
        elif request.mti == "0500":
            sales = [e for e in self.ledger if e[0] in ("sale", "advice", "capture")]
            credits = [e for e in self.ledger if e[0] == "refund"]
            ours = (len(credits), len(sales), sum(e[2] for e in credits), sum(e[2] for e in sales))
            theirs = tuple(int(request.text(f)) for f in (74, 76, 86, 88))
            fields[39] = b"00"
            fields[66] = b"1" if ours == theirs else b"2"
            if ours != theirs:
                fields.update({74: n(ours[0], 10), 76: n(ours[1], 10)})
                fields.update({86: n(ours[2], 16), 88: n(ours[3], 16)})
        else:
            fields[39] = b"00"
            fields[70] = request.fields[70]
        return mti, fields

    def _hold(self, request: Iso, amount: int, stan: str) -> dict[int, bytes]:
        """Pre-authorisations (F25 06): a 0100 with a card holds, a 0100 with F37 of a hold
        raises it, a 0220 with F37 completes it for F4 (tip in F54, amount type 44) within
        the tolerance; a 0400 of the hold's 0100 releases it (see `answer`)."""
        rrn = request.text(37)
        if request.mti == "0100" and 2 in request.fields:
            self.holds[f"RRN{stan}"] = (stan, amount)
            return {39: b"00", 37: f"RRN{stan}".ljust(12).encode(), 38: f"H{stan[-5:]}".encode()}
        if rrn not in self.holds:
            return {39: b"12"}
        first, held = self.holds[rrn]
        if request.mti == "0100":
            self.holds[rrn] = (first, held + amount)
            return {39: b"00", 38: f"I{stan[-5:]}".encode()}
        if amount > held + held * self.tolerance_percent // 100:
            return {39: b"13"}
        tip = request.text(54)
        if tip and (tip[2:4] != "44" or int(tip[8:20]) > amount):
            return {39: b"30"}
        del self.holds[rrn]
        self.ledger.append(("capture", stan, amount))
        return {39: b"00"}

    def _adjust(self, request: Iso, amount: int, stan: str) -> bytes:
        """A tip adjustment advice: F90 names the sale (its MTI, STAN and F7 as this host
        received them), F37 (when present) is the RRN this host gave it, F4 is the new total
        and F54 one 20-character block per amount: account type (2), amount type (2, 44 the
        tip), currency (3), sign C/D (1), minor units (12). Booked once per STAN (a 0221 repeat
        is answered again, not booked again); the sale's entry takes the new total."""
        if any(a[0] == stan for a in self.adjustments):
            return b"00"
        f90 = request.text(90)
        sale = next(
            (
                r
                for r in self.received
                if r.mti in ("0200", "0220")
                and (r.mti, r.text(11), r.text(7)) == (f90[:4], f90[4:10], f90[10:20])
            ),
            None,
        )
        if sale is None or f90[20:31] != request.text(32).zfill(11) or f90[31:] != "0" * 11:
            self.refused.append((stan, f"F90 {f90!r} names no sale of this host"))
            return b"12"
        entry = next((e for e in self.ledger if e[1] == f90[4:10]), None)
        rrn = request.text(37)
        if entry is None or (rrn and rrn != f"RRN{f90[4:10]}"):
            self.refused.append((stan, f"no booked sale for STAN {f90[4:10]} / RRN {rrn!r}"))
            return b"12"
        blocks = request.text(54)
        tips = [
            blocks[i : i + 20] for i in range(0, len(blocks), 20) if blocks[i + 2 : i + 4] == "44"
        ]
        if len(blocks) % 20 or len(tips) != 1:
            self.refused.append((stan, f"F54 {blocks!r} carries no one tip"))
            return b"30"
        tip = tips[0]
        if tip[4:7] != request.text(49) or tip[7] != "C" or int(tip[8:20]) > amount:
            self.refused.append((stan, f"F54 tip {tip!r} does not fit F4/F49"))
            return b"30"
        self.ledger = [(e[0], e[1], amount) if e is entry else e for e in self.ledger]
        self.adjustments.append((stan, f90[4:10], amount, int(tip[8:20])))
        return b"00"
