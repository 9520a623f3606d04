"""Run the hardware probes on the configured devices, plus the gateway link check.

The device probes live in `drivers/probe` (no application imports there); this module feeds
them the configured device strings and adds the one check only the application can make: is
the bank gateway reachable over TLS with the configured CA, and are its keys pinned.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx

from drivers.probe import ProbeResult, failed, working
from drivers.probe.camera import probe_camera
from drivers.probe.listing import AttachedDevice, attached_devices
from drivers.probe.nfc_reader import probe_reader
from drivers.probe.serial_devices import probe_display, probe_printer
from terminal.settings import Settings, load_jwk

__all__ = ["AttachedDevice", "ProbeResult", "attached_devices", "check_gateway", "probe_all"]

# Beyond this the gateway's replay window and the receipts' times go wrong.
MAX_CLOCK_SKEW_S = 60.0


def probe_all(
    settings: Settings,
    *,
    only: set[str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[ProbeResult]:
    """Every configured device's probe result, then the gateway's, in a fixed order."""
    devices = settings.devices
    probes: list[tuple[str, Callable[[], ProbeResult]]] = [
        ("reader", lambda: probe_reader(devices.nfc)),
        ("camera", lambda: probe_camera(devices.camera)),
        ("printer", lambda: probe_printer(devices.printer)),
        ("display", lambda: probe_display(devices.display)),
        ("gateway", lambda: check_gateway(settings, transport=transport)),
    ]
    if settings.nexo.enabled or (only is not None and "nexo" in only):
        probes.append(("nexo", lambda: check_nexo(settings)))
    chosen = [run for kind, run in probes if only is None or kind in only]
    # Each probe waits on its own device (a 2 s sense, frame grabs, status bytes, TLS): run
    # them side by side so a technician waits for the slowest, not the sum.
    with ThreadPoolExecutor(max_workers=len(chosen) or 1, thread_name_prefix="probe") as pool:
        return list(pool.map(lambda run: run(), chosen))


def check_nexo(settings: Settings) -> ProbeResult:
    """The nexo door's certificate: present, in date, and its CN the POIID's."""
    from terminal.nexo import certificate

    files = certificate.files(settings)
    checked = certificate.check(settings)
    if not checked.ok:
        return failed(
            "nexo",
            str(files.cert),
            found=files.cert.exists(),
            problem=checked.sentence.split(": run ")[0],
            fix=f"run `posterm keys nexo-cert` and give the new CA file ({files.ca}) to the POS",
        )
    return ProbeResult(
        kind="nexo",
        device=str(files.cert),
        found=True,
        opened=True,
        self_test=checked.sentence,
        healthy=True,
        details={"cn": checked.cn, "expires": checked.expires},
    )


def check_gateway(
    settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> ProbeResult:
    """GET /v1/health over TLS verified against gateway.ca_file; check the pinned keys."""
    gateway = settings.gateway
    url = gateway.url
    pin_problem = _pinning_problem(settings)
    verify: ssl.SSLContext | bool = True
    if url.startswith("https://"):
        try:
            verify = ssl.create_default_context(cafile=gateway.ca_bundle)
        except (OSError, ssl.SSLError) as error:
            return failed(
                "gateway",
                url,
                found=None,
                problem=f"gateway.ca_file {gateway.ca_file} is not a PEM CA certificate ({error})",
                fix="copy the CA certificate the bank gave you (ca.pem) and point gateway.ca_file "
                "at it",
            )
    timeout = httpx.Timeout(gateway.timeout_s, connect=gateway.connect_timeout_s)
    started = time.monotonic()
    try:
        with httpx.Client(verify=verify, timeout=timeout, transport=transport) as client:
            response = client.get(f"{url}/v1/health")
    except httpx.ConnectError as error:
        return _connect_failure(url, error)
    except httpx.TimeoutException:
        return failed(
            "gateway",
            url,
            found=None,
            problem=f"the gateway at {url} did not answer within {gateway.timeout_s:g} s",
            fix="check the network path to the gateway (firewall, proxy) and gateway.url",
        )
    except httpx.HTTPError as error:
        return failed(
            "gateway",
            url,
            found=True,
            problem=f"the gateway link failed: {error}",
            fix="check gateway.url",
        )
    latency_ms = round((time.monotonic() - started) * 1000, 1)
    details: dict[str, Any] = {"status": response.status_code, "latency_ms": latency_ms}
    body = _json(response)
    if response.status_code != 200 or body.get("status") != "ok":
        return failed(
            "gateway",
            url,
            found=True,
            opened=True,
            problem=f"the gateway answered /v1/health with {response.status_code}",
            fix="the gateway is up but not serving: ask the bank (or restart the simulator)",
            details=details,
        )
    skew = _clock_skew(body.get("time"))
    if skew is not None:
        details["clock_skew_s"] = round(skew, 1)
        if abs(skew) > MAX_CLOCK_SKEW_S:
            return failed(
                "gateway",
                url,
                found=True,
                opened=True,
                problem=f"this terminal's clock is {skew:+.0f} s off the gateway's",
                fix="enable time synchronisation (`sudo timedatectl set-ntp true`); the gateway "
                "refuses messages outside its time window",
                details=details,
            )
    if pin_problem:
        problem, fix = pin_problem
        return failed(
            "gateway", url, found=True, opened=True, problem=problem, fix=fix, details=details
        )
    tls = "TLS verified" if url.startswith("https://") else "plain http (loopback lab only)"
    return working(
        "gateway",
        url,
        f"/v1/health ok in {latency_ms:g} ms, {tls}, gateway keys pinned",
        details,
    )


def _connect_failure(url: str, error: httpx.ConnectError) -> ProbeResult:
    text = str(error)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate" in text.lower():
        return failed(
            "gateway",
            url,
            found=True,
            problem="the gateway's TLS certificate is not signed by the configured CA "
            f"({text.split(':')[-1].strip() or text})",
            fix="set gateway.ca_file to the CA certificate from the bank (the simulator writes "
            "ca.pem into its data folder); never turn verification off",
        )
    return failed(
        "gateway",
        url,
        found=False,
        problem=f"cannot connect to the gateway at {url} ({text or 'connection failed'})",
        fix="check the network, gateway.url and that the gateway (or `posterm gateway-sim`) "
        "is running; sales below the floor limit continue offline meanwhile",
    )


def _pinning_problem(settings: Settings) -> tuple[str, str] | None:
    expected = {"signing_key": "Ed25519", "encryption_key": "X25519"}
    for key, curve in expected.items():
        value = getattr(settings.gateway, key)
        if not value:
            return (
                f"gateway.{key} is not set: the gateway's {curve} key is not pinned",
                f"set gateway.{key} to the gateway's public JWK file from the bank (the "
                f"simulator writes gateway-{key.split('_')[0]}.jwk)",
            )
        try:
            jwk = load_jwk(value)
        except (OSError, ValueError) as error:
            return (
                f"gateway.{key} cannot be read: {error}",
                f"fix the file named in gateway.{key}",
            )
        if jwk.get("kty") != "OKP" or jwk.get("crv") != curve or "d" in jwk:
            return (
                f"gateway.{key} is not the gateway's public {curve} JWK",
                f"replace it with the public {curve} JWK from the bank",
            )
    return None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _clock_skew(stamp: object) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        theirs = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if theirs.tzinfo is None:
        theirs = theirs.replace(tzinfo=UTC)
    return (datetime.now(UTC) - theirs).total_seconds()
