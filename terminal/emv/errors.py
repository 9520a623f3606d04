"""Why a tap did not give card data, each with the sentence the operator reads.

    EmvError                         every refusal or failure of the contactless kernel
    ├── CardDataError                the card's answer cannot be used (tap again)
    │   ├── TlvError                 malformed BER-TLV (with the offset)
    │   ├── ApplicationMismatch      the card answered another application than selected
    │   └── MissingRecord            the card's file locator points at a record it lacks
    ├── NotEmvCard                   no payment application on the card or tag
    ├── UnsupportedApplication       payment applications, none accepted by this terminal
    ├── ApplicationBlocked           the card's payment application is blocked
    ├── AnotherInterface             the card refuses contactless for this sale (6985)
    ├── CardExpired                  past its expiry date
    ├── CardNotYetValid              before its effective date
    ├── CardDeclinedOffline          the card itself declined (AAC)
    ├── ContactlessLimitExceeded     amount above nfc.transaction_limit
    └── CvmRequired                  above nfc.cvm_limit without a verified phone

Every class has one parent and exit code 1: the sale did not happen, nothing was sent. What the
reader or the field did (no card in time, cancelled, card pulled away, two cards, no reader) is
not the kernel's to say: those stay the driver's errors (`drivers.base`), each with its
sentence. The capture step (terminal/payment/capture.py) turns either tree into the sale's end
in one table: a card that cannot pay this sale is declined, a tap that gave no usable answer is
cancelled (tap again).
"""

from __future__ import annotations

from terminal.errors import PostermError


class EmvError(PostermError):
    """The tap did not give card data usable for this sale."""

    exit_code = 1


class CardDataError(EmvError):
    """The card answered something the kernel cannot use."""

    def __init__(self, detail: str, sentence: str = "") -> None:
        super().__init__(
            sentence
            or "The card could not be read — ask the customer to tap again and hold it still."
        )
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.sentence} ({self.detail})"


class TlvError(CardDataError):
    """Malformed BER-TLV; `offset` is where in the input the problem starts."""

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(f"{reason} at byte {offset}")
        self.reason = reason
        self.offset = offset


class ApplicationMismatch(CardDataError):
    """The card answered with another application than the one selected."""


class MissingRecord(CardDataError):
    """A record named in the card's application file locator is not on the card."""


class NotEmvCard(EmvError):
    def __init__(self, detail: str = "") -> None:
        super().__init__("This is not a payment card — ask for another card or method.")
        self.detail = detail


class UnsupportedApplication(EmvError):
    def __init__(self, aids: list[str]) -> None:
        super().__init__(
            "This card's payment scheme is not accepted here — ask for another card or method."
        )
        self.aids = aids


class ApplicationBlocked(EmvError):
    def __init__(self) -> None:
        super().__init__("This card is blocked — ask for another card or method.")


class AnotherInterface(EmvError):
    def __init__(self) -> None:
        super().__init__(
            "The card refuses contactless for this sale — ask for another card or method."
        )


class CardExpired(EmvError):
    def __init__(self, expiry: str) -> None:
        super().__init__("This card has expired — ask for another card or method.")
        self.expiry = expiry


class CardNotYetValid(EmvError):
    def __init__(self, effective: str) -> None:
        super().__init__("This card is not valid yet — ask for another card or method.")
        self.effective = effective


class CardDeclinedOffline(EmvError):
    def __init__(self) -> None:
        super().__init__("The card declined the payment — ask for another card or method.")


class ContactlessLimitExceeded(EmvError):
    def __init__(self, amount: str, limit: str) -> None:
        super().__init__(
            f"{amount} is above the contactless limit of {limit}: "
            "amount too high for contactless — use another method."
        )


class CvmRequired(EmvError):
    def __init__(self, amount: str, limit: str) -> None:
        super().__init__(
            f"Above {limit} a card needs a PIN, which this terminal cannot take: "
            "ask the customer to pay with a phone wallet or use another method."
        )
        self.amount = amount
