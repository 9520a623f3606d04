"""The one way to build a payment engine from settings: the CLI, the operator screen and the
ECR API all call `build_engine`, so a sale behaves the same whichever door it came in by.

    engine = build_engine(settings, card_capture=capture)
    async with engine:            # recovery, then the store-and-forward task
        outcome = await engine.sale(request, progress, cancel)
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from terminal.payment.api import CardCapture, CodePresenter, CodeScanner
from terminal.payment.engine import Engine
from terminal.payment.journal import Journal
from terminal.settings import Settings

if TYPE_CHECKING:
    from terminal.gateway.jose import GatewayKeys
    from terminal.payment.bank import Bank
    from terminal.security.keystore import Keystore


def build_engine(
    settings: Settings,
    *,
    card_capture: CardCapture | None = None,
    code_scanner: CodeScanner | None = None,
    code_presenter: CodePresenter | None = None,
) -> Engine:
    """Open the journal, the terminal's keystore and the gateway link; nothing is sent yet.

    `[gateway] protocol` chooses the bank adapter: posterm-v1 (JOSE over HTTPS) or iso8583.
    Raises `JournalUnavailable`, `KeystoreError` or a gateway configuration error with the
    technician's sentence when something needed is missing.
    """
    from terminal.payment.fingerprint import CardFingerprint
    from terminal.security.key_hierarchy import RootPlace
    from terminal.security.keystore import Keystore

    iso8583 = settings.gateway.protocol == "iso8583"
    keys = _gateway_keys(settings) if settings.gateway.url or not iso8583 else None
    keystore = Keystore.open(
        settings.data_dir, settings.terminal.terminal_id, root=RootPlace.of(settings)
    )
    bank: Bank
    if iso8583:
        bank = _iso8583_bank(settings, keystore, keys)
        if keys is None:
            code_scanner = _NoQrScanner()
    else:
        assert keys is not None
        bank = _gateway_bank(settings, keystore, keys)
    journal = Journal.open(settings.data_dir)
    return Engine(
        settings,
        journal,
        bank,
        fingerprint=CardFingerprint.from_keys(keystore),
        card_capture=card_capture,
        code_scanner=code_scanner,
        code_presenter=code_presenter,
    )


def _gateway_keys(settings: Settings) -> GatewayKeys:
    from terminal.gateway.errors import MessageError
    from terminal.gateway.jose import GatewayKeys
    from terminal.payment.errors import NotConfigured

    try:
        return GatewayKeys.from_settings(settings.gateway)
    except MessageError as error:
        raise NotConfigured(f"Payments cannot start: {error.sentence}") from None


def _gateway_bank(settings: Settings, keystore: Keystore, keys: GatewayKeys) -> Bank:
    """The posterm-v1 link (JOSE over HTTPS)."""
    from terminal.gateway.client import GatewayClient
    from terminal.payment.gateway_link import GatewayBank

    return GatewayBank(settings, keystore, keys, GatewayClient(settings, keys))


def _iso8583_bank(settings: Settings, keystore: Keystore, keys: GatewayKeys | None) -> Bank:
    """Card payments over ISO 8583 (`[iso8583]`); QR over posterm-v1 when `[gateway] url`."""
    from terminal.iso8583.adapter import IsoBank
    from terminal.iso8583.errors import Iso8583Error
    from terminal.iso8583.links import Links
    from terminal.payment.errors import NotConfigured
    from terminal.security.key_hierarchy import RootPlace
    from terminal.security.root_secret import RootSecretError

    try:
        store_key = RootPlace.of(settings).open(settings.data_dir).iso8583_store_key()
        iso = IsoBank.from_settings(settings, store_key)
    except (Iso8583Error, RootSecretError) as error:
        raise NotConfigured(f"Payments cannot start: {error.sentence}") from None
    gateway = _gateway_bank(settings, keystore, keys) if keys is not None else None
    return Links(iso, gateway)


class _NoQrScanner:
    """Refuses customer-presented codes before the camera starts: no link carries them."""

    async def scan(self, cancel: asyncio.Event, timeout_s: float) -> str:
        from terminal.payment.api import Result
        from terminal.payment.capture import Stopped
        from terminal.payment.qr_link import QR_REFUSED

        raise Stopped(Result.ERROR, QR_REFUSED + ".")
