"""Enrolling the terminal's public keys with a bank gateway.

With a real bank enrolment is a human process: the technician exports the public JWK
(`posterm keys show-public --format jwk`), sends it over the channel the bank authenticates,
and the bank registers it against the terminal id (docs/install.md, "Enrolment with the
bank"). The bundled gateway simulator takes the same public keys through its loopback admin
API (`POST /sim/terminals`), which `posterm keys enroll --gateway-admin URL` uses so a lab or
demo terminal is ready in one command. Only public keys ever leave the terminal.

Errors:
    EnrolmentError      the gateway did not accept the keys (exit 3; usage problems exit 2)
"""

from __future__ import annotations

import json
import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx

from terminal.errors import PostermError


class EnrolmentError(PostermError):
    """The keys could not be enrolled."""

    exit_code = 3


def public_only(jwks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The keys as they may leave the terminal: refuse anything holding a private part."""
    for jwk in jwks:
        if "d" in jwk or jwk.get("kty") != "OKP":
            raise EnrolmentError("refusing to send a key that is not a public OKP JWK")
    return jwks


def enroll_with_simulator(
    admin_url: str,
    terminal_id: str,
    jwks: list[dict[str, Any]],
    *,
    ca_file: str = "",
    token: str = "",
    timeout_s: float = 10.0,
    transport: httpx.BaseTransport | None = None,
) -> list[str]:
    """POST the public keys to the simulator's admin API (bearer `token`, the simulator's
    DATA/admin-token); returns the kids it enrolled."""
    parts = urlsplit(admin_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise EnrolmentError(
            f"{admin_url!r} is not the simulator's admin address (e.g. https://127.0.0.1:8444)"
        )
    verify: ssl.SSLContext | bool = True
    if parts.scheme == "https":
        try:
            verify = (
                ssl.create_default_context(cafile=ca_file)
                if ca_file
                else ssl.create_default_context()
            )
        except (OSError, ssl.SSLError) as error:
            raise EnrolmentError(f"the CA file {ca_file} cannot be used ({error})") from None
    body = {"terminal_id": terminal_id, "jwks": public_only(jwks)}
    url = admin_url.rstrip("/") + "/sim/terminals"
    try:
        with httpx.Client(verify=verify, timeout=timeout_s, transport=transport) as client:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = client.post(url, json=body, headers=headers)
    except httpx.ConnectError as error:
        if "certificate" in str(error).lower():
            raise EnrolmentError(
                f"the TLS certificate at {admin_url} is not signed by a trusted CA: pass the "
                "simulator's ca.pem (--ca-file, default gateway.ca_file)"
            ) from None
        raise EnrolmentError(
            f"cannot reach the gateway simulator's admin API at {admin_url} ({error}); start "
            "`posterm gateway-sim` or correct --gateway-admin"
        ) from None
    except httpx.HTTPError as error:
        raise EnrolmentError(f"the enrolment request failed ({error})") from None
    try:
        answer = json.loads(response.content)
    except ValueError:
        answer = {}
    if response.status_code not in (200, 201) or not isinstance(answer, dict):
        reason = answer.get("message", "") if isinstance(answer, dict) else ""
        raise EnrolmentError(
            f"the gateway refused the enrolment ({response.status_code}"
            f"{': ' + reason if reason else ''})"
        )
    enrolled = answer.get("enrolled", [])
    if not isinstance(enrolled, list):
        raise EnrolmentError("the gateway's answer does not list the enrolled keys")
    return [str(kid) for kid in enrolled]
