"""The configuration's sections: one pydantic model per TOML table, each field's docstring its
user documentation (`posterm config show --docs`), with the markers `ConfigPath` and `Secret`
that loading and display read from the fields (section_base.py).

The bank link (`[gateway]`, `[iso8583]`), `[qr]`, `[nexo]` and `[fleet]` are in modules of
their own (`*_section.py`); `Settings` gathers every section, and this module exports them all.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from terminal.iso_codes import UnknownCountry, UnknownCurrency, country, currency
from terminal.money import Amount, Currency
from terminal.settings.amounts import AMOUNT_KEYS, UNSET, default_text, setting_amount
from terminal.settings.fleet_section import FleetSection
from terminal.settings.gateway_section import (
    SYSTEM_CAS,
    GatewaySection,
    Iso8583Section,
    is_dialect_path,
)
from terminal.settings.nexo_section import NexoKey, NexoSection
from terminal.settings.qr_section import MerchantAccount, QrSection
from terminal.settings.section_base import STRICT, ConfigPath, PathField, Secret, SecretField

__all__ = [  # the sections kept in their own modules too, so callers need not know which
    "SYSTEM_CAS",
    "ConfigPath",
    "DevicesSection",
    "EcrSection",
    "FleetSection",
    "GatewaySection",
    "Iso8583Section",
    "LoggingSection",
    "MerchantAccount",
    "NexoKey",
    "NexoSection",
    "NfcSection",
    "OfflineSection",
    "PathField",
    "QrSection",
    "RiskSection",
    "Secret",
    "SecretField",
    "SecuritySection",
    "Settings",
    "TerminalSection",
    "UiSection",
    "is_dialect_path",
    "is_marked",
    "is_secret",
    "redacted",
]


def _text(value: str, limit: int) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    if len(value) > limit:
        raise ValueError(f"longer than {limit} characters")
    return value


class TerminalSection(BaseModel):
    """Who this terminal is: the identifiers the bank assigned and where it keeps its data."""

    model_config = STRICT

    terminal_id: str = "POSTERM1"
    """Terminal identifier assigned by the bank: exactly 8 letters or digits."""
    merchant_id: str = "MERCHANT0000001"
    """Merchant identifier assigned by the bank: 1 to 15 letters or digits."""
    merchant_name: str = "POSTERM DEMO SHOP"
    """Merchant name as printed on receipts and shown in QR codes: at most 25 characters."""
    merchant_city: str = "BERLIN"
    """Merchant city for receipts and QR codes: at most 15 characters."""
    merchant_address: str = ""
    """Street address printed on receipts (optional, at most 40 characters)."""
    country: str = "DE"
    """Country the terminal operates in: ISO 3166 alpha-2 code such as DE, FR or BR."""
    currency: str = "EUR"
    """Currency of sales: ISO 4217 alpha code such as EUR, USD or JPY."""
    mcc: str = "5999"
    """Merchant category code: 4 digits (e.g. 5812 restaurants, 5411 grocery)."""
    data_dir: PathField = "/var/lib/posterm"
    """Folder for the journal, keys and audit log; must be writable by the posterm user."""

    @field_validator("terminal_id")
    @classmethod
    def _terminal_id(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9]{8}", value):
            raise ValueError("must be exactly 8 letters or digits (e.g. POS00001)")
        return value

    @field_validator("merchant_id")
    @classmethod
    def _merchant_id(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9]{1,15}", value):
            raise ValueError("must be 1 to 15 letters or digits")
        return value

    @field_validator("merchant_name")
    @classmethod
    def _merchant_name(cls, value: str) -> str:
        return _text(value, 25)

    @field_validator("merchant_city")
    @classmethod
    def _merchant_city(cls, value: str) -> str:
        return _text(value, 15)

    @field_validator("merchant_address")
    @classmethod
    def _merchant_address(cls, value: str) -> str:
        if len(value) > 40:
            raise ValueError("longer than 40 characters")
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError("not an ISO 3166 alpha-2 country code (e.g. DE)")
        try:
            return country(value).alpha2
        except UnknownCountry:
            raise ValueError("not an ISO 3166 alpha-2 country code (e.g. DE)") from None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError("not an ISO 4217 code (e.g. EUR)")
        try:
            return currency(value).code
        except UnknownCurrency:
            raise ValueError("not an ISO 4217 code (e.g. EUR)") from None

    @field_validator("mcc")
    @classmethod
    def _mcc(cls, value: str) -> str:
        if not re.fullmatch(r"\d{4}", value):
            raise ValueError("must be 4 digits (e.g. 5812)")
        return value

    @property
    def sales_currency(self) -> Currency:
        """The configured currency as a `Currency`."""
        return currency(self.currency)


class OfflineSection(BaseModel):
    """Store-and-forward: when and how much the terminal may approve without the bank."""

    model_config = STRICT

    enabled: bool = True
    """Approve card sales offline within the limits below when the gateway is unreachable."""
    floor_limit: str = ""
    """Largest single sale approved offline, in the terminal currency (e.g. "50.00" in EUR,
    "10000" in JPY). Empty: EUR 50.00 scaled to terminal.currency (USD 50.00, JPY 10,000,
    IDR 1,000,000.00, KWD 25.000; factors in terminal/settings/currency_scale.py)."""
    max_count: int = Field(default=250, ge=0, le=100_000)
    """Most offline sales waiting to be forwarded at once."""
    max_total: str = ""
    """Largest total of offline sales waiting to be forwarded, in the terminal currency.
    Empty: EUR 2,000.00 scaled to terminal.currency (JPY 400,000, KWD 1,000.000)."""
    max_age_hours: int = Field(default=24, ge=1, le=168)
    """Refuse offline sales when the oldest unforwarded one is older than this (1 to 168 h)."""
    suspend_on_tls_failure: bool = True
    """While the gateway's TLS certificate fails verification (a man in the middle, or a wrong
    gateway.ca_file), approve nothing offline: such a sale is declined with a security alarm,
    because anyone able to break the link could otherwise force offline approvals."""


class RiskSection(BaseModel):
    """Velocity rules applied to offline approvals (online, the bank decides)."""

    model_config = STRICT

    velocity_count: int = Field(default=3, ge=1, le=1000)
    """Most offline sales on the same card within the window."""
    velocity_total: str = ""
    """Largest total of offline sales on the same card within the window, in the terminal
    currency. Empty: EUR 100.00 scaled to terminal.currency (JPY 20,000, KWD 50.000)."""
    velocity_window_minutes: int = Field(default=60, ge=1, le=10_080)
    """Length of the velocity window in minutes."""


class DevicesSection(BaseModel):
    """Hardware, each chosen by a device string (see ARCHITECTURE.md, "a device is a URL")."""

    model_config = STRICT

    nfc: str = "usb"
    """NFC reader as an nfcpy path: usb, usb:072f:2200, tty:USB0:pn532, udp:localhost:PORT,
    or "none"."""
    camera: str = "none"
    """Camera: device index (0), /dev/videoN, a video file or image pattern, or "none"."""
    printer: str = "none"
    """Receipt printer as a pyserial URL: /dev/ttyUSB0?baudrate=19200, socket://host:port,
    loop://, or "none"."""
    display: str = "none"
    """Customer display as a pyserial URL, or "none"."""

    @field_validator("nfc")
    @classmethod
    def _nfc(cls, value: str) -> str:
        if value == "none" or re.fullmatch(
            r"usb(:[0-9a-fA-F]{3,4}(:[0-9a-fA-F]{3,4})?)?|tty:[\w./-]+(:\w+)?|"
            r"udp(:[\w.-]+(:\d{1,5})?)?",
            value,
        ):
            return value
        raise ValueError(
            'not an nfcpy reader path (usb, usb:VID:PID, tty:USB0:pn532, udp:HOST:PORT or "none")'
        )


class NfcSection(BaseModel):
    """Contactless limits and the applications (AIDs) the terminal accepts."""

    model_config = STRICT

    transaction_limit: str = ""
    """Largest contactless sale, in the terminal currency; above it the customer is asked to
    use another method. Empty: EUR 500.00 scaled to terminal.currency (JPY 100,000,
    KWD 250.000)."""
    cvm_limit: str = ""
    """Above this amount (terminal currency) only a phone that verified its owner (CDCVM) is
    accepted. Empty: EUR 50.00 scaled to terminal.currency (JPY 10,000, KWD 25.000)."""
    tap_timeout_s: float = Field(default=30.0, gt=0, le=300)
    """Seconds to wait for a card or phone before the sale is cancelled."""
    aids: list[str] = Field(
        default_factory=lambda: [
            "A0000000031010",
            "A0000000032010",
            "A0000000032020",
            "A0000000041010",
            "A0000000043060",
            "A00000002501",
            "A0000001523010",
            "A0000000651010",
            "A000000333010101",
        ]
    )
    """Supported application identifiers (hex), in the terminal's order of preference."""

    @field_validator("aids")
    @classmethod
    def _aids(cls, value: list[str]) -> list[str]:
        for aid in value:
            if not re.fullmatch(r"(?:[0-9A-Fa-f]{2}){5,16}", aid):
                raise ValueError(f"{aid!r} is not an AID (10 to 32 hex digits)")
        return [aid.upper() for aid in value]


class EcrSection(BaseModel):
    """The cash-register (ECR) HTTP interface a till program drives."""

    model_config = STRICT

    enabled: bool = False
    """Serve the ECR API (POST /ecr/v1/payments ...)."""
    listen: str = "127.0.0.1:8765"
    """Address and port to listen on, host:port."""
    token: SecretField = ""
    """Bearer token the till must send; required when enabled."""
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    """Seconds a new connection has to send a request with the token; a connection that has
    not by then is closed (so idle or dribbling clients cannot hold the API)."""
    body_timeout_s: float = Field(default=10.0, gt=0, le=300)
    """Seconds to receive a request's body once its headers are in; a slower one gets 408."""
    max_connections: int = Field(default=64, ge=2, le=1000)
    """Most connections open at once. At the limit the oldest connection that has not sent
    the token is closed to make room; when all have sent it, new connections are refused."""
    refunds: Literal["allowed", "supervisor_pin", "refused"] = "allowed"
    """Refunds and voids asked by the till: allowed (referenced, up to the sale's amount),
    supervisor_pin (the request carries "supervisor_pin", checked against
    ui.supervisor_pin_hash with the screen's lockout) or refused (403: only the screen or the
    CLI may). Every one is audited either way."""

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port (e.g. 127.0.0.1:8765)")
        return value


class UiSection(BaseModel):
    """The operator screen and receipts."""

    model_config = STRICT

    language: Literal["en", "zh"] = "en"
    """Language of the operator screen and receipts: en (English) or zh (Simplified Chinese)."""
    tip_presets: list[int] = Field(default_factory=list)
    """Tip percentages offered before the tap (e.g. [5, 10, 15]); empty: no tip prompt."""
    tip_adjust: bool = True
    """Supervisor setting: an approved sale's tip may be added or changed until the batch
    closes (`posterm tip ID --amount T`, the till's POST .../tip, History on the screen)."""
    tip_max_percent: int = Field(default=25, ge=0, le=100)
    """Largest tip a tip adjust may set, in percent of the sale before tip (25: a 40.00 sale
    takes at most 10.00)."""
    supervisor_pin_hash: SecretField = ""
    """argon2id hash of the supervisor PIN that guards refunds and voids (`posterm pin set
    supervisor` writes one; `posterm pin hash` prints one). Empty: refunds and voids are not
    offered."""
    technician_pin_hash: SecretField = ""
    """argon2id hash of the technician PIN asked by technician commands (config set, pin set,
    keys rotate) and the config screen (`posterm pin set technician`). Empty: no PIN asked."""
    receipt_footer: str = "Thank you"
    """Last line printed on customer receipts."""
    receipt_columns: int = Field(default=42, ge=24, le=64)
    """Characters per receipt line: 42 for 80 mm paper, 32 for 58 mm."""

    @field_validator("supervisor_pin_hash", "technician_pin_hash")
    @classmethod
    def _pin_hash(cls, value: str) -> str:
        # A PIN typed here in clear would both leak it and lock technicians out.
        if value and not re.fullmatch(
            r"\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$\S+\$\S+", value
        ):
            raise ValueError("not an argon2 PIN hash: set the PIN with `posterm pin set ROLE`")
        return value

    @field_validator("tip_presets")
    @classmethod
    def _tips(cls, value: list[int]) -> list[int]:
        for tip in value:
            if not 0 < tip <= 100:
                raise ValueError(f"{tip} is not a percentage between 1 and 100")
        return value


class LoggingSection(BaseModel):
    """Where log records go."""

    model_config = STRICT

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Lowest level written: DEBUG, INFO, WARNING or ERROR."""
    target: Literal["auto", "stderr", "journald"] = "auto"
    """auto: journald when run under systemd, else stderr."""


class SecuritySection(BaseModel):
    """Where the root secret of the key hierarchy comes from (docs/security.md). Under systemd
    the service's credential `posterm-root` (LoadCredentialEncrypted=) always comes first."""

    model_config = STRICT

    root_key_file: PathField = ""
    """Plain file holding the root secret when no systemd credential is passed (development,
    the demo, a machine without systemd): 32 random bytes, mode 0600, never inside
    terminal.data_dir. Empty: "<data_dir>.root-secret" beside the data folder. A missing file
    is created, with a warning, while the data folder holds no keys sealed by another root."""
    root_credential_file: PathField = "/etc/posterm/credentials/posterm-root.cred"
    """The encrypted credential (`systemd-creds encrypt --name=posterm-root`) that technician
    commands run with sudo outside the service decrypt to reach the root secret."""


class Settings(BaseModel):
    """The whole configuration; one section per table in the TOML file."""

    model_config = STRICT

    terminal: TerminalSection = Field(default_factory=TerminalSection)
    gateway: GatewaySection = Field(default_factory=GatewaySection)
    iso8583: Iso8583Section = Field(default_factory=Iso8583Section)
    offline: OfflineSection = Field(default_factory=OfflineSection)
    risk: RiskSection = Field(default_factory=RiskSection)
    devices: DevicesSection = Field(default_factory=DevicesSection)
    nfc: NfcSection = Field(default_factory=NfcSection)
    qr: QrSection = Field(default_factory=QrSection)
    ecr: EcrSection = Field(default_factory=EcrSection)
    nexo: NexoSection = Field(default_factory=NexoSection)
    ui: UiSection = Field(default_factory=UiSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)
    security: SecuritySection = Field(default_factory=SecuritySection)
    fleet: FleetSection = Field(default_factory=FleetSection)

    # -- amounts that depend on the configured currency ---------------------------------
    @property
    def currency(self) -> Currency:
        return self.terminal.sales_currency

    def amount(self, section: str, key: str) -> Amount:
        """A money-valued setting (e.g. offline.floor_limit) as an `Amount`; an unset one is
        derived from the terminal currency (`terminal.settings.amounts`)."""
        text = getattr(getattr(self, section), key)
        return setting_amount(section, key, str(text), self.currency)

    @property
    def data_dir(self) -> Path:
        return Path(self.terminal.data_dir)

    sources: tuple[str, ...] = ()
    """Files and environment variables this configuration was read from (informational)."""


def is_marked(section: str, key: str, marker: type) -> bool:
    """Does `section.key` carry `marker` (`ConfigPath`, `Secret`) in its annotation?"""
    model = Settings.model_fields[section].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    field = model.model_fields.get(key)
    return field is not None and any(isinstance(m, marker) for m in field.metadata)


def _table_model(section: str, key: str) -> type[BaseModel] | None:
    """The model of `section.key` when it is a list of tables ([[nexo.keys]])."""
    model = Settings.model_fields[section].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    field = model.model_fields.get(key)
    if field is None or typing.get_origin(field.annotation) is not list:
        return None
    (item,) = typing.get_args(field.annotation)
    return item if isinstance(item, type) and issubclass(item, BaseModel) else None


def _holds_secret(section: str, key: str) -> bool:
    item = _table_model(section, key)
    return item is not None and any(
        isinstance(m, Secret) for f in item.model_fields.values() for m in f.metadata
    )


def is_secret(section: str, key: str) -> bool:
    """True for settings that must be shown redacted (a list of tables holding a secret, such
    as [[nexo.keys]], counts as one in messages and the audit log)."""
    return (
        section in Settings.model_fields
        and section != "sources"
        and (is_marked(section, key, Secret) or _holds_secret(section, key))
    )


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, secrets replaced by "<redacted>" (inside a
    list of tables only the secret fields, so the key identifiers stay visible), unset amounts
    by the default they stand for."""
    data = settings.model_dump(mode="json", exclude={"sources"})
    for section, key in AMOUNT_KEYS:
        # An unset amount is shown as the value it stands for in the terminal currency.
        if data[section][key].strip() == UNSET:
            data[section][key] = default_text(section, key, settings.currency)
    for section, values in data.items():
        for key in values:
            item = _table_model(section, key)
            if item is not None:
                for table in values[key]:
                    for name in table:
                        field = item.model_fields.get(name)
                        secret = field is not None and any(
                            isinstance(m, Secret) for m in field.metadata
                        )
                        if secret and table[name]:
                            table[name] = "<redacted>"
            elif is_secret(section, key) and values[key]:
                values[key] = "<redacted>"
    return data
