"""Signed configuration bundles: what a fleet operator may change on a terminal, signed with
the operator's Ed25519 key as a compact JWS (joserfc), and the terminal's checks before it
takes one: a trusted key, its own target, not expired, a version newer than the one applied,
only the settings a fleet may change, and a merged configuration that passes the same rules
as `posterm config check`.

Every refusal is a `BundleRefused` whose sentence goes back to the operator unchanged; a
refused bundle changes nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from terminal.fleet.errors import FleetError

ALG = "Ed25519"
TYP = "posterm-config+jws"
MAX_BUNDLE_BYTES = 64 * 1024

ALLOWED: Mapping[str, frozenset[str]] = {
    "offline": frozenset({"enabled", "floor_limit", "max_count", "max_total", "max_age_hours"}),
    "risk": frozenset({"velocity_count", "velocity_total", "velocity_window_minutes"}),
    "nfc": frozenset({"transaction_limit", "cvm_limit", "tap_timeout_s", "aids"}),
    "qr": frozenset({"decoder", "scan_timeout_s", "intent_timeout_s", "poll_interval_s"}),
    "ui": frozenset({"language", "tip_presets", "receipt_footer"}),
    "ecr": frozenset({"enabled"}),
}
"""The settings a fleet may change: limits, risk rules, NFC/CVM limits, QR options, tips,
receipt footer, language, the ECR switch. Never gateway keys, identities, secrets or the
fleet's own keys: those stay with the technician at the terminal."""

_REGISTRY = jws.JWSRegistry(algorithms=[ALG])


class BundleRefused(FleetError):
    """A bundle this terminal does not take; `sentence` says why, for the operator."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Target:
    """Which terminals a bundle is for: a list of terminal ids, or every terminal of a
    merchant."""

    terminals: tuple[str, ...] = ()
    merchant: str = ""

    def to_json(self) -> dict[str, Any]:
        if self.merchant:
            return {"merchant": self.merchant}
        return {"terminals": list(self.terminals)}

    def includes(self, terminal_id: str, merchant_id: str) -> bool:
        if self.merchant:
            return self.merchant == merchant_id
        return terminal_id in self.terminals


@dataclass(frozen=True, slots=True)
class Bundle:
    """A verified bundle, ready to validate and apply."""

    version: int
    target: Target
    expires_at: datetime
    settings: dict[str, dict[str, Any]]
    kid: str


def allowed_fragment(text: str) -> dict[str, dict[str, Any]]:
    """The TOML fragment as tables, refusing anything a fleet may not change."""
    try:
        fragment = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise BundleRefused(f"The settings are not valid TOML ({error}).") from None
    if not fragment:
        raise BundleRefused("The bundle changes no setting.")
    for section, values in fragment.items():
        if not isinstance(values, dict):
            raise BundleRefused(f"{section} is not a [table] of settings.")
        for key in values:
            if key not in ALLOWED.get(section, frozenset()):
                raise BundleRefused(
                    f"{section}.{key} may not be changed by the fleet; only a technician at "
                    "the terminal changes it."
                )
    return fragment


def sign_bundle(
    private_jwk: Mapping[str, Any],
    *,
    target: Target,
    version: int,
    expires_at: datetime,
    settings_toml: str,
) -> str:
    """The compact JWS of a bundle (checked first: allowed keys, a positive version)."""
    allowed_fragment(settings_toml)
    if version < 1:
        raise BundleRefused("The version must be a whole number from 1 up.")
    payload = {
        "target": target.to_json(),
        "version": version,
        "expires_at": expires_at.astimezone(UTC).isoformat(timespec="seconds"),
        "settings": settings_toml,
    }
    return sign_payload(private_jwk, payload, TYP)


def trusted_keys(paths: Sequence[str]) -> dict[str, OKPKey]:
    """The operator public keys of `[fleet] operator_keys`, by key id."""
    keys: dict[str, OKPKey] = {}
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if "d" in data:
                raise ValueError("it holds a private key; install the public .pub.jwk only")
            key = OKPKey.import_key(data)
        except (OSError, ValueError, TypeError, JoseError) as error:
            raise BundleRefused(f"fleet.operator_keys: {path} is not usable ({error}).") from None
        if key.curve_name != "Ed25519":
            raise BundleRefused(f"fleet.operator_keys: {path} is not an Ed25519 key.")
        keys[str(key.thumbprint() if key.kid is None else key.kid)] = key
    return keys


def verify_bundle(
    token: str | bytes,
    keys: Mapping[str, OKPKey],
    *,
    terminal_id: str,
    merchant_id: str,
    applied_version: int,
    now: datetime,
) -> Bundle:
    """The bundle, if this terminal takes it; `BundleRefused` with the reason otherwise."""
    data, kid = signed_payload(token, keys, TYP)
    bundle = _payload(data, kid)
    if not bundle.target.includes(terminal_id, merchant_id):
        raise BundleRefused(f"The bundle is for other terminals, not {terminal_id}.")
    if bundle.expires_at <= now:
        raise BundleRefused(f"The bundle expired at {bundle.expires_at.isoformat()}.")
    if bundle.version <= applied_version:
        raise BundleRefused(
            f"Version {bundle.version} is not newer than the applied version "
            f"{applied_version}: an older or replayed bundle is refused."
        )
    return bundle


def signed_payload(token: str | bytes, keys: Mapping[str, OKPKey], typ: str) -> tuple[bytes, str]:
    """The payload of a compact JWS of type `typ` signed by one of `keys`, and the key id;
    `BundleRefused` naming the problem otherwise."""
    raw = token.encode() if isinstance(token, str) else token
    what = "configuration bundle" if typ == TYP else "command"
    if len(raw) > MAX_BUNDLE_BYTES or raw.count(b".") != 2:
        raise BundleRefused(f"This is not a signed {what} (a compact JWS).")
    try:
        compact = jws.extract_compact(raw)
        header = compact.headers()
    except (JoseError, ValueError, TypeError):
        raise BundleRefused(f"This is not a signed {what} (a compact JWS).") from None
    kid = header.get("kid")
    if header.get("alg") != ALG or not isinstance(kid, str):
        raise BundleRefused(f"The {what} must be signed with {ALG} and name its key (kid).")
    if header.get("typ") != typ:
        raise BundleRefused(f"This is not a {what} (JWS type {header.get('typ')!r}).")
    key = keys.get(kid)
    if key is None:
        raise BundleRefused(
            f"The {what} is signed by key {kid}, which this terminal does not trust "
            "(fleet.operator_keys)."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            valid = jws.validate_compact(compact, key, registry=_REGISTRY)
    except (JoseError, ValueError, TypeError):
        valid = False
    if not valid:
        raise BundleRefused(f"The {what}'s signature does not verify: it was altered or forged.")
    return compact.payload, kid


def sign_payload(private_jwk: Mapping[str, Any], payload: Mapping[str, Any], typ: str) -> str:
    """A compact JWS (Ed25519) of `payload` with the operator's key."""
    key = OKPKey.import_key(dict(private_jwk))
    header = {"alg": ALG, "typ": typ, "kid": key.kid}
    data = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return jws.serialize_compact(header, data, key, registry=_REGISTRY)


def target_of(payload: Mapping[str, Any]) -> Target:
    """The target of a signed payload (raises KeyError/TypeError/AttributeError if malformed)."""
    target = payload["target"]
    if "merchant" in target:
        return Target(merchant=str(target["merchant"]))
    return Target(terminals=tuple(str(t) for t in target["terminals"]))


def _payload(data: bytes, kid: str) -> Bundle:
    try:
        payload = json.loads(data)
        version = payload["version"]
        expires_at = datetime.fromisoformat(payload["expires_at"])
        settings = payload["settings"]
        if (
            not isinstance(version, int)
            or isinstance(version, bool)
            or not isinstance(settings, str)
            or expires_at.tzinfo is None
        ):
            raise ValueError
        parsed = target_of(payload)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BundleRefused(
            "The bundle's content is malformed (target, version, expires_at, settings)."
        ) from None
    return Bundle(version, parsed, expires_at, allowed_fragment(settings), kid)


def merged_settings(site_file: Path | None, fragment: Mapping[str, Mapping[str, Any]]) -> Any:
    """The configuration the terminal would run with the fragment applied to its site file,
    checked by the rules of `posterm config check`; `BundleRefused` naming the problem."""
    import tomlkit

    from terminal.settings import ConfigError, load_settings

    document = (
        tomlkit.parse(site_file.read_text(encoding="utf-8"))
        if site_file is not None and site_file.exists()
        else tomlkit.document()
    )
    for section, values in fragment.items():
        table = document.setdefault(section, tomlkit.table())
        for key, value in values.items():
            table[key] = value
    folder = site_file.parent if site_file is not None else Path.cwd()
    fd, name = tempfile.mkstemp(prefix=".fleet-bundle.", suffix=".toml", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(tomlkit.dumps(document))
        return load_settings(Path(name), environ={})
    except ConfigError as error:
        problems = "; ".join(str(p).replace(Path(name).name, "bundle") for p in error.problems)
        raise BundleRefused(f"The merged configuration is invalid: {problems}") from None
    finally:
        os.unlink(name)
