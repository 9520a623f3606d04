"""The EMV application of a simulated card or phone: answers APDUs like a contactless card.

Built from a profile of `config/sim/cards.toml`: the PPSE directory, one application per
scheme (Visa qVSDC style: cryptogram in the GPO answer; Mastercard M/Chip style: GPO format 1,
records, then GENERATE AC with CDOL1), real ARQCs from the issuer test keys
(`simulators.card.cryptogram`), so the gateway simulator verifies what this card computed.

Behaviours: `slow` takes its time over the cryptogram (the ISO-DEP transport asks the reader
for waiting-time extensions), `pulled-away` leaves the field after SELECT (no answer to GPO),
`not-emv` is no ISO-DEP card at all (the transport presents a Type 2 tag instead).

`handle(apdu)` returns the response APDU, or None when the card has left the field.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from simulators.card.cryptogram import CryptogramError, generate_arqc, issuer_application_data
from simulators.card.testcards import TestCard
from terminal.emv import tlv
from terminal.emv.terminal_data import bcd
from terminal.emv.tlv import Tlv
from terminal.iso_codes import currency as iso_currency

PPSE = b"2PAY.SYS.DDF01"
VISA_PDOL = bytes.fromhex("9F66049F02069F03069F1A0295055F2A029A039C019F3704")
MASTERCARD_CDOL1 = bytes.fromhex("9F02069F03069F1A0295055F2A029A039C019F37049F35019F3403")
TOKEN_REQUESTOR_ID = bytes.fromhex("040010030273")
EFFECTIVE_DATE = bytes.fromhex("200101")
ISSUER_COUNTRY = bytes.fromhex("0276")
SLOW_CRYPTOGRAM_S = 0.25
"""How long the `slow` card computes: several frame waiting times, so WTX is needed."""

SW_OK = b"\x90\x00"
SW_WRONG_LENGTH = b"\x67\x00"
SW_CONDITIONS = b"\x69\x85"
SW_NOT_FOUND = b"\x6a\x82"
SW_RECORD_NOT_FOUND = b"\x6a\x83"
SW_INS = b"\x6d\x00"
SW_CLA = b"\x6e\x00"


def _atc_start() -> int:
    # A restarted simulator must not replay the counter it used a moment ago.
    return int(time.time() / 4) % 0xF000 + 1


@dataclass
class _Application:
    profile: TestCard
    priority: int
    records: dict[tuple[int, int], bytes] = field(default_factory=dict)

    @property
    def visa_style(self) -> bool:
        return self.profile.scheme not in ("mastercard", "maestro")

    @property
    def aip(self) -> bytes:
        if self.visa_style:
            return bytes.fromhex("2000")
        return bytes([0x19 | (0x02 if self.profile.cdcvm else 0), 0x80])


def track2(profile: TestCard) -> bytes:
    """Track 2 equivalent: PAN 'D' YYMM service code 201, discretionary data, 'F' pad."""
    digits = f"{profile.pan}D{profile.expiry[:4]}2010000000000"
    if len(digits) % 2:
        digits += "F"
    return bytes.fromhex(digits)


class SimulatedCard:
    """One card or phone; a fresh instance per process, its ATC counting taps."""

    def __init__(
        self,
        profile: TestCard,
        cards: Mapping[str, TestCard],
        *,
        atc: int | None = None,
        slow_s: float = SLOW_CRYPTOGRAM_S,
    ) -> None:
        self.profile = profile
        self.atc = _atc_start() if atc is None else atc
        self.slow_s = slow_s
        self._lock = threading.Lock()
        self.apps = [_Application(profile, profile.priority)]
        for index, name in enumerate(profile.extra_apps, start=1):
            self.apps.append(_Application(cards[name], profile.priority + index))
        for app in self.apps:
            app.records = self._records(app)
        self._selected: _Application | None = None
        self._processing = False
        self.taps = 0

    @property
    def technology(self) -> str:
        """ "iso-dep" for payment cards and phones, "type2" for the `not-emv` tag."""
        return "type2" if self.profile.behaviour == "not-emv" else "iso-dep"

    def reset(self) -> None:
        """The card entered the field: nothing selected."""
        with self._lock:
            self._selected = None
            self._processing = False

    def handle(self, command: bytes) -> bytes | None:
        with self._lock:
            return self._handle(bytes(command))

    # -- command dispatch ----------------------------------------------------------------

    def _handle(self, command: bytes) -> bytes | None:
        if len(command) < 4:
            return SW_WRONG_LENGTH
        cla, ins, p1, p2 = command[:4]
        data = command[5 : 5 + command[4]] if len(command) > 5 else b""
        if len(command) > 5 and len(data) != command[4]:
            return SW_WRONG_LENGTH
        if (cla, ins) == (0x00, 0xA4) and p1 == 0x04:
            return self._select(data)
        if (cla, ins) == (0x80, 0xA8):
            return self._gpo(data)
        if (cla, ins) == (0x00, 0xB2):
            return self._read_record(p1, p2)
        if (cla, ins) == (0x80, 0xAE):
            return self._generate_ac(data)
        if cla not in (0x00, 0x80):
            return SW_CLA
        return SW_INS

    def _select(self, name: bytes) -> bytes:
        self._processing = False
        if name == PPSE:
            self._selected = None
            entries = [
                Tlv.build(
                    "61",
                    Tlv.build("4F", bytes.fromhex(app.profile.aid)),
                    Tlv.build("50", app.profile.label.encode("ascii")),
                    Tlv.build("87", bytes([app.priority])),
                )
                for app in self.apps
            ]
            fci = Tlv.build(
                "6F",
                Tlv.build("84", PPSE),
                Tlv.build("A5", Tlv.build("BF0C", *entries)),
            )
            return tlv.encode_one(fci) + SW_OK
        for app in self.apps:
            if name and bytes.fromhex(app.profile.aid).startswith(name):
                self._selected = app
                proprietary = [
                    Tlv.build("50", app.profile.label.encode("ascii")),
                    Tlv.build("87", bytes([app.priority])),
                ]
                if app.visa_style:
                    proprietary.append(Tlv.build("9F38", VISA_PDOL))
                fci = Tlv.build(
                    "6F",
                    Tlv.build("84", bytes.fromhex(app.profile.aid)),
                    Tlv.build("A5", *proprietary),
                )
                return tlv.encode_one(fci) + SW_OK
        self._selected = None
        return SW_NOT_FOUND

    def _gpo(self, data: bytes) -> bytes | None:
        app = self._selected
        if app is None:
            return SW_CONDITIONS
        if self.profile.behaviour == "pulled-away":
            return None  # the customer took the card away after SELECT
        if len(data) < 2 or data[0] != 0x83 or data[1] != len(data) - 2:
            return SW_WRONG_LENGTH
        values = data[2:]
        self.atc = self.atc % 0xFFFF + 1
        self.taps += 1
        self._processing = True
        if not app.visa_style:
            if values:
                return SW_WRONG_LENGTH
            afl = bytes.fromhex("0801010010010200")
            return tlv.encode_one(Tlv.build("80", app.aip + afl)) + SW_OK
        terminal = _dol_values(VISA_PDOL, values)
        if terminal is None:
            return SW_WRONG_LENGTH
        answer = self._cryptogram(app, terminal)
        if answer is None:
            return SW_CONDITIONS
        ctq = bytes([0x00, 0x80 if app.profile.cdcvm else 0x00])
        items = [
            Tlv.build("82", app.aip),
            Tlv.build("94", bytes.fromhex("08010100")),
            Tlv.build("57", track2(app.profile)),
            Tlv.build("5F34", bytes.fromhex(app.profile.psn)),
            *answer,
            Tlv.build("9F6C", ctq),
        ]
        if app.profile.wallet:
            items.append(Tlv.build("9F19", TOKEN_REQUESTOR_ID))
        return tlv.encode_one(Tlv.build("77", *items)) + SW_OK

    def _read_record(self, record: int, p2: int) -> bytes:
        app = self._selected
        if app is None or not self._processing:
            return SW_CONDITIONS
        if p2 & 0x07 != 0x04:
            return b"\x6a\x86"
        found = app.records.get((p2 >> 3, record))
        return found + SW_OK if found is not None else SW_RECORD_NOT_FOUND

    def _generate_ac(self, data: bytes) -> bytes:
        app = self._selected
        if app is None or not self._processing or app.visa_style:
            return SW_CONDITIONS
        terminal = _dol_values(MASTERCARD_CDOL1, data)
        if terminal is None:
            return SW_WRONG_LENGTH
        answer = self._cryptogram(app, terminal)
        if answer is None:
            return SW_CONDITIONS
        self._processing = False
        if app.profile.cdcvm:
            answer.append(Tlv.build("DF4B", bytes.fromhex("010100")))
        return tlv.encode_one(Tlv.build("77", *answer)) + SW_OK

    # -- card data ------------------------------------------------------------------------

    def _cryptogram(self, app: _Application, terminal: dict[str, bytes]) -> list[Tlv] | None:
        if self.profile.behaviour == "slow":
            time.sleep(self.slow_s)
        keys = app.profile.issuer
        iad = issuer_application_data(keys.cvn)
        atc = self.atc.to_bytes(2, "big")
        inputs = {**terminal, "82": app.aip, "9F36": atc, "9F10": iad}
        try:
            arqc = generate_arqc(keys, app.profile.pan, app.profile.psn, inputs)
        except CryptogramError:
            return None
        return [
            Tlv.build("9F27", b"\x80"),
            Tlv.build("9F36", atc),
            Tlv.build("9F26", arqc),
            Tlv.build("9F10", iad),
        ]

    def _records(self, app: _Application) -> dict[tuple[int, int], bytes]:
        p = app.profile
        card = [
            Tlv.build("5A", bytes.fromhex(p.pan + ("F" if len(p.pan) % 2 else ""))),
            Tlv.build("5F24", bytes.fromhex(p.expiry)),
            Tlv.build("5F25", EFFECTIVE_DATE),
            Tlv.build("5F28", ISSUER_COUNTRY),
        ]
        if app.visa_style:
            return {(1, 1): tlv.encode_one(Tlv.build("70", *card))}
        currency = bcd(int(iso_currency(p.currency).numeric), 2)
        return {
            (1, 1): tlv.encode_one(Tlv.build("70", Tlv.build("57", track2(p)))),
            (2, 1): tlv.encode_one(Tlv.build("70", *card, Tlv.build("5F34", bytes.fromhex(p.psn)))),
            (2, 2): tlv.encode_one(
                Tlv.build(
                    "70",
                    Tlv.build("8C", MASTERCARD_CDOL1),
                    Tlv.build("8D", bytes.fromhex("8A02")),
                    Tlv.build("9F42", currency),
                )
            ),
        }


def _dol_values(dol: bytes, values: bytes) -> dict[str, bytes] | None:
    """Split the terminal's values along `dol`; None when the length does not match."""
    items = tlv.parse_dol(dol)
    if sum(length for _, length in items) != len(values):
        return None
    out: dict[str, bytes] = {}
    pos = 0
    for tag, length in items:
        out[tag] = values[pos : pos + length]
        pos += length
    return out
