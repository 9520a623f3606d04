"""JOSE for protocol v1 (PROTOCOL.md "Keys"), on joserfc; both the terminal and the simulator.

- Messages are JWS compact, `alg: "Ed25519"` (RFC 9864's fully-specified name), with `kid` and
  `typ`. On input `EdDSA` is accepted too when the key is an Ed25519 OKP key; `none`, HMAC and
  every other algorithm are refused before any key is touched (no algorithm confusion).
- Card data is JWE compact `ECDH-ES` + `A256GCM` to the gateway's X25519 key.

Low-level helpers raise `JoseFailure` with `kind` "malformed" or "bad_signature" (the
simulator turns those into 400/401); the terminal-side classes raise `BadAnswer`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from terminal.gateway.errors import BadAnswer, MessageError
from terminal.gateway.messages import TYP_REQUEST, TYP_RESPONSE, Answer, encode_payload

if TYPE_CHECKING:
    from terminal.settings import GatewaySection

SIGNING_ALG = "Ed25519"
ACCEPTED_SIGNING_ALGS = ("Ed25519", "EdDSA")
JWE_ALG = "ECDH-ES"
JWE_ENC = "A256GCM"
MAX_COMPACT_BYTES = 64 * 1024

# One registry per accepted algorithm. Unknown, non-critical header parameters are ignored as
# RFC 7515 asks (joserfc refuses them by default), so a peer that adds e.g. "iat" interoperates.
_VERIFY_REGISTRIES = {
    alg: jws.JWSRegistry(algorithms=[alg], strict_check_header=False)
    for alg in ACCEPTED_SIGNING_ALGS
}


class JoseFailure(ValueError):
    """A JWS/JWE that cannot be accepted; `kind` is "malformed" or "bad_signature"."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SignedMessage:
    """A compact JWS split and parsed, not yet verified."""

    header: dict[str, Any]
    payload: bytes
    token: jws.CompactSignature


def import_public_jwk(data: Mapping[str, Any], curve: str) -> OKPKey:
    """An OKP public key of `curve` from its JWK; ValueError for anything else."""
    if not isinstance(data, Mapping) or data.get("kty") != "OKP" or data.get("crv") != curve:
        raise ValueError(f"not an OKP {curve} JWK")
    if "d" in data:
        raise ValueError("a public JWK must not hold the private part")
    try:
        key = OKPKey.import_key(dict(data))
    except (JoseError, ValueError, TypeError) as error:
        raise ValueError(f"unusable {curve} JWK: {error}") from None
    return key


def okp_private(key: Ed25519PrivateKey | OKPKey) -> OKPKey:
    """A joserfc key from a `cryptography` private key (or one that already is)."""
    return key if isinstance(key, OKPKey) else OKPKey.import_key(key)


def sign_compact(payload: dict[str, Any], key: OKPKey, *, kid: str, typ: str) -> bytes:
    """JWS compact bytes of `payload`, `alg: "Ed25519"`."""
    header = {"alg": SIGNING_ALG, "kid": kid, "typ": typ}
    token = jws.serialize_compact(header, encode_payload(payload), key, algorithms=[SIGNING_ALG])
    return token.encode("ascii")


def read_compact(body: bytes) -> SignedMessage:
    """Split a compact JWS and check its header; raises `JoseFailure` before any crypto."""
    if len(body) > MAX_COMPACT_BYTES:
        raise JoseFailure("malformed", f"larger than {MAX_COMPACT_BYTES} bytes")
    if body.count(b".") != 2:
        raise JoseFailure("malformed", "not a JWS compact serialization (3 parts)")
    try:
        token = jws.extract_compact(body)
        header = token.headers()
    except (JoseError, ValueError, TypeError) as error:
        raise JoseFailure("malformed", f"not a JWS: {error}") from None
    if not isinstance(header, dict):
        raise JoseFailure("malformed", "JWS header is not an object")
    alg = header.get("alg")
    if alg not in ACCEPTED_SIGNING_ALGS:
        raise JoseFailure("bad_signature", f"algorithm {alg!r} is not accepted")
    if "crit" in header:
        raise JoseFailure("malformed", "critical header extensions are not supported")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise JoseFailure("malformed", "JWS header has no kid")
    return SignedMessage(header=header, payload=token.payload, token=token)


def verify_signature(message: SignedMessage, public_key: OKPKey) -> None:
    """Raise `JoseFailure("bad_signature")` unless `public_key` (Ed25519) signed `message`."""
    alg = message.header["alg"]
    if public_key.curve_name != "Ed25519":
        raise JoseFailure("bad_signature", "the key is not an Ed25519 key")
    try:
        with warnings.catch_warnings():
            # joserfc flags "EdDSA" as deprecated by RFC 9864; PROTOCOL.md accepts it on input.
            warnings.simplefilter("ignore")
            valid = jws.validate_compact(
                message.token, public_key, registry=_VERIFY_REGISTRIES[alg]
            )
    except (JoseError, ValueError, TypeError) as error:
        raise JoseFailure("bad_signature", f"signature check failed: {error}") from None
    if not valid:
        raise JoseFailure("bad_signature", "signature does not verify")


def json_object(data: bytes) -> dict[str, Any]:
    """A JWS payload as a JSON object; `JoseFailure("malformed")` otherwise."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise JoseFailure("malformed", "payload is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise JoseFailure("malformed", "payload is not a JSON object")
    return value


def encrypt_to(public_key: OKPKey, plaintext: bytes, *, kid: str | None = None) -> str:
    """JWE compact of `plaintext` to an X25519 key, ECDH-ES + A256GCM."""
    header: dict[str, Any] = {"alg": JWE_ALG, "enc": JWE_ENC}
    if kid:
        header["kid"] = kid
    return jwe.encrypt_compact(header, plaintext, public_key, algorithms=[JWE_ALG, JWE_ENC])


def decrypt_with(private_key: OKPKey, token: object) -> bytes:
    """Plaintext of a JWE made by `encrypt_to`; `JoseFailure("malformed")` when it is not one."""
    if not isinstance(token, str) or len(token) > MAX_COMPACT_BYTES or token.count(".") != 4:
        raise JoseFailure("malformed", "card data is not a JWE compact serialization")
    try:
        result = jwe.decrypt_compact(token, private_key, algorithms=[JWE_ALG, JWE_ENC])
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise JoseFailure("malformed", f"card data cannot be decrypted: {error}") from None
    header = result.headers()
    if header.get("alg") != JWE_ALG or header.get("enc") != JWE_ENC:
        raise JoseFailure("malformed", "card data uses another JWE algorithm")
    plaintext = result.plaintext
    if plaintext is None:
        raise JoseFailure("malformed", "card data is empty")
    return plaintext


class SigningKeys(Protocol):
    """What the signer needs from the keystore."""

    @property
    def kid(self) -> str: ...

    @property
    def signing_key(self) -> Ed25519PrivateKey: ...


class TerminalSigner:
    """Signs request payloads with the terminal's current key (typ posterm-request)."""

    def __init__(self, keystore: SigningKeys) -> None:
        self._keystore = keystore
        self._cache: tuple[str, OKPKey] | None = None

    @property
    def kid(self) -> str:
        return self._keystore.kid

    def sign(self, payload: dict[str, Any]) -> bytes:
        """The JWS compact bytes to store and send (every retry sends exactly these)."""
        kid = self._keystore.kid
        if self._cache is None or self._cache[0] != kid:
            self._cache = (kid, okp_private(self._keystore.signing_key))
        return sign_compact(payload, self._cache[1], kid=kid, typ=TYP_REQUEST)


class GatewayKeys:
    """The gateway's pinned public keys: verify its answers, encrypt card data to it."""

    def __init__(self, signing_jwk: Mapping[str, Any], encryption_jwk: Mapping[str, Any]) -> None:
        try:
            self.signing = import_public_jwk(signing_jwk, "Ed25519")
            self.encryption = import_public_jwk(encryption_jwk, "X25519")
        except ValueError as error:
            raise MessageError(f"the pinned gateway key is wrong: {error}") from None
        kid = encryption_jwk.get("kid")
        self.encryption_kid = kid if isinstance(kid, str) else None

    @classmethod
    def from_settings(cls, gateway: GatewaySection) -> GatewayKeys:
        """From `gateway.signing_key` and `gateway.encryption_key` (files or inline JSON)."""
        from terminal.settings import load_jwk

        if not gateway.signing_key or not gateway.encryption_key:
            raise MessageError(
                "gateway.signing_key and gateway.encryption_key must be configured "
                "(the JWK files the bank or `posterm gateway-sim` provides)"
            )
        try:
            signing = load_jwk(gateway.signing_key)
            encryption = load_jwk(gateway.encryption_key)
        except (OSError, ValueError) as error:
            raise MessageError(f"cannot read the gateway keys: {error}") from None
        return cls(signing, encryption)

    def encrypt(self, obj: dict[str, Any]) -> str:
        """JWE compact of `obj` (card data or scanned QR text) that only the gateway can open."""
        return encrypt_to(self.encryption, encode_payload(obj), kid=self.encryption_kid)

    def encrypt_text(self, text: str) -> str:
        """JWE compact of a scanned code's text (`qr.data` of a qr_cpm authorize)."""
        return encrypt_to(self.encryption, text.encode("utf-8"), kid=self.encryption_kid)

    def verify_answer(self, body: bytes, *, expected_id: str) -> Answer:
        """The verified answer to message `expected_id`; `BadAnswer` for anything else."""
        try:
            message = read_compact(body)
            # typ may be left out by a terse gateway, but a request is never taken for an answer.
            if message.header.get("typ", TYP_RESPONSE) != TYP_RESPONSE:
                raise JoseFailure("malformed", f"typ is {message.header.get('typ')!r}")
            verify_signature(message, self.signing)
            payload = json_object(message.payload)
        except JoseFailure as failure:
            raise BadAnswer(failure.reason) from None
        return Answer.from_payload(payload, body, expected_id=expected_id)
