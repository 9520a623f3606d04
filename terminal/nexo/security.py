"""The shared-key security trailer of the nexo Terminal API (AdyenCryptoVersion 1).

Key material is PBKDF2-HMAC-SHA1 of the passphrase (Latin-1 bytes), salt "AdyenNexoV1Salt",
4000 rounds, 80 bytes: HMAC key = bytes 0-31, AES key = 32-63, IV = 64-79. The blob is
AES-256-CBC with PKCS#7 padding of the whole `{"SaleToPOIRequest": ...}` document under
IV = derived IV XOR the message's 16-byte nonce; `Hmac` is HMAC-SHA256 of the plaintext.
Only the `cryptography` package does the cryptography here.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from terminal.nexo.errors import MessageFormat, SecurityRefused

SALT = b"AdyenNexoV1Salt"
ROUNDS = 4000
CRYPTO_VERSION = 1
NONCE_BYTES = 16


@dataclass(frozen=True, slots=True)
class DerivedKey:
    hmac_key: bytes
    cipher_key: bytes
    iv: bytes


@dataclass(frozen=True, slots=True)
class SharedKey:
    """One configured [[nexo.keys]] entry."""

    identifier: str
    version: int
    passphrase: str

    def __repr__(self) -> str:  # never the passphrase in a log or traceback
        return f"SharedKey({self.identifier!r}, {self.version})"

    @property
    def derived(self) -> DerivedKey:
        return derive(self.passphrase)


@functools.lru_cache(maxsize=16)
def derive(passphrase: str) -> DerivedKey:
    """The 80 bytes of key material (cached: 4000 PBKDF2 rounds per message would cost)."""
    material = PBKDF2HMAC(
        algorithm=hashes.SHA1(),  # noqa: S303 - fixed by the protocol, not our choice
        length=80,
        salt=SALT,
        iterations=ROUNDS,
    ).derive(passphrase.encode("latin-1"))
    return DerivedKey(material[:32], material[32:64], material[64:80])


def _cipher(key: DerivedKey, nonce: bytes) -> Cipher[modes.CBC]:
    iv = bytes(a ^ b for a, b in zip(key.iv, nonce, strict=True))
    return Cipher(algorithms.AES(key.cipher_key), modes.CBC(iv))


def _mac(key: DerivedKey, plaintext: bytes) -> bytes:
    mac = crypto_hmac.HMAC(key.hmac_key, hashes.SHA256())
    mac.update(plaintext)
    return mac.finalize()


def is_secured(message: dict[str, Any]) -> bool:
    """True when the message carries a SecurityTrailer or a NexoBlob (an encrypted request)."""
    return "SecurityTrailer" in message or "NexoBlob" in message


def _b64(value: object, field: str) -> bytes:
    if not isinstance(value, str):
        raise MessageFormat(f"{field} must be base64 text.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MessageFormat(f"{field} is not valid base64.") from None


def open_message(message: dict[str, Any], keys: Sequence[SharedKey]) -> tuple[bytes, SharedKey]:
    """The plaintext document of an encrypted `SaleToPOIRequest` and the key that opened it.

    A trailer that is not even well-formed is a `MessageFormat`; an unknown key, a blob that
    does not decrypt or a wrong HMAC is `SecurityRefused` (HTTP 401, no hint which)."""
    trailer = message.get("SecurityTrailer")
    if not isinstance(trailer, dict):
        raise MessageFormat("SaleToPOIRequest.SecurityTrailer is missing or not an object.")
    identifier = trailer.get("KeyIdentifier")
    version = trailer.get("KeyVersion")
    crypto_version = trailer.get("AdyenCryptoVersion")
    if not isinstance(identifier, str) or type(version) is not int:
        raise MessageFormat("SecurityTrailer.KeyIdentifier and KeyVersion are mandatory.")
    if type(crypto_version) is not int:
        raise MessageFormat("SecurityTrailer.AdyenCryptoVersion must be a number.")
    nonce = _b64(trailer.get("Nonce"), "SecurityTrailer.Nonce")
    received = _b64(trailer.get("Hmac"), "SecurityTrailer.Hmac")
    blob = _b64(message.get("NexoBlob"), "SaleToPOIRequest.NexoBlob")
    key = next((k for k in keys if k.identifier == identifier and k.version == version), None)
    if key is None or crypto_version != CRYPTO_VERSION:
        raise SecurityRefused("unknown key")
    if len(nonce) != NONCE_BYTES or not blob or len(blob) % 16:
        raise SecurityRefused("bad blob")
    derived = key.derived
    decryptor = _cipher(derived, nonce).decryptor()
    padded = decryptor.update(blob) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plaintext = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        plaintext = padded  # the HMAC check below fails the same way, with no timing hint
    if not hmac.compare_digest(_mac(derived, plaintext), received):
        raise SecurityRefused("bad hmac")
    return plaintext, key


def seal(header: dict[str, Any], plaintext: bytes, key: SharedKey) -> dict[str, Any]:
    """The `SaleToPOIResponse` (or request) envelope of `plaintext`, with a fresh nonce."""
    derived = key.derived
    nonce = os.urandom(NONCE_BYTES)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = _cipher(derived, nonce).encryptor()
    blob = encryptor.update(padded) + encryptor.finalize()
    return {
        "MessageHeader": header,
        "NexoBlob": base64.b64encode(blob).decode(),
        "SecurityTrailer": {
            "AdyenCryptoVersion": CRYPTO_VERSION,
            "KeyIdentifier": key.identifier,
            "KeyVersion": key.version,
            "Nonce": base64.b64encode(nonce).decode(),
            "Hmac": base64.b64encode(_mac(derived, plaintext)).decode(),
        },
    }


def unseal_response(message: dict[str, Any], key: SharedKey) -> bytes:
    """The plaintext of a sealed answer (tests and the benchmark play the till with it)."""
    plaintext, _ = open_message(message, [key])
    return plaintext
