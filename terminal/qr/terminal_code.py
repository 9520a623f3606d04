"""The merchant-presented code this terminal shows, from its configuration (PROTOCOL.md rule 5).

The code carries the terminal's own network template and every `[[qr.merchant_accounts]]`
national scheme template (schemes.py), so one code is paid by any of those wallets.

Dynamic codes carry point of initiation 12, the amount in tag 54 in the currency's exponent,
the gateway's intent id as reference label 62/05 and the terminal id as terminal label 62/07.
"""

from __future__ import annotations

from terminal.money import Amount
from terminal.qr.errors import BuildError
from terminal.qr.mpm import MerchantCodeRequest, build_merchant_code
from terminal.qr.schemes import SCHEMES, SchemeRuleError, template
from terminal.settings import Settings

ACCOUNT_TAGS = tuple(f"{number:02d}" for number in range(26, 52))


def merchant_accounts(settings: Settings, *, dynamic: bool) -> dict[str, dict[str, str]]:
    """Every merchant account template of the code: the configured national schemes in their
    tags, and the terminal's own network template in the first free tag from 26."""
    accounts: dict[str, dict[str, str]] = {}
    for entry in settings.qr.merchant_accounts:
        scheme = SCHEMES[entry.scheme]
        try:
            fields = template(scheme, entry.account, entry.fields, dynamic, entry.gui)
        except SchemeRuleError as error:
            raise BuildError(f"{scheme.label} account: {error}") from None
        accounts[entry.tag or scheme.tag] = fields
    own = next(tag for tag in ACCOUNT_TAGS if tag not in accounts)
    accounts[own] = {"00": settings.qr.merchant_account_gui, "01": settings.terminal.merchant_id}
    return dict(sorted(accounts.items()))


def scheme_reference(settings: Settings, reference: str, *, dynamic: bool) -> str:
    """The reference label (62/05) every configured scheme accepts (Pix: its txid rules)."""
    for entry in settings.qr.merchant_accounts:
        rule = SCHEMES[entry.scheme].reference
        if rule is not None:
            try:
                reference = rule(reference, dynamic)
            except SchemeRuleError as error:
                raise BuildError(str(error)) from None
    return reference


def merchant_code_request(
    settings: Settings, *, amount: Amount | None, reference: str = "", dynamic: bool = True
) -> MerchantCodeRequest:
    """The configured merchant, terminal and account templates around one amount."""
    terminal = settings.terminal
    reference = scheme_reference(settings, reference, dynamic=dynamic)
    return MerchantCodeRequest(
        merchant_account=merchant_accounts(settings, dynamic=dynamic),
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
