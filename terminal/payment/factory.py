"""The one way to build a payment engine from settings: the CLI, the operator screen and the
ECR API all call `build_engine`, so a sale behaves the same whichever door it came in by.

    engine = build_engine(settings, card_capture=capture)
    async with engine:            # recovery, then the store-and-forward task
        outcome = await engine.sale(request, progress, cancel)
"""

from __future__ import annotations

from terminal.payment.api import CardCapture, CodePresenter, CodeScanner
from terminal.payment.engine import Engine
from terminal.payment.journal import Journal
from terminal.settings import Settings


def build_engine(
    settings: Settings,
    *,
    card_capture: CardCapture | None = None,
    code_scanner: CodeScanner | None = None,
    code_presenter: CodePresenter | None = None,
) -> Engine:
    """Open the journal, the terminal's keystore and the gateway link; nothing is sent yet.

    Raises `JournalUnavailable`, `KeystoreError` or a gateway configuration error with the
    technician's sentence when something needed is missing.
    """
    from terminal.gateway.client import GatewayClient
    from terminal.gateway.errors import MessageError
    from terminal.gateway.jose import GatewayKeys
    from terminal.payment.errors import NotConfigured
    from terminal.payment.fingerprint import CardFingerprint
    from terminal.payment.gateway_link import GatewayBank
    from terminal.security.key_hierarchy import RootPlace
    from terminal.security.keystore import Keystore

    try:
        keys = GatewayKeys.from_settings(settings.gateway)
    except MessageError as error:
        raise NotConfigured(f"Payments cannot start: {error.sentence}") from None
    keystore = Keystore.open(
        settings.data_dir, settings.terminal.terminal_id, root=RootPlace.of(settings)
    )
    journal = Journal.open(settings.data_dir)
    client = GatewayClient(settings, keys)
    bank = GatewayBank(settings, keystore, keys, client)
    return Engine(
        settings,
        journal,
        bank,
        fingerprint=CardFingerprint.from_keys(keystore),
        card_capture=card_capture,
        code_scanner=code_scanner,
        code_presenter=code_presenter,
    )
