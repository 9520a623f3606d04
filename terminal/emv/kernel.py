"""The contactless kernel: from a card in the field to the `CardData` the engine sends online.

SELECT PPSE -> choose the application (card priority, terminal AID list) -> SELECT AID ->
GET PROCESSING OPTIONS with the PDOL filled -> READ RECORD for every AFL entry -> (GENERATE AC
when the card asks for it with a CDOL1 instead of answering qVSDC-style in the GPO) -> checks
(expiry, effective date, card decision, contactless limits and CDCVM) -> `CardData`.

Time in the field: the customer holds the card still while the kernel works between two
commands, so that work is kept to what the next command needs. Terminal data is prepared
before the first SELECT, answers are read flat (`tlv.scan`, no object tree), records are only
collected while they arrive and parsed after the last one, and the card data is built after
the last command. `python -m bench nfc` measures the kernel's share of the interaction.

Written against `drivers.base.Card` (`transceive(bytes) -> bytes`), never against nfcpy. Every
answer is parsed by pure functions raising `EmvError`s, so any byte string from a card ends in
a typed error or valid card data, and every loop is bounded.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date

from drivers.base import Card
from terminal.emv import apdu, selection, tlv
from terminal.emv.card_data import CardData
from terminal.emv.errors import (
    AnotherInterface,
    ApplicationBlocked,
    ApplicationMismatch,
    CardDataError,
    CardDeclinedOffline,
    CardExpired,
    CardNotYetValid,
    ContactlessLimitExceeded,
    CvmRequired,
    EmvError,
    MissingRecord,
    NotEmvCard,
    UnsupportedApplication,
)
from terminal.emv.terminal_data import TERMINAL_TAGS, Transaction, fill_dol
from terminal.iso_codes import country
from terminal.money import Amount
from terminal.settings import Settings

RECORD_TEMPLATES = ("70", "77")
MAX_RECORDS = 64
"""More records than any payment application holds: a longer AFL is an attack or a fault."""

CARD_TAGS = ("9F26", "9F27", "9F36", "9F10", "82", "84", "9F6C", "9F6E", "9F19", "DF4B", "9F34")
"""Card data elements forwarded to the issuer besides the terminal's own (TERMINAL_TAGS)."""

CID_TYPE_MASK = 0xC0
CID_AAC = 0x00
CTQ_CDCVM_PERFORMED = 0x80  # Visa CTQ (9F6C) byte 2 b8: consumer device CVM performed
AIP_ON_DEVICE_CVM = 0x02  # Mastercard AIP byte 1 b2: on-device cardholder verification
POS_INTERACTION_OD_CVM_VERIFIED = 0x01  # our reading of DF4B byte 2 b1: OD-CVM verified


@dataclass(frozen=True, slots=True)
class KernelConfig:
    """The terminal's contactless parameters (`[nfc]` and `[terminal]` settings)."""

    aids: tuple[str, ...]
    transaction_limit: Amount
    cvm_limit: Amount
    country_numeric: str

    @classmethod
    def from_settings(cls, settings: Settings) -> KernelConfig:
        return cls(
            aids=tuple(settings.nfc.aids),
            transaction_limit=settings.amount("nfc", "transaction_limit"),
            cvm_limit=settings.amount("nfc", "cvm_limit"),
            country_numeric=country(settings.terminal.country).numeric,
        )


def check_limits(amount: Amount, config: KernelConfig) -> bool:
    """Raise when the amount cannot be paid contactless; True when a CVM will be needed."""
    if amount > config.transaction_limit:
        raise ContactlessLimitExceeded(
            amount.format_display(), config.transaction_limit.format_display()
        )
    return amount > config.cvm_limit


def read_card(card: Card, transaction: Transaction, config: KernelConfig) -> CardData:
    """Run one contactless transaction with the card in the field."""
    cvm_required = check_limits(transaction.amount, config)
    transaction = replace(transaction, cvm_required=cvm_required)
    # Everything that does not depend on the card is ready before the first command: the
    # card is in the field now, and each millisecond here is one it may leave in.
    values = transaction.terminal_values()
    candidates = _directory(card, config)
    problem: EmvError | None = None
    for candidate in candidates:
        try:
            fci = _select_application(card, candidate)
        except (ApplicationBlocked, _NotOnCard) as error:
            problem = error if isinstance(error, EmvError) else problem
            continue
        return _process(card, candidate, fci, transaction, values, config)
    raise problem or NotEmvCard("no listed application could be selected")


class _NotOnCard(Exception):
    """The card does not have the application it listed; try the next one."""


def _directory(card: Card, config: KernelConfig) -> list[selection.Candidate]:
    answer = apdu.exchange(card, apdu.select(apdu.PPSE_NAME), "SELECT PPSE")
    if answer.sw in (apdu.SW_NOT_FOUND, apdu.SW_FUNCTION_NOT_SUPPORTED):
        raise NotEmvCard("no PPSE")
    if answer.sw == apdu.SW_FILE_INVALIDATED:
        raise ApplicationBlocked()
    if not answer.ok:
        raise NotEmvCard(f"SELECT PPSE answered {answer.sw:04X}")
    listed = selection.directory(answer.data)
    if not listed:
        raise NotEmvCard("PPSE lists no application")
    chosen = selection.choose(listed, config.aids)
    if not chosen:
        raise UnsupportedApplication([c.aid for c in listed])
    return chosen


def _select_application(card: Card, candidate: selection.Candidate) -> dict[str, bytes]:
    answer = apdu.exchange(card, apdu.select(bytes.fromhex(candidate.aid)), "SELECT AID")
    if answer.sw == apdu.SW_FILE_INVALIDATED:
        raise ApplicationBlocked()
    if answer.sw in (apdu.SW_NOT_FOUND, apdu.SW_FUNCTION_NOT_SUPPORTED):
        raise _NotOnCard(candidate.aid)
    if not answer.ok:
        raise CardDataError(f"SELECT {candidate.aid} answered {answer.sw:04X}")
    read = tlv.scan(answer.data)
    if read.first != "6F":
        raise CardDataError("SELECT AID answer is not an FCI template (6F)")
    fci = read.primitives
    name = fci.get("84", b"").hex().upper()
    if name != candidate.aid:
        raise ApplicationMismatch(f"selected {candidate.aid}, the card answered {name or 'none'}")
    return fci


def _process(
    card: Card,
    candidate: selection.Candidate,
    fci: dict[str, bytes],
    transaction: Transaction,
    values: dict[str, bytes],
    config: KernelConfig,
) -> CardData:
    pdol_values, sent = fill_dol(fci.get("9F38", b""), values)
    answer = apdu.exchange(card, apdu.get_processing_options(pdol_values), "GET PROCESSING OPTIONS")
    if answer.sw == apdu.SW_CONDITIONS_NOT_SATISFIED:
        raise AnotherInterface()
    if answer.sw in (apdu.SW_DATA_INVALIDATED, apdu.SW_FILE_INVALIDATED):
        raise ApplicationBlocked()
    if not answer.ok:
        raise CardDataError(f"GET PROCESSING OPTIONS answered {answer.sw:04X}")
    data = _gpo_data(answer.data)
    # Records are only read here; they are parsed once the card is done (or needs the CDOL1
    # they carry), so the customer holds the card for the card's time, not the parser's.
    records = [_read_record(card, sfi, record) for sfi, record in _afl_records(data.get("94", b""))]
    for where, raw in records:
        _merge(data, _record_data(where, raw))
    if "9F26" not in data and "8C" in data:
        cdol_values, cdol_sent = fill_dol(data["8C"], values)
        sent.update(cdol_sent)
        answer = apdu.exchange(card, apdu.generate_ac_arqc(cdol_values), "GENERATE AC")
        if not answer.ok:
            raise CardDataError(f"GENERATE AC answered {answer.sw:04X}")
        data.update(_generate_ac_data(answer.data))
    return _card_data(candidate, fci, data, {**values, **sent}, transaction, config)


def _merge(data: dict[str, bytes], found: dict[str, bytes]) -> None:
    for tag, value in found.items():
        data.setdefault(tag, value)


def _gpo_data(raw: bytes) -> dict[str, bytes]:
    answer = tlv.scan(raw, ("77",))
    if not answer.first:
        raise CardDataError("empty GET PROCESSING OPTIONS answer")
    if answer.first == "80":  # format 1: AIP (2) then AFL
        value = answer.primitives["80"]
        if len(value) < 2 or (len(value) - 2) % 4:
            raise CardDataError("GET PROCESSING OPTIONS format 1 has a malformed AIP/AFL")
        return {"82": value[:2], "94": value[2:]}
    if answer.first == "77":  # format 2: a template, qVSDC cards add their cryptogram here
        data = answer.groups[0]
        if len(data.get("82", b"")) != 2:
            raise CardDataError("GET PROCESSING OPTIONS answer without AIP")
        return data
    raise CardDataError(f"GET PROCESSING OPTIONS answer has unknown template {answer.first}")


def _afl_records(afl: bytes) -> list[tuple[int, int]]:
    if len(afl) % 4:
        raise CardDataError(f"application file locator of {len(afl)} bytes")
    records: list[tuple[int, int]] = []
    for i in range(0, len(afl), 4):
        sfi, first, last = afl[i] >> 3, afl[i + 1], afl[i + 2]
        if not 1 <= sfi <= 30 or afl[i] & 0x07 or first == 0 or last < first:
            raise CardDataError(f"bad application file locator entry {afl[i : i + 4].hex()}")
        records.extend((sfi, record) for record in range(first, last + 1))
        if len(records) > MAX_RECORDS:
            raise CardDataError(f"application file locator names over {MAX_RECORDS} records")
    return records


def _read_record(card: Card, sfi: int, record: int) -> tuple[str, bytes]:
    """The record's raw answer, with its name for errors (parsed by `_record_data`)."""
    answer = apdu.exchange(card, apdu.read_record(sfi, record), "READ RECORD")
    if answer.sw == apdu.SW_RECORD_NOT_FOUND:
        raise MissingRecord(f"record {record} of SFI {sfi} named in the AFL is missing")
    if not answer.ok:
        raise CardDataError(f"READ RECORD {sfi}/{record} answered {answer.sw:04X}")
    return f"record {record} of SFI {sfi}", answer.data


def _record_data(where: str, raw: bytes) -> dict[str, bytes]:
    answer = tlv.scan(raw, RECORD_TEMPLATES)
    if answer.first not in RECORD_TEMPLATES:
        raise CardDataError(f"{where} is not a record template (70)")
    return answer.groups[0]


def _generate_ac_data(raw: bytes) -> dict[str, bytes]:
    answer = tlv.scan(raw, ("77",))
    if answer.first == "77":
        return answer.groups[0]
    value = answer.primitives.get("80", b"")
    if answer.first == "80" and len(value) >= 11:
        return {"9F27": value[:1], "9F36": value[1:3], "9F26": value[3:11], "9F10": value[11:]}
    raise CardDataError("GENERATE AC answer is neither format 1 nor format 2")


def _digits(value: bytes, what: str) -> str:
    text = value.hex().upper().rstrip("F")
    if not text.isdigit():
        raise CardDataError(f"{what} is not numeric")
    return text


def _card_data(
    candidate: selection.Candidate,
    fci: dict[str, bytes],
    data: dict[str, bytes],
    terminal: dict[str, bytes],
    transaction: Transaction,
    config: KernelConfig,
) -> CardData:
    track2 = data.get("57", b"").hex().upper()
    track2_pan, _, track2_rest = track2.partition("D")
    pan = _digits(data["5A"], "PAN") if "5A" in data else track2_pan
    if not pan.isdigit() or not 12 <= len(pan) <= 19:
        raise CardDataError("the card gave no usable PAN")
    if track2 and track2_pan != pan:
        raise CardDataError("track 2 equivalent does not match the PAN")
    if "5F24" in data:
        expiry = _digits(data["5F24"], "expiry date")
    else:
        expiry = track2_rest[:4]
    _check_dates(expiry, data.get("5F25"), transaction.today)
    for tag, length in (("9F26", 8), ("9F27", 1), ("9F36", 2), ("82", 2)):
        if len(data.get(tag, b"")) != length:
            raise CardDataError(f"the card gave no valid {tag}")
    if data["9F27"][0] & CID_TYPE_MASK == CID_AAC:
        raise CardDeclinedOffline()
    scheme = selection.scheme_of(candidate.aid)
    cdcvm = _cdcvm(scheme, data)
    if transaction.cvm_required and not cdcvm:
        raise CvmRequired(transaction.amount.format_display(), config.cvm_limit.format_display())
    emv = {tag: terminal[tag].hex().upper() for tag in TERMINAL_TAGS if tag in terminal}
    emv.update({tag: data[tag].hex().upper() for tag in CARD_TAGS if tag in data})
    label = (fci.get("50") or data.get("50") or b"").decode("ascii", "replace").strip()
    psn = data.get("5F34", b"")
    return CardData(
        scheme=scheme,
        aid=candidate.aid,
        pan=pan,
        expiry=expiry,
        psn=psn[:1].hex() if psn else "",
        track2=track2,
        emv=emv,
        label=label or candidate.label,
        wallet="9F19" in data,
        cdcvm=cdcvm,
    )


def _cdcvm(scheme: str, data: dict[str, bytes]) -> bool:
    """Did the phone verify its owner? Visa-style CTQ, or Mastercard-style AIP + DF4B."""
    ctq = data.get("9F6C", b"")
    if len(ctq) >= 2 and ctq[1] & CTQ_CDCVM_PERFORMED:
        return True
    if scheme in ("mastercard", "maestro"):
        interaction = data.get("DF4B", b"")
        return bool(
            data["82"][0] & AIP_ON_DEVICE_CVM
            and len(interaction) >= 2
            and interaction[1] & POS_INTERACTION_OD_CVM_VERIFIED
        )
    return False


def _parse_date(text: str, what: str) -> date:
    try:
        year, month = 2000 + int(text[0:2]), int(text[2:4])
        day = int(text[4:6]) if len(text) >= 6 else calendar.monthrange(year, month)[1]
        return date(year, month, day)
    except (ValueError, IndexError):
        raise CardDataError(f"{what} {text!r} is not a date") from None


def _check_dates(expiry: str, effective: bytes | None, today: date) -> None:
    if len(expiry) not in (4, 6):
        raise CardDataError("the card gave no expiry date")
    if _parse_date(expiry, "expiry date") < today:
        raise CardExpired(expiry)
    if effective:
        start = _digits(effective, "effective date")
        if _parse_date(start, "effective date") > today:
            raise CardNotYetValid(start)
