"""What the contactless kernel hands the payment engine (PROTOCOL.md's `card` object).

Lives only in memory: the engine encrypts `sensitive()` to the gateway at once and keeps just
`masked_pan`, `scheme`, `aid` and a keyed fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from terminal.emv.receipt_data import Cvm, cryptogram_type, cvm_performed
from terminal.security.pan import mask_pan


@dataclass(frozen=True, slots=True, repr=False)
class CardData:
    """A card or phone wallet as read in one tap."""

    scheme: str
    """visa, mastercard, maestro, amex, discover, jcb, unionpay."""
    aid: str
    """Application identifier selected, hex."""
    pan: str
    """PAN or wallet DPAN, digits only. Never logged, shown or stored in clear."""
    expiry: str
    """YYMMDD (tag 5F24) or YYMM from track 2."""
    psn: str = ""
    """PAN sequence number (5F34), two digits, if present."""
    track2: str = ""
    """Track 2 equivalent (tag 57) as hex, if present."""
    emv: dict[str, str] = field(default_factory=dict)
    """EMV data for the issuer: tag (hex, upper case) -> value (hex)."""
    label: str = ""
    """Application label (tag 50) for receipts, e.g. "VISA CREDIT"."""
    wallet: bool = False
    """A phone or watch presenting a tokenised DPAN."""
    cdcvm: bool = False
    """The device verified its owner (consumer device CVM)."""

    @property
    def masked_pan(self) -> str:
        return mask_pan(self.pan)

    @property
    def cryptogram_type(self) -> str:
        """TC, ARQC or AAC: what the card's cryptogram is (for the receipt and the journal)."""
        return cryptogram_type(self.emv)

    @property
    def cvm(self) -> Cvm:
        """How the cardholder was verified (the receipt's CVM line)."""
        return cvm_performed(self.emv, cdcvm=self.cdcvm)

    def sensitive(self) -> dict[str, object]:
        """The plaintext for the gateway JWE: {"pan","expiry","psn","track2","emv"}."""
        return {
            "pan": self.pan,
            "expiry": self.expiry,
            "psn": self.psn,
            "track2": self.track2,
            "emv": dict(self.emv),
        }

    def __repr__(self) -> str:  # never the PAN, even in a debugger or a traceback
        return f"CardData(scheme={self.scheme!r}, aid={self.aid!r}, pan={self.masked_pan!r})"
