"""The typed configuration of a terminal.

Loading order (later wins): `config/default.toml` shipped with posterm, then the site file
(`--config PATH`, else `$POSTERM_CONFIG`, else `/etc/posterm/posterm.toml` if present), then
environment overrides `POSTERM_<SECTION>__<KEY>=value` (value read as TOML, else as text).

Each field's docstring is its user documentation (`posterm config show --docs` prints them).
A bad value or an unknown key is reported as one sentence per problem naming the file, the key,
the value and what is allowed; `ConfigError` carries them all, so a technician fixes everything
in one pass.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from terminal.errors import PostermError
from terminal.iso_codes import UnknownCountry, UnknownCurrency, country, currency
from terminal.money import Amount, AmountError, Currency

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = PACKAGE_ROOT / "config" / "default.toml"
SYSTEM_FILE = Path("/etc/posterm/posterm.toml")
ENV_PREFIX = "POSTERM_"


class ConfigPath:
    """Marks a field holding a file or folder path: relative values are resolved against the
    folder of the file that set them (or the working directory for environment overrides)."""


class Secret:
    """Marks a field whose value must never be shown: `config show` prints it redacted."""


PathField = Annotated[str, ConfigPath()]
SecretField = Annotated[str, Secret()]

_STRICT = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


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
    """PEM file of the CA that signed the gateway's TLS certificate. Empty: the system CAs."""
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


class OfflineSection(BaseModel):
    """Store-and-forward: when and how much the terminal may approve without the bank."""

    model_config = _STRICT

    enabled: bool = True
    """Approve card sales offline within the limits below when the gateway is unreachable."""
    floor_limit: str = "50.00"
    """Largest single sale approved offline, in the terminal currency (e.g. "50.00")."""
    max_count: int = Field(default=250, ge=0, le=100_000)
    """Most offline sales waiting to be forwarded at once."""
    max_total: str = "2000.00"
    """Largest total of offline sales waiting to be forwarded, in the terminal currency."""
    max_age_hours: int = Field(default=24, ge=1, le=168)
    """Refuse offline sales when the oldest unforwarded one is older than this (1 to 168 h)."""


class RiskSection(BaseModel):
    """Velocity rules applied to offline approvals (online, the bank decides)."""

    model_config = _STRICT

    velocity_count: int = Field(default=3, ge=1, le=1000)
    """Most offline sales on the same card within the window."""
    velocity_total: str = "100.00"
    """Largest total of offline sales on the same card within the window."""
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

    transaction_limit: str = "500.00"
    """Largest contactless sale; above it the customer is asked to use another method."""
    cvm_limit: str = "50.00"
    """Above this amount only a phone that verified its owner (CDCVM) is accepted."""
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
    merchant_account_gui: str = "com.posterm.pay"
    """Globally unique identifier of the payment network in the merchant account template
    (ID 26/00 of merchant-presented codes): a reverse domain name, an AID or a UUID,
    at most 32 characters, as the acquirer assigns it."""
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

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port (e.g. 127.0.0.1:8765)")
        return value


class UiSection(BaseModel):
    """The operator screen and receipts."""

    model_config = _STRICT

    language: Literal["en", "zh"] = "en"
    """Language of the operator screen and receipts: en (English) or zh (Simplified Chinese)."""
    tip_presets: list[int] = Field(default_factory=list)
    """Tip percentages offered before the tap (e.g. [5, 10, 15]); empty: no tip prompt."""
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


class Settings(BaseModel):
    """The whole configuration; one section per table in the TOML file."""

    model_config = _STRICT

    terminal: TerminalSection = Field(default_factory=TerminalSection)
    gateway: GatewaySection = Field(default_factory=GatewaySection)
    offline: OfflineSection = Field(default_factory=OfflineSection)
    risk: RiskSection = Field(default_factory=RiskSection)
    devices: DevicesSection = Field(default_factory=DevicesSection)
    nfc: NfcSection = Field(default_factory=NfcSection)
    qr: QrSection = Field(default_factory=QrSection)
    ecr: EcrSection = Field(default_factory=EcrSection)
    ui: UiSection = Field(default_factory=UiSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)

    # -- amounts that depend on the configured currency ---------------------------------
    @property
    def currency(self) -> Currency:
        return self.terminal.sales_currency

    def amount(self, section: str, key: str) -> Amount:
        """A money-valued setting (e.g. offline.floor_limit) as an `Amount`."""
        text = getattr(getattr(self, section), key)
        return Amount.parse(str(text), self.currency)

    @property
    def data_dir(self) -> Path:
        return Path(self.terminal.data_dir)

    sources: tuple[str, ...] = ()
    """Files and environment variables this configuration was read from (informational)."""


# Amount-valued keys, checked once the currency is known.
AMOUNT_KEYS: tuple[tuple[str, str], ...] = (
    ("offline", "floor_limit"),
    ("offline", "max_total"),
    ("risk", "velocity_total"),
    ("nfc", "transaction_limit"),
    ("nfc", "cvm_limit"),
)


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with the configuration, worded for a technician."""

    origin: str
    key: str
    value: object
    message: str

    def __str__(self) -> str:
        if self.value is _MISSING:
            return f"{self.origin}: {self.key}: {self.message}"
        section, _, key = self.key.partition(".")
        secret = is_secret(section, key)
        shown = '"<redacted>"' if secret and self.value else _show(self.value)
        return f"{self.origin}: {self.key} = {shown}: {self.message}"


class ConfigError(PostermError):
    """The configuration cannot be used; `problems` lists every reason."""

    exit_code = 2

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


_MISSING = object()


def _text(value: str, limit: int) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    if len(value) > limit:
        raise ValueError(f"longer than {limit} characters")
    return value


def _show(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def site_file(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path | None:
    """The site file to read: `--config`, else `$POSTERM_CONFIG`, else /etc/posterm if present."""
    if explicit:
        return Path(explicit)
    if environ.get("POSTERM_CONFIG"):
        return Path(environ["POSTERM_CONFIG"])
    if SYSTEM_FILE.exists():
        return SYSTEM_FILE
    return None


def load_settings(
    config: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    default_file: Path = DEFAULT_FILE,
) -> Settings:
    """Read default, site file and environment, validate all of it, and return `Settings`.

    Raises `ConfigError` listing every problem found.
    """
    env = os.environ if environ is None else environ
    merged: dict[str, dict[str, Any]] = {}
    origins: dict[tuple[str, str], tuple[str, Path]] = {}
    problems: list[ConfigProblem] = []
    sources: list[str] = []

    layers: list[tuple[Path, bool]] = [(default_file, True)]
    chosen = site_file(config, env)
    if chosen is not None:
        layers.append((chosen, False))
    for path, shipped in layers:
        data = _read_toml(path, problems, required=not shipped or path.exists())
        if data is None:
            continue
        sources.append(str(path))
        _merge(data, path.name, path.parent, merged, origins, problems)

    env_data: dict[str, dict[str, Any]] = {}
    for name, raw in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].partition("__")
        env_data.setdefault(section.lower(), {})[key.lower()] = _env_value(raw)
        sources.append(f"environment {name}")
    for section, values in env_data.items():
        for key, value in values.items():
            var = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
            _merge(
                {section: {key: value}}, f"environment {var}", Path.cwd(), merged, origins, problems
            )

    _resolve_paths(merged, origins)
    try:
        settings = Settings.model_validate({**merged, "sources": tuple(sources)})
    except ValidationError as error:
        raise ConfigError(problems + _explain(error, merged, origins)) from None
    if problems:
        raise ConfigError(problems)
    problems.extend(_check_amounts(settings, origins))
    problems.extend(_check_cross_fields(settings, origins))
    if problems:
        raise ConfigError(problems)
    return settings


def _read_toml(
    path: Path, problems: list[ConfigProblem], *, required: bool
) -> dict[str, Any] | None:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        if required:
            problems.append(ConfigProblem(str(path), "file", _MISSING, "no such file"))
        return None
    except PermissionError:
        problems.append(ConfigProblem(str(path), "file", _MISSING, "not readable (permissions)"))
        return None
    except tomllib.TOMLDecodeError as error:
        problems.append(ConfigProblem(path.name, "file", _MISSING, f"not valid TOML: {error}"))
        return None


def _merge(
    data: dict[str, Any],
    origin: str,
    base: Path,
    merged: dict[str, dict[str, Any]],
    origins: dict[tuple[str, str], tuple[str, Path]],
    problems: list[ConfigProblem],
) -> None:
    sections = {name: field for name, field in Settings.model_fields.items() if name != "sources"}
    for section, values in data.items():
        if section not in sections:
            hint = _did_you_mean(section, sections)
            problems.append(
                ConfigProblem(origin, f"[{section}]", _MISSING, f"unknown section{hint}")
            )
            continue
        if not isinstance(values, dict):
            problems.append(ConfigProblem(origin, section, values, "must be a table ([section])"))
            continue
        model = sections[section].annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for key, value in values.items():
            if key not in model.model_fields:
                hint = _did_you_mean(key, model.model_fields)
                problems.append(
                    ConfigProblem(origin, f"{section}.{key}", value, f"unknown key{hint}")
                )
                continue
            merged.setdefault(section, {})[key] = value
            origins[(section, key)] = (origin, base)


def _did_you_mean(name: str, choices: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(choices)})"


def _env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _is_marked(section: str, key: str, marker: type) -> bool:
    model = Settings.model_fields[section].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    field = model.model_fields.get(key)
    return field is not None and any(isinstance(m, marker) for m in field.metadata)


def is_secret(section: str, key: str) -> bool:
    """True for settings that must be shown redacted."""
    return (
        section in Settings.model_fields
        and section != "sources"
        and _is_marked(section, key, Secret)
    )


def _resolve_paths(
    merged: dict[str, dict[str, Any]], origins: dict[tuple[str, str], tuple[str, Path]]
) -> None:
    for (section, key), (_, base) in origins.items():
        value = merged[section][key]
        if isinstance(value, str) and value and _is_marked(section, key, ConfigPath):
            merged[section][key] = (
                str((base / value).resolve()) if not Path(value).is_absolute() else value
            )
    gateway = merged.get("gateway", {})
    for key in ("signing_key", "encryption_key"):
        value = gateway.get(key)
        if isinstance(value, str) and value and not value.lstrip().startswith("{"):
            base = origins[("gateway", key)][1]
            gateway[key] = str((base / value).resolve())
    # A camera file or image sequence is a path too (an index, /dev/videoN or "none" is not).
    camera = merged.get("devices", {}).get("camera")
    if (
        isinstance(camera, str)
        and camera not in ("", "none")
        and not camera.isdigit()
        and not Path(camera).is_absolute()
    ):
        base = origins[("devices", "camera")][1]
        merged["devices"]["camera"] = os.path.normpath(base.resolve() / camera)


def _explain(
    error: ValidationError,
    merged: dict[str, dict[str, Any]],
    origins: dict[tuple[str, str], tuple[str, Path]],
) -> list[ConfigProblem]:
    problems = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        section = loc[0]
        key = loc[1] if len(loc) > 1 else ""
        origin = origins.get((section, key), ("default.toml", Path()))[0]
        value = merged.get(section, {}).get(key, item.get("input", _MISSING))
        message = item["msg"].removeprefix("Value error, ")
        message = _friendlier(item["type"], message, item.get("ctx") or {})
        problems.append(ConfigProblem(origin, ".".join(loc) if key else section, value, message))
    return problems


def _friendlier(kind: str, message: str, ctx: Mapping[str, Any]) -> str:
    if kind == "string_type":
        return 'must be text in quotes (e.g. "value")'
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be a whole number"
    if kind in ("float_type", "float_parsing"):
        return "must be a number"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind == "list_type":
        return "must be a list (e.g. [1, 2])"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bounds = {
            "greater_than": ">",
            "greater_than_equal": ">=",
            "less_than": "<",
            "less_than_equal": "<=",
        }
        limit = next(iter(ctx.values()), "")
        return f"out of range: must be {bounds[kind]} {limit}"
    return message


def _check_amounts(
    settings: Settings, origins: dict[tuple[str, str], tuple[str, Path]]
) -> list[ConfigProblem]:
    problems = []
    for section, key in AMOUNT_KEYS:
        try:
            settings.amount(section, key)
        except AmountError as error:
            origin = origins.get((section, key), ("default.toml", Path()))[0]
            problems.append(
                ConfigProblem(
                    origin,
                    f"{section}.{key}",
                    getattr(getattr(settings, section), key),
                    f"{error} (amount in {settings.currency.code})",
                )
            )
    return problems


def _check_cross_fields(
    settings: Settings, origins: dict[tuple[str, str], tuple[str, Path]]
) -> list[ConfigProblem]:
    def problem(section: str, key: str, message: str) -> ConfigProblem:
        origin = origins.get((section, key), ("default.toml", Path()))[0]
        return ConfigProblem(
            origin, f"{section}.{key}", getattr(getattr(settings, section), key), message
        )

    problems = []
    gateway = settings.gateway
    for key in ("url", "secondary_url"):
        url = getattr(gateway, key)
        if url.startswith("http://"):
            host = urlsplit(url).hostname or ""
            if not _is_loopback(host):
                problems.append(
                    problem(
                        "gateway",
                        key,
                        "plain http is allowed for loopback hosts only; use https://",
                    )
                )
            elif not gateway.allow_plain_http_loopback:
                problems.append(
                    problem(
                        "gateway", key, "plain http needs gateway.allow_plain_http_loopback = true"
                    )
                )
    for key in ("ca_file", "signing_key", "encryption_key"):
        value = getattr(gateway, key)
        if value and not value.lstrip().startswith("{") and not Path(value).is_file():
            problems.append(problem("gateway", key, "no such file"))
    if settings.ecr.enabled and len(settings.ecr.token) < 16:
        problems.append(
            problem(
                "ecr", "token", "the ECR API needs a token of at least 16 characters when enabled"
            )
        )
    return problems


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_jwk(value: str) -> dict[str, Any]:
    """A JWK setting (inline JSON or a file path) as a dict."""
    text = value if value.lstrip().startswith("{") else Path(value).read_text(encoding="utf-8")
    parsed = json.loads(text)
    if not isinstance(parsed, dict):
        raise ValueError("a JWK must be a JSON object")
    return parsed


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective configuration as plain data, secrets replaced by "<redacted>"."""
    data = settings.model_dump(mode="json", exclude={"sources"})
    for section, values in data.items():
        for key in values:
            if is_secret(section, key) and values[key]:
                values[key] = "<redacted>"
    return data
