"""The `card_read` step every tapped payment shares (sale, card refund, pre-authorisation).

What the card said is recorded once, the same way for each: the journal move (committed with
the next step, never alone), the subject its outcome is built from (with what the receipt
needs: label, cryptogram type, CVM), and the operator's "Card read" line. Never the PAN: the
journal gets the masked PAN and the keyed fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable

from terminal.emv.card_data import CardData
from terminal.money import Amount
from terminal.payment.api import Progress, ProgressCallback, Stage
from terminal.payment.journal import Change
from terminal.payment.settlement import Subject
from terminal.payment.states import Event


def card_read(
    txn_id: str,
    amount: Amount,
    entry: str,
    card: CardData,
    fingerprint: Callable[[str], str],
    progress: ProgressCallback,
    *,
    kind: str = "sale",
) -> tuple[Subject, Change]:
    """(the subject, the `card_read` move) of a tapped card, after telling the operator."""
    label = card.label or card.scheme.upper()
    subject = Subject(
        txn_id,
        amount,
        entry,
        card.masked_pan,
        card.scheme,
        card.aid,
        kind=kind,
        label=label,
        cryptogram_type=card.cryptogram_type,
        cvm=card.cvm.value,
    )
    fields = {
        "masked_pan": card.masked_pan,
        "scheme": card.scheme,
        "aid": card.aid,
        "label": label,
        "cryptogram_type": card.cryptogram_type,
        "cvm": card.cvm.value,
        "fingerprint": fingerprint(card.pan),
    }
    progress(Progress(Stage.CARD_READ, f"Card read: {label} {card.masked_pan}", txn_id))
    return subject, Change(txn_id, Event.CARD_READ, fields)
