"""Queued ISO 8583 requests at rest: AES-GCM under a key derived for this purpose alone.

An ISO 8583 request carries the PAN and track 2 in clear (the TLS link protects them on the
wire); on the terminal they must never be on disk in clear. So the bytes the journal keeps and
the adapter's own records are sealed here, bound to their message id, and opened only to send.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from terminal.iso8583.errors import Iso8583Error

MAGIC = b"I8583\x02"
_NONCE = 12
_ID_LENGTH = 2


class SealError(Iso8583Error):
    """Stored bytes that this terminal's key does not open (damaged, or another root)."""


class Vault:
    """Seals and opens stored requests with one 32-byte key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, message_id: str, plain: bytes) -> bytes:
        """MAGIC, the message id (in clear: it names the request, it hides nothing), a nonce
        and the AES-GCM ciphertext bound to that id."""
        name = message_id.encode()
        nonce = os.urandom(_NONCE)
        head = MAGIC + len(name).to_bytes(_ID_LENGTH, "big") + name
        return head + nonce + self._aead.encrypt(nonce, plain, _aad(message_id))

    def open(self, message_id: str, sealed: bytes) -> bytes:
        if message_id_of(sealed) != message_id:
            raise SealError(f"stored message {message_id} is not a sealed ISO 8583 request")
        start = len(MAGIC) + _ID_LENGTH + len(message_id.encode())
        nonce = sealed[start : start + _NONCE]
        try:
            return self._aead.decrypt(nonce, sealed[start + _NONCE :], _aad(message_id))
        except InvalidTag:
            raise SealError(
                f"stored message {message_id} does not open with this terminal's key "
                "(damaged, or sealed under another root secret)"
            ) from None

    def __repr__(self) -> str:
        return "Vault(<key>)"


def message_id_of(sealed: bytes) -> str | None:
    """The message id a sealed request names, or None when the bytes are not one."""
    if not sealed.startswith(MAGIC) or len(sealed) < len(MAGIC) + _ID_LENGTH:
        return None
    size = int.from_bytes(sealed[len(MAGIC) : len(MAGIC) + _ID_LENGTH], "big")
    start = len(MAGIC) + _ID_LENGTH
    if len(sealed) < start + size + _NONCE + 16:
        return None
    try:
        return sealed[start : start + size].decode()
    except UnicodeDecodeError:
        return None


def is_sealed(stored: bytes) -> bool:
    """Bytes made by `Vault.seal` (the router tells them from a JWS by this)."""
    return stored.startswith(MAGIC)


def _aad(message_id: str) -> bytes:
    return b"posterm/iso8583/stored/v1|" + message_id.encode()
