"""What the status panel says about an outcome, and the journal row a receipt is printed from.

Pure of Textual so the wording can be checked on its own."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from rich.text import Text

from terminal.i18n import _, active
from terminal.i18n.words import decline_reason
from terminal.payment.api import Outcome, PaymentEngine, Result, TransactionView

log = logging.getLogger(__name__)


def result_panel(outcome: Outcome) -> tuple[Text, str, str]:
    """(headline, detail, style class) for the status panel."""
    result = outcome.result
    if result is Result.APPROVED:
        headline = Text("✔ " + _("Approved"), style="bold")
        detail = _("Auth code {code}").format(code=outcome.auth_code or "-")
        style = "approved"
    elif result is Result.APPROVED_OFFLINE:
        headline = Text("✔ " + _("Approved offline"), style="bold")
        detail = _("The bank is not reachable: this payment will be sent when the link is back.")
        style = "approved"
    elif result is Result.DECLINED:
        headline = Text("✘ " + _("Declined"), style="bold")
        detail = decline_reason(outcome.code, outcome.message)
        if outcome.code:
            detail += f" ({outcome.code})"
        style = "declined"
    elif result is Result.CANCELLED:
        headline = Text(_("Cancelled"), style="bold")
        detail = _("Nothing was charged.")
        style = "warning"
    else:
        headline = Text("✘ " + _("Not completed"), style="bold")
        detail = outcome.message or _("The payment did not complete; nothing was charged.")
        style = "declined"
    if outcome.masked_pan:
        detail += "\n" + _("Card") + f" {outcome.masked_pan}"
    paid = outcome.approved_amount
    if result is Result.APPROVED and paid is not None and paid != outcome.amount:
        tr = active()  # a partial approval: what the card paid of what was asked
        detail += "\n" + _("Paid {paid} of {asked}").format(
            paid=tr.amount(paid), asked=tr.amount(outcome.amount)
        )
    else:
        detail += "\n" + active().amount(outcome.amount)
    return headline, detail, style


def receipt_view(engine: PaymentEngine, outcome: Outcome) -> TransactionView:
    """The journal row for the receipt (built from the outcome if the row cannot be read)."""
    try:
        return engine.transaction(outcome.id)
    except Exception as error:
        log.warning("transaction %s not readable for the receipt: %s", outcome.id, error)
        return TransactionView(
            id=outcome.id,
            type="sale",
            state=outcome.state or outcome.result.value,
            result=outcome.result.value,
            amount=outcome.amount,
            entry=outcome.entry,
            masked_pan=outcome.masked_pan,
            created_at=datetime.now(UTC),
            code=outcome.code,
            auth_code=outcome.auth_code,
            scheme=outcome.scheme,
            aid=outcome.aid,
            message=outcome.message,
            label=outcome.label,
            cryptogram_type=outcome.cryptogram_type,
            cvm=outcome.cvm,
        )
