"""Messages the workers and the engine's callbacks post to the screens."""

from __future__ import annotations

from textual.message import Message

from terminal.payment.api import Outcome, Progress
from terminal.receipts.printing import PrintReport


class SaleProgress(Message):
    """A step of a running sale, refund or void (from the engine's progress callback)."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress


class SaleEnded(Message):
    """The engine gave its outcome."""

    def __init__(self, outcome: Outcome, source: str = "screen") -> None:
        super().__init__()
        self.outcome = outcome
        self.source = source


class ReceiptPrinted(Message):
    def __init__(self, report: PrintReport) -> None:
        super().__init__()
        self.report = report


class CodeShown(Message):
    """The engine asks for a merchant-presented code on screen (CodePresenter.show)."""

    def __init__(self, payload: str, expires_at: str) -> None:
        super().__init__()
        self.payload = payload
        self.expires_at = expires_at


class CodeCleared(Message):
    pass


class EcrSaleStarted(Message):
    """A till started a payment through the ECR API; the screen follows it."""

    def __init__(self, payment_id: str, amount_text: str, method: str) -> None:
        super().__init__()
        self.payment_id = payment_id
        self.amount_text = amount_text
        self.method = method
