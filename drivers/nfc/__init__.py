"""NFC through nfcpy: the terminal's reader (`reader`) and simulated cards and phones
(`card_emulator` + `isodep`) on the other side of nfcpy's UDP front end."""

from drivers.nfc.card_emulator import CardEmulator
from drivers.nfc.isodep import ApduHandler, IsoDepParameters
from drivers.nfc.reader import IsoDepCard, NfcReader

__all__ = ["ApduHandler", "CardEmulator", "IsoDepCard", "IsoDepParameters", "NfcReader"]
