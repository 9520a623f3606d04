"""Reading the configuration: default file, site file and environment, merged, validated as
one, and every problem worded for a technician (see the package docstring for the order)."""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from terminal.errors import PostermError
from terminal.loopback import is_loopback
from terminal.money import AmountError
from terminal.settings.amounts import AMOUNT_KEYS, default_amount
from terminal.settings.gateway_section import SYSTEM_CAS, is_dialect_path
from terminal.settings.section_base import ConfigPath
from terminal.settings.sections import Settings, is_marked, is_secret

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FILE = PACKAGE_ROOT / "config" / "default.toml"
SYSTEM_FILE = Path("/etc/posterm/posterm.toml")
ENV_PREFIX = "POSTERM_"
_MISSING = object()


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


_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s\"']+@")


def without_credentials(text: str) -> str:
    """`text` with the user and password of any URL in it replaced by <redacted>: a broker or
    gateway address typed as scheme://user:password@host must not reach a log or a screen."""
    return _USERINFO.sub(r"\g<scheme><redacted>@", text)


def _show(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(without_credentials(value), ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return without_credentials(json.dumps(value, ensure_ascii=False, default=str))


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
    problems.extend(_check_amounts(settings, origins, default_file.name))
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


def _resolve_paths(
    merged: dict[str, dict[str, Any]], origins: dict[tuple[str, str], tuple[str, Path]]
) -> None:
    for (section, key), (_, base) in origins.items():
        value = merged[section][key]
        if section == "gateway" and key == "ca_file" and value == SYSTEM_CAS:
            continue  # a word, not a file name
        if isinstance(value, str) and value and is_marked(section, key, ConfigPath):
            merged[section][key] = (
                str((base / value).resolve()) if not Path(value).is_absolute() else value
            )
        elif isinstance(value, list) and is_marked(section, key, ConfigPath):
            merged[section][key] = [
                str((base / item).resolve())
                if isinstance(item, str) and item and not Path(item).is_absolute()
                else item
                for item in value
            ]
    gateway = merged.get("gateway", {})
    for key in ("signing_key", "encryption_key"):
        value = gateway.get(key)
        if isinstance(value, str) and value and not value.lstrip().startswith("{"):
            base = origins[("gateway", key)][1]
            gateway[key] = str((base / value).resolve())
    # A dialect file is a path when it is not a bare name of config/iso8583/.
    dialect = merged.get("iso8583", {}).get("dialect")
    if isinstance(dialect, str) and is_dialect_path(dialect) and not Path(dialect).is_absolute():
        base = origins[("iso8583", "dialect")][1]
        merged["iso8583"]["dialect"] = str((base / dialect).resolve())
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
    settings: Settings,
    origins: dict[tuple[str, str], tuple[str, Path]],
    default_name: str,
) -> list[ConfigProblem]:
    """Every amount read in the terminal currency; a problem names where the key was set and
    how to fix it there. A shipped default never carries an amount (they are derived, see
    `terminal.settings.amounts`), so the file named is one the site can change."""
    problems = []
    code = settings.currency.code
    currency_origin = origins.get(("terminal", "currency"), (default_name, Path()))[0]
    for section, key in AMOUNT_KEYS:
        try:
            settings.amount(section, key)
        except AmountError as error:
            origin = origins.get((section, key), (default_name, Path()))[0]
            if origin == default_name:  # never send anybody to edit the shipped defaults
                origin = currency_origin
            default = default_amount(section, key, settings.currency)
            where = "" if currency_origin == default_name else f" set in {currency_origin}"
            problems.append(
                ConfigProblem(
                    origin,
                    f"{section}.{key}",
                    getattr(getattr(settings, section), key),
                    f"{error} (amounts are in {code}, the terminal.currency{where}): write "
                    f'it in {code}, e.g. "{default.format_plain()}", or remove the line to '
                    f"use the default {default}",
                )
            )
    return problems


def _merchant_account_problems(
    settings: Settings, origins: dict[tuple[str, str], tuple[str, Path]]
) -> list[ConfigProblem]:
    """Each national QR scheme account against its scheme's rules, with the fix."""
    from terminal.qr.schemes import SCHEMES, SchemeRuleError, currency_problem, template

    origin = origins.get(("qr", "merchant_accounts"), ("default.toml", Path()))[0]
    problems: list[ConfigProblem] = []
    used: dict[str, int] = {}
    currency = settings.currency
    for number, entry in enumerate(settings.qr.merchant_accounts):
        where = f"qr.merchant_accounts[{number}]"
        scheme = SCHEMES[entry.scheme]
        tag = entry.tag or scheme.tag
        if not (len(tag) == 2 and tag.isdigit() and 26 <= int(tag) <= 51):
            problems.append(
                ConfigProblem(origin, f"{where}.tag", entry.tag, "must be a template ID 26 to 51")
            )
        elif tag in used:
            problems.append(
                ConfigProblem(
                    origin,
                    f"{where}.tag",
                    tag,
                    f"template {tag} is already used by qr.merchant_accounts[{used[tag]}]: "
                    "give this account another tag between 26 and 51",
                )
            )
        else:
            used[tag] = number
        for key in entry.fields:
            if not (len(key) == 2 and key.isdigit() and key != "00"):
                problems.append(
                    ConfigProblem(
                        origin,
                        f"{where}.fields",
                        key,
                        "sub-field IDs are two digits from 01 to 99 (00 is the scheme's GUI)",
                    )
                )
        for dynamic in (True, False):
            try:
                template(scheme, entry.account, entry.fields, dynamic, entry.gui)
            except SchemeRuleError as error:
                problems.append(
                    ConfigProblem(origin, f"{where}.account", entry.account, str(error))
                )
                break
        wrong = currency_problem(scheme, currency.numeric, currency.code)
        if wrong:
            problems.append(ConfigProblem(origin, f"{where}.scheme", entry.scheme, wrong))
    return problems


def _check_cross_fields(
    settings: Settings, origins: dict[tuple[str, str], tuple[str, Path]]
) -> list[ConfigProblem]:
    def problem(section: str, key: str, message: str) -> ConfigProblem:
        origin = origins.get((section, key), ("default.toml", Path()))[0]
        return ConfigProblem(
            origin, f"{section}.{key}", getattr(getattr(settings, section), key), message
        )

    problems = _merchant_account_problems(settings, origins)
    gateway = settings.gateway
    for key in ("url", "secondary_url"):
        url = getattr(gateway, key)
        if url.startswith("http://"):
            host = urlsplit(url).hostname or ""
            if not is_loopback(host):
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
        elif url.startswith("https://") and not gateway.ca_file:
            host = urlsplit(url).hostname or ""
            if not is_loopback(host):
                problems.append(
                    ConfigProblem(
                        origins.get(("gateway", key), ("default.toml", Path()))[0],
                        "gateway.ca_file",
                        "",
                        f"the gateway {host} is not on this machine: set ca_file to the CA "
                        "certificate the bank gave you (PEM), or write ca_file = "
                        f'"{SYSTEM_CAS}" to trust the system\'s CAs explicitly',
                    )
                )
    for key in ("ca_file", "signing_key", "encryption_key"):
        value = getattr(gateway, key)
        if key == "ca_file" and value == SYSTEM_CAS:
            continue
        if value and not value.lstrip().startswith("{") and not Path(value).is_file():
            problems.append(problem("gateway", key, "no such file"))
    if settings.ecr.enabled and len(settings.ecr.token) < 16:
        problems.append(
            problem(
                "ecr", "token", "the ECR API needs a token of at least 16 characters when enabled"
            )
        )
    return problems


def load_jwk(value: str) -> dict[str, Any]:
    """A JWK setting (inline JSON or a file path) as a dict."""
    text = value if value.lstrip().startswith("{") else Path(value).read_text(encoding="utf-8")
    parsed = json.loads(text)
    if not isinstance(parsed, dict):
        raise ValueError("a JWK must be a JSON object")
    return parsed
