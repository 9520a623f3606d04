"""NFC through nfcpy: the terminal's reader (`reader`), opened by an nfcpy path (`usb`,
`tty:USB0:pn532`, or `udp:HOST:PORT` with a simulated card from `simulators.card` on the
other side of nfcpy's UDP front end)."""

from drivers.nfc.reader import IsoDepCard, NfcReader

__all__ = ["IsoDepCard", "NfcReader"]
