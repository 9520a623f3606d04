"""The configuration's sections: one pydantic model per TOML table, each field's docstring its
user documentation (`posterm config show --docs`), with the markers `ConfigPath` and `Secret`
that loading and display read from the fields."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from terminal.iso_codes import UnknownCountry, UnknownCurrency, country, currency
from terminal.loopback import is_loopback
from terminal.money import Amount, Currency
from terminal.settings.amounts import AMOUNT_KEYS, UNSET, default_text, setting_amount


class ConfigPath:
    """Marks a field holding a file or folder path: relative values are resolved against the
    folder of the file that set them (or the working directory for environment overrides)."""


class Secret:
    """Marks a field whose value must never be shown: `config show` prints it redacted."""


PathField = Annotated[str, ConfigPath()]
SYSTEM_CAS = "system"
"""`gateway.ca_file` value meaning "the operating system's CAs" (a word, never a path)."""
SecretField = Annotated[str, Secret()]

_STRICT = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


def _text(value: str, limit: int) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    if len(value) > limit:
        raise ValueError(f"longer than {limit} characters")
    return value


class TerminalSection(BaseModel):
    """Who this terminal is: the identifiers the bank assigned and where it keeps its data."""

    model_config = _STRICT

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


class GatewaySection(BaseModel):
    """How to reach the bank gateway and which keys to trust (see PROTOCOL.md)."""

    model_config = _STRICT

    url: str = "https://127.0.0.1:8443"
    """Primary gateway address, https://host:port (plain http only for loopback, see below)."""
    secondary_url: str = ""
    """Backup gateway address, tried only when the primary cannot be connected to. Empty: none."""
    ca_file: PathField = ""
    """PEM file of the CA that signed the gateway's TLS certificate (from the bank). "system":
    trust the operating system's CAs, written explicitly. Empty is allowed only for a gateway
    on this machine (loopback); for any other host it is a configuration error, so nobody
    trusts every public CA by leaving the key out."""
    signing_key: str = ""
    """Gateway's Ed25519 public JWK that signs answers: a file path or inline JSON."""
    encryption_key: str = ""
    """Gateway's X25519 public JWK that card data is encrypted to: a file path or inline JSON."""
    timeout_s: float = Field(default=15.0, gt=0, le=120)
    """Seconds to wait for an answer before the outcome counts as unknown (0 < t <= 120)."""
    connect_timeout_s: float = Field(default=3.0, gt=0, le=60)
    """Seconds to wait for a connection; past it nothing was sent and offline rules apply."""
    allow_plain_http_loopback: bool = False
    """Allow http:// (no TLS) for a gateway on 127.0.0.1/localhost only, e.g. in a lab."""
    protocol: Literal["posterm-v1", "iso8583"] = "posterm-v1"
    """The link used for card payments: "posterm-v1" (JOSE over HTTPS, this section) or
    "iso8583" (an acquirer host speaking ISO 8583, see [iso8583]). QR payments always use
    posterm-v1: with "iso8583" and url = "" they are refused with a sentence saying why."""

    @property
    def ca_bundle(self) -> str | None:
        """The CA file to verify the gateway against; None: the system's CAs."""
        return None if self.ca_file in ("", SYSTEM_CAS) else self.ca_file

    @field_validator("url", "secondary_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value == "":
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("not a gateway address (e.g. https://gateway.example.com:8443)")
        return value.rstrip("/")

    @field_validator("signing_key", "encryption_key")
    @classmethod
    def _jwk(cls, value: str) -> str:
        if value.lstrip().startswith("{"):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError("inline JWK is not valid JSON") from None
            if not isinstance(parsed, dict) or parsed.get("kty") != "OKP":
                raise ValueError('not an OKP public JWK ({"kty": "OKP", "crv": ..., "x": ...})')
            if "d" in parsed:
                raise ValueError("holds a private key: give the gateway's public JWK only")
        return value


def is_dialect_path(value: str) -> bool:
    """`[iso8583] dialect` names a file rather than a dialect of config/iso8583/."""
    return "/" in value or value.endswith(".toml")


class Iso8583Section(BaseModel):
    """The acquirer host reached over ISO 8583 when [gateway] protocol = "iso8583"."""

    model_config = _STRICT

    host: str = "127.0.0.1:5000"
    """The host's address, host:port."""
    tls: bool = True
    """Talk TLS to the host (verified against ca_file); false only for a loopback host."""
    ca_file: PathField = ""
    """PEM file of the CA that signed the host's TLS certificate. Empty: the system CAs."""
    client_cert: PathField = ""
    """PEM file holding this terminal's certificate and its key, for hosts that require
    mutual TLS. Empty: none."""
    dialect: str = "posterm-1987"
    """The field table: a bare name means config/iso8583/<name>.toml; a path (with a "/" or
    ending in .toml) is relative to the folder of the site file that set it."""
    mac_key_file: PathField = ""
    """File holding the hex AES key (32 or 64 hex digits) of the MAC in F64/F128. Empty: no
    MAC."""
    acquirer_id: str = "00000000001"
    """Acquiring institution id sent in F32: 1 to 11 digits."""
    timeout_s: float = Field(default=30.0, gt=0, le=120)
    """Seconds to wait for the host's answer; past it a sale is reversed (0400)."""

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        name, _, port = value.rpartition(":")
        if not name or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("not host:port (e.g. acquirer.example:5000)")
        return value

    @field_validator("acquirer_id")
    @classmethod
    def _acquirer_id(cls, value: str) -> str:
        if not re.fullmatch(r"\d{1,11}", value):
            raise ValueError("must be 1 to 11 digits")
        return value

    @model_validator(mode="after")
    def _plain_only_to_loopback(self) -> Iso8583Section:
        if not self.tls and not is_loopback(self.host.rpartition(":")[0].strip("[]")):
            raise ValueError("tls = false is allowed for a loopback host only (127.0.0.1)")
        return self


class OfflineSection(BaseModel):
    """Store-and-forward: when and how much the terminal may approve without the bank."""

    model_config = _STRICT

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

    model_config = _STRICT

    velocity_count: int = Field(default=3, ge=1, le=1000)
    """Most offline sales on the same card within the window."""
    velocity_total: str = ""
    """Largest total of offline sales on the same card within the window, in the terminal
    currency. Empty: EUR 100.00 scaled to terminal.currency (JPY 20,000, KWD 50.000)."""
    velocity_window_minutes: int = Field(default=60, ge=1, le=10_080)
    """Length of the velocity window in minutes."""


class DevicesSection(BaseModel):
    """Hardware, each chosen by a device string (see ARCHITECTURE.md, "a device is a URL")."""

    model_config = _STRICT

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

    model_config = _STRICT

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


class MerchantAccount(BaseModel):
    """One national QR scheme account in the merchant-presented code (`[[qr.merchant_accounts]]`
    in the site file); its scheme's rules are checked with the configuration
    (terminal/qr/schemes.py)."""

    model_config = _STRICT

    scheme: Literal["pix", "promptpay", "paynow", "qris", "vietqr", "khqr"]
    """The national scheme: pix, promptpay, paynow, qris, vietqr or khqr."""
    account: str
    """The merchant's key or proxy id in the scheme: a Pix key; a PromptPay mobile number,
    national/tax id or e-wallet id; a PayNow mobile number or UEN; a QRIS NMID; a VietQR
    "BIN:account"; a KHQR Bakong account id "name@bank"."""
    tag: str = ""
    """Template ID (26 to 51) the account goes in; empty: the scheme's own (Pix 26, PromptPay
    29, PayNow 26, QRIS 51, VietQR 38, KHQR 29)."""
    gui: str = ""
    """The scheme's globally unique identifier (sub-ID 00); empty: the scheme's published one."""
    fields: dict[str, str] = Field(default_factory=dict)
    """Further sub-fields of the template by two-digit ID, e.g. {"03" = "UKE"} for QRIS."""


class QrSection(BaseModel):
    """QR payments: the decoder used for scanning and the merchant-presented code's lifetime."""

    model_config = _STRICT

    decoder: Literal["zxing", "pyzbar", "opencv"] = "zxing"
    """QR decoder: zxing (default, fastest and most reliable), pyzbar or opencv."""
    scan_timeout_s: float = Field(default=30.0, gt=0, le=300)
    """Seconds to look for a customer's code before the scan is cancelled."""
    intent_timeout_s: float = Field(default=120.0, gt=0, le=900)
    """Seconds a merchant-presented code stays payable."""
    poll_interval_s: float = Field(default=1.0, gt=0, le=30)
    """Seconds between payment status checks while a merchant-presented code is shown."""
    wallet_confirm_timeout_s: float = Field(default=30.0, gt=0, le=300)
    """Seconds to wait for a customer who must confirm a wallet pay code payment on their
    phone (password or biometrics); then the payment is cancelled and reversed, so nothing
    stays charged. The terminal asks the wallet's status at the pace the wallet gives."""
    merchant_account_gui: str = "com.posterm.pay"
    """Globally unique identifier of the payment network in the merchant account template
    (ID 26/00 of merchant-presented codes): a reverse domain name, an AID or a UUID,
    at most 32 characters, as the acquirer assigns it."""
    merchant_accounts: list[MerchantAccount] = Field(default_factory=list)
    """National QR scheme accounts shown in the merchant-presented code beside the terminal's
    own network template (which then takes the first free ID from 26): several schemes in one
    code. Written as [[qr.merchant_accounts]] tables in the site file."""
    roi: str = ""
    """Part of the camera picture to search for codes, as fractions "x,y,width,height"
    (e.g. "0.25,0.25,0.5,0.5" for the centre); empty: the whole picture."""

    @field_validator("merchant_account_gui")
    @classmethod
    def _gui(cls, value: str) -> str:
        if not 1 <= len(value) <= 32 or not value.isascii() or not value.isprintable():
            raise ValueError("must be 1 to 32 printable ASCII characters (e.g. com.example.pay)")
        return value

    @field_validator("roi")
    @classmethod
    def _roi(cls, value: str) -> str:
        if not value.strip():
            return ""
        try:
            x, y, w, h = (float(part) for part in value.split(","))
        except ValueError:
            raise ValueError(
                'must be "x,y,width,height" fractions (e.g. "0.25,0.25,0.5,0.5")'
            ) from None
        if not (0 <= x < 1 and 0 <= y < 1 and 0 < w and 0 < h and x + w <= 1 and y + h <= 1):
            raise ValueError("must lie inside the picture: fractions between 0 and 1")
        return value


class EcrSection(BaseModel):
    """The cash-register (ECR) HTTP interface a till program drives."""

    model_config = _STRICT

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


class NexoKey(BaseModel):
    """One shared key of the nexo Terminal API security trailer (KeyIdentifier, KeyVersion)."""

    model_config = _STRICT

    identifier: str = Field(min_length=1, max_length=64)
    """KeyIdentifier the till sends in the SecurityTrailer."""
    version: int = Field(ge=0, le=2**31 - 1)
    """KeyVersion the till sends; several versions of one identifier may be configured while
    keys are rotated."""
    passphrase: SecretField = Field(min_length=1)
    """The shared passphrase (Latin-1 text) both sides derive the AES and HMAC keys from."""

    @field_validator("passphrase")
    @classmethod
    def _latin1(cls, value: str) -> str:
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(
                "must be Latin-1 text (the clients take it as Latin-1 bytes)"
            ) from None
        return value


class NexoSection(BaseModel):
    """The nexo Terminal API ("Sale to POI" JSON messages) a POS program drives on
    POST https://<terminal>:8443/nexo/ (README: "For POS integrators")."""

    model_config = _STRICT

    enabled: bool = False
    """Serve the nexo Terminal API (`posterm serve` and `posterm run`)."""
    listen: str = "0.0.0.0:8443"
    """Address and port to listen on, host:port; the official clients always use port 8443."""
    poi_id: str = ""
    """POIID the till must address (word-word). Empty: posterm-<terminal_id>."""
    environment: Literal["live", "test"] = "live"
    """The certificate's CN domain: <POIID>.<environment>.terminal.adyen.com."""
    allow_unencrypted: bool = False
    """Accept unencrypted requests although [[nexo.keys]] are configured (test tills)."""
    allow_plain_http: bool = False
    """Serve plain HTTP instead of TLS (curl-style tests on a loopback address only)."""
    cert_file: PathField = ""
    """PEM file of the server certificate. Empty: <data_dir>/nexo/server.pem, written by
    `posterm keys nexo-cert`."""
    key_file: PathField = ""
    """PEM file of the server certificate's private key. Empty: <data_dir>/nexo/server.key."""
    keys: list[NexoKey] = Field(default_factory=list)
    """Shared keys ([[nexo.keys]] tables: identifier, version, passphrase). With at least one,
    unencrypted requests are refused unless allow_unencrypted is true."""

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port (e.g. 0.0.0.0:8443)")
        return value

    @field_validator("poi_id")
    @classmethod
    def _poi_id(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9]+-[A-Za-z0-9]+", value):
            raise ValueError("must be two words of letters and digits joined by one hyphen")
        return value

    @model_validator(mode="after")
    def _plain_http_on_loopback(self) -> NexoSection:
        host = self.listen.rpartition(":")[0].strip("[]")
        if self.allow_plain_http and not (host == "localhost" or is_loopback(host)):
            raise ValueError("allow_plain_http needs a loopback listen address (127.x.x.x)")
        return self

    def effective_poi_id(self, terminal_id: str) -> str:
        """The POIID a request must carry."""
        return self.poi_id or f"posterm-{re.sub(r'[^A-Za-z0-9]', '', terminal_id)}"


class UiSection(BaseModel):
    """The operator screen and receipts."""

    model_config = _STRICT

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

    model_config = _STRICT

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Lowest level written: DEBUG, INFO, WARNING or ERROR."""
    target: Literal["auto", "stderr", "journald"] = "auto"
    """auto: journald when run under systemd, else stderr."""


class SecuritySection(BaseModel):
    """Where the root secret of the key hierarchy comes from (docs/security.md). Under systemd
    the service's credential `posterm-root` (LoadCredentialEncrypted=) always comes first."""

    model_config = _STRICT

    root_key_file: PathField = ""
    """Plain file holding the root secret when no systemd credential is passed (development,
    the demo, a machine without systemd): 32 random bytes, mode 0600, never inside
    terminal.data_dir. Empty: "<data_dir>.root-secret" beside the data folder. A missing file
    is created, with a warning, while the data folder holds no keys sealed by another root."""
    root_credential_file: PathField = "/etc/posterm/credentials/posterm-root.cred"
    """The encrypted credential (`systemd-creds encrypt --name=posterm-root`) that technician
    commands run with sudo outside the service decrypt to reach the root secret."""


_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class FleetSection(BaseModel):
    """Reporting to, and being configured by, the chain's fleet over an MQTT broker
    (docs/fleet.md)."""

    model_config = _STRICT

    enabled: bool = False
    """Publish this terminal's status and events to the broker and accept signed
    configuration from it (`posterm serve` and `posterm run`)."""
    broker: str = "mqtts://broker.example:8883"
    """Broker address: mqtts://host:port (TLS); plain mqtt://host:port only to 127.0.0.1 or
    localhost."""
    ca_file: PathField = ""
    """PEM file of the CA that signed the broker's TLS certificate. Empty: the system CAs."""
    client_cert: PathField = ""
    """PEM file holding this terminal's client certificate and its key, for mutual TLS.
    Empty: no client certificate."""
    username: str = ""
    """User name on the broker (the broker's ACL lets it publish only under this terminal's
    own topics). Empty: none."""
    password: SecretField = ""
    """Password on the broker. Empty: none."""
    topic_prefix: str = "posterm"
    """First level of every topic: {topic_prefix}/{merchant_id}/{terminal_id}/status ..."""
    heartbeat_s: int = Field(default=30, ge=1, le=3600)
    """Seconds between status messages when nothing changes; also the broker keepalive, so a
    vanished terminal shows offline within about twice this (1 to 3600)."""
    operator_keys: Annotated[list[str], ConfigPath()] = Field(default_factory=list)
    """Files of the fleet operator public JWKs (Ed25519) whose signed configuration this
    terminal accepts (`posterm fleet keys init` makes the pair). Empty: none accepted."""
    max_queued_events: int = Field(default=1000, ge=1, le=1_000_000)
    """Most events kept while the broker is unreachable; beyond it the oldest are dropped
    and counted."""

    @field_validator("broker")
    @classmethod
    def _broker(cls, value: str) -> str:
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            raise ValueError("has a port that is not a number from 1 to 65535") from None
        if parts.scheme not in ("mqtts", "mqtt") or not parts.hostname or port == 0:
            raise ValueError("not a broker address (e.g. mqtts://broker.example.com:8883)")
        if parts.path not in ("", "/") or parts.query or parts.username:
            raise ValueError("must be scheme://host:port only (user and password go apart)")
        if parts.scheme == "mqtt" and parts.hostname not in _LOOPBACK_HOSTS:
            raise ValueError(
                "plain mqtt:// is allowed only to 127.0.0.1 or localhost: use mqtts:// for "
                "a broker on another machine"
            )
        return value.rstrip("/")

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*", value):
            raise ValueError(
                "must be letters, digits, _ . - levels separated by / (no +, #, spaces)"
            )
        return value


class Settings(BaseModel):
    """The whole configuration; one section per table in the TOML file."""

    model_config = _STRICT

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
