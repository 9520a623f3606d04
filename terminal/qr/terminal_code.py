"""The merchant-presented code this terminal shows, from its configuration (PROTOCOL.md rule 5).

Dynamic codes carry point of initiation 12, the amount in tag 54 in the currency's exponent,
the gateway's intent id as reference label 62/05 and the terminal id as terminal label 62/07.
"""

from __future__ import annotations

from terminal.money import Amount
from terminal.qr.mpm import MerchantCodeRequest, build_merchant_code
from terminal.settings import Settings


def merchant_code_request(
    settings: Settings, *, amount: Amount | None, reference: str = "", dynamic: bool = True
) -> MerchantCodeRequest:
    """The configured merchant, terminal and account template around one amount."""
    terminal = settings.terminal
    return MerchantCodeRequest(
        merchant_account={
            "26": {"00": settings.qr.merchant_account_gui, "01": terminal.merchant_id}
        },
        mcc=terminal.mcc,
        currency=settings.currency,
        country=terminal.country,
        merchant_name=terminal.merchant_name,
        merchant_city=terminal.merchant_city,
        amount=amount,
        dynamic=dynamic,
        reference_label=reference,
        terminal_label=terminal.terminal_id,
    )


def intent_payload(settings: Settings, amount: Amount, intent_id: str) -> str:
    """The dynamic payload for one gateway payment intent (raises `BuildError`)."""
    return build_merchant_code(
        merchant_code_request(settings, amount=amount, reference=intent_id, dynamic=True)
    )
