"""The simulator's data folder: CA and TLS certificate, key pairs, the files a terminal needs.

Made on first start and kept (the CA and keys never change, so terminals stay pinned); the
server certificate is reissued by that CA on each start for the host being listened on.

    DIR/ca.pem                    CA certificate the terminal verifies TLS against
    DIR/gateway-signing.jwk       public Ed25519 JWK that signs answers
    DIR/gateway-encryption.jwk    public X25519 JWK that card data is encrypted to
    DIR/terminal-gateway.toml     a ready [gateway] section for a terminal's site file
    DIR/admin-token               the admin API's bearer token (mode 0600, made once)
    DIR/admin-url                 where the admin API listens (written on each start)
    DIR/private/                  CA key, TLS key and certificate, the private JWKs, the key of
                                  the ledger's PAN fingerprints (mode 0700, files 0600)
    DIR/ledger.sqlite             the ledger (see ledger.py), mode 0600
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from joserfc.jwk import OKPKey

SIGNING_KID = "gw-sig-1"
ENCRYPTION_KID = "gw-enc-1"


@dataclass(frozen=True, slots=True)
class SimFiles:
    """Paths inside the data folder."""

    root: Path

    @property
    def private(self) -> Path:
        return self.root / "private"

    @property
    def ca_pem(self) -> Path:
        return self.root / "ca.pem"

    @property
    def signing_jwk(self) -> Path:
        return self.root / "gateway-signing.jwk"

    @property
    def encryption_jwk(self) -> Path:
        return self.root / "gateway-encryption.jwk"

    @property
    def terminal_toml(self) -> Path:
        return self.root / "terminal-gateway.toml"

    @property
    def admin_token(self) -> Path:
        return self.root / "admin-token"

    @property
    def admin_url(self) -> Path:
        return self.root / "admin-url"

    @property
    def ledger(self) -> Path:
        return self.root / "ledger.sqlite"


@dataclass(frozen=True, slots=True, repr=False)
class SimKeys:
    """The simulator's private keys (answer signing, card-data decryption)."""

    signing: OKPKey
    encryption: OKPKey
    pan_fingerprint: bytes
    """HMAC key of the ledger's card accounts: a PAN is never stored, nor its plain hash."""


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)


def prepare(root: Path) -> tuple[SimFiles, SimKeys]:
    """Create what is missing in the data folder and load the keys."""
    files = SimFiles(root.resolve())
    files.root.mkdir(parents=True, exist_ok=True)
    files.private.mkdir(mode=0o700, exist_ok=True)
    keys = SimKeys(
        signing=_okp(files.private / "gateway-signing.private.jwk", "Ed25519", SIGNING_KID),
        encryption=_okp(files.private / "gateway-encryption.private.jwk", "X25519", ENCRYPTION_KID),
        pan_fingerprint=_secret(files.private / "pan-fingerprint.key"),
    )
    _write(files.signing_jwk, _public_json(keys.signing, SIGNING_KID, "sig"))
    _write(files.encryption_jwk, _public_json(keys.encryption, ENCRYPTION_KID, "enc"))
    _ensure_ca(files)
    if not files.admin_token.exists():
        _write(files.admin_token, secrets.token_urlsafe(32).encode("ascii"), 0o600)
    return files, keys


def _secret(path: Path) -> bytes:
    """32 random bytes kept in `path` (0600), made on first use."""
    if path.exists():
        return path.read_bytes()
    key = os.urandom(32)
    _write(path, key, 0o600)
    return key


def _okp(path: Path, curve: str, kid: str) -> OKPKey:
    if path.exists():
        return OKPKey.import_key(json.loads(path.read_text(encoding="utf-8")))
    key = OKPKey.generate_key(curve, parameters={"kid": kid})  # type: ignore[arg-type]
    _write(path, json.dumps(key.as_dict(private=True)).encode(), 0o600)
    return key


def _public_json(key: OKPKey, kid: str, use: str) -> bytes:
    data: dict[str, Any] = dict(key.as_dict(private=False))
    data.update({"kid": kid, "use": use})
    return (json.dumps(data, indent=2) + "\n").encode()


def _ensure_ca(files: SimFiles) -> None:
    key_path = files.private / "ca.key"
    if key_path.exists() and files.ca_pem.exists():
        return
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "posterm gateway simulator CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )
    _write(files.ca_pem, cert.public_bytes(serialization.Encoding.PEM))


def server_context(files: SimFiles, host: str) -> ssl.SSLContext:
    """A TLS 1.2+ server context with a fresh certificate for `host`, signed by the CA."""
    ca_key = serialization.load_pem_private_key((files.private / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_cert = x509.load_pem_x509_certificate(files.ca_pem.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for address in {"127.0.0.1", "::1", host}:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            names.append(x509.DNSName(address))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host or "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path = files.private / "server.pem"
    key_path = files.private / "server.key"
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM) + files.ca_pem.read_bytes())
    _write(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    return context


def write_terminal_toml(files: SimFiles, url: str) -> None:
    """The [gateway] section a terminal pastes into its site file (absolute paths)."""
    from terminal.settings.toml_text import tables_text

    values: dict[str, object] = {
        "url": url,
        "ca_file": str(files.ca_pem),
        "signing_key": str(files.signing_jwk),
        "encryption_key": str(files.encryption_jwk),
    }
    if url.startswith("http://"):
        values["allow_plain_http_loopback"] = True
    comment = "Written by `posterm gateway-sim`: paste into the terminal's site file."
    _write(files.terminal_toml, (tables_text({"gateway": values}, comment=comment) + "\n").encode())
