"""The nexo door's TLS certificate: a CA the technician hands to the POS, and a server
certificate whose subject CN is `<POIID>.<environment>.terminal.adyen.com`.

The official Terminal API clients verify the chain against the CA file they are given and then
accept only a single subject CN of that form (POIID `word-word`, or
`legacy-terminal-certificate`), ignoring subject alternative names; so the CN is fixed by the
clients, not a claim to any domain. The SANs carry the POIID and the host's addresses for
clients that check host names the usual way (curl, browsers, other stacks).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from terminal.settings import Settings

CN_PATTERN = re.compile(
    r"^(([a-zA-Z0-9]+-[a-zA-Z0-9]+)|legacy-terminal-certificate)\.(live|test)\.terminal\.adyen\.com$"
)
VALID_DAYS = 825


@dataclass(frozen=True, slots=True)
class CertFiles:
    ca: Path
    cert: Path
    key: Path


def expected_cn(poi_id: str, environment: str) -> str:
    return f"{poi_id}.{environment}.terminal.adyen.com"


def files(settings: Settings) -> CertFiles:
    folder = settings.data_dir / "nexo"
    section = settings.nexo
    return CertFiles(
        ca=folder / "ca.pem",
        cert=Path(section.cert_file) if section.cert_file else folder / "server.pem",
        key=Path(section.key_file) if section.key_file else folder / "server.key",
    )


def _addresses() -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    found: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            found.add(ipaddress.ip_address(info[4][0]))
    except (OSError, ValueError):
        pass
    return sorted(found, key=lambda a: (a.version, int(a)))


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def create(settings: Settings, *, days: int = VALID_DAYS) -> CertFiles:
    """Make a new CA and a server certificate for this terminal's POIID; returns the files."""
    poi_id = settings.nexo.effective_poi_id(settings.terminal.terminal_id)
    cn = expected_cn(poi_id, settings.nexo.environment)
    now = dt.datetime.now(dt.UTC)
    target = files(settings)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(
                NameOID.COMMON_NAME, f"posterm nexo CA {settings.terminal.terminal_id}"
            ),
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME, settings.terminal.merchant_name[:64] or "posterm"
            ),
        ]
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days + 1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [
        x509.DNSName(poi_id),
        x509.DNSName(cn),
        x509.DNSName("localhost"),
    ]
    names += [x509.IPAddress(a) for a in _addresses()]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(target.ca, ca.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(target.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(
        target.key,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )
    # The CA's private key is not kept: a new certificate means a new CA file for the POS.
    return target


@dataclass(frozen=True, slots=True)
class CertCheck:
    ok: bool
    sentence: str
    """What was found (or what is wrong); it may end with what to do."""
    expires: str = ""
    cn: str = ""


def check(settings: Settings, *, warn_days: int = 30) -> CertCheck:
    """Is the server certificate there, in date, and is its CN the POIID's? (devices probe)"""
    target = files(settings)
    poi_id = settings.nexo.effective_poi_id(settings.terminal.terminal_id)
    cn = expected_cn(poi_id, settings.nexo.environment)
    try:
        cert = x509.load_pem_x509_certificate(target.cert.read_bytes())
    except FileNotFoundError:
        return CertCheck(
            False, f"no nexo certificate at {target.cert}: run `posterm keys nexo-cert`"
        )
    except (OSError, ValueError) as error:
        return CertCheck(False, f"the nexo certificate {target.cert} cannot be read: {error}")
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    subject = str(names[0].value) if len(names) == 1 else ""
    if subject != cn:
        return CertCheck(
            False,
            f"the nexo certificate's CN is {subject or '(none)'}, not {cn}: run "
            "`posterm keys nexo-cert` and hand the new CA file to the POS",
        )
    left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    if left.total_seconds() <= 0:
        return CertCheck(
            False,
            f"the nexo certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}: "
            "run `posterm keys nexo-cert`",
        )
    if left.days < warn_days:
        return CertCheck(
            False,
            f"the nexo certificate expires in {left.days} days "
            f"({cert.not_valid_after_utc:%Y-%m-%d}): "
            "run `posterm keys nexo-cert` soon",
        )
    until = f"{cert.not_valid_after_utc:%Y-%m-%d}"
    return CertCheck(True, f"nexo certificate {cn}, valid until {until}", until, cn)
