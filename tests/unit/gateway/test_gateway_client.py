"""The client's retry rules with an injected transport (the simulator tests cover the real link)."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import httpx
import pytest
from joserfc.jwk import OKPKey

from terminal.gateway.client import GatewayClient, backoff_s
from terminal.gateway.errors import GatewayError, NothingSent, OutcomeUnknown, ProtocolRejected
from terminal.gateway.jose import GatewayKeys, sign_compact
from terminal.settings import Settings, load_settings

MESSAGE_ID = "f47ac10b-58cc-4372-a567-0e02b2c3d479"
BODY = b"header.payload.signature"


@pytest.fixture
def gateway_key() -> OKPKey:
    return OKPKey.generate_key("Ed25519")


def settings_for(tmp_path: Path, gateway_key: OKPKey, **gateway: object) -> Settings:
    signing = tmp_path / "sig.jwk"
    signing.write_text(json.dumps(gateway_key.as_dict(private=False)))
    encryption = tmp_path / "enc.jwk"
    encryption.write_text(json.dumps(OKPKey.generate_key("X25519").as_dict(private=False)))
    lines = [
        "[gateway]",
        f'signing_key = "{signing}"',
        f'encryption_key = "{encryption}"',
        'url = "https://primary.test:8443"',
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in gateway.items()]
    path = tmp_path / "posterm.toml"
    path.write_text("\n".join(lines))
    return load_settings(path, environ={})


def answer(gateway_key: OKPKey, **overrides: object) -> bytes:
    payload = {
        "v": 1,
        "id": MESSAGE_ID,
        "type": "authorize",
        "result": "approved",
        "code": "00",
        "auth_code": "ABC123",
        "reason": "",
        "gateway_ref": "G",
        "at": "2026-11-22T10:00:00.000Z",
    }
    payload.update(overrides)
    return sign_compact(payload, gateway_key, kid="gw", typ="posterm-response")


def client_for(settings: Settings, handler: object) -> GatewayClient:
    return GatewayClient(
        settings,
        GatewayKeys.from_settings(settings.gateway),
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        rng=random.Random(1),
    )


async def test_retries_send_exactly_the_same_bytes(tmp_path: Path, gateway_key: OKPKey) -> None:
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        if len(seen) < 3:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, content=answer(gateway_key))

    client = client_for(settings_for(tmp_path, gateway_key), handler)
    result = await client.send(MESSAGE_ID, BODY, deadline_s=10)
    assert result.auth_code == "ABC123"
    assert seen == [BODY, BODY, BODY]
    assert client.online
    await client.aclose()


async def test_connect_failure_tries_the_secondary_then_gives_nothing_sent(
    tmp_path: Path, gateway_key: OKPKey
) -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        raise httpx.ConnectError("refused", request=request)

    settings = settings_for(tmp_path, gateway_key, secondary_url="https://secondary.test:8443")
    client = client_for(settings, handler)
    with pytest.raises(NothingSent):
        await client.send(MESSAGE_ID, BODY, deadline_s=10)
    assert hosts == ["primary.test", "secondary.test"]
    assert not client.online


async def test_secondary_answers_when_the_primary_is_unreachable(
    tmp_path: Path, gateway_key: OKPKey
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "primary.test":
            raise httpx.ConnectTimeout("timeout", request=request)
        return httpx.Response(200, content=answer(gateway_key))

    settings = settings_for(tmp_path, gateway_key, secondary_url="https://secondary.test:8443")
    result = await client_for(settings, handler).send(MESSAGE_ID, BODY)
    assert result.approved


async def test_dropped_connection_after_sending_ends_in_outcome_unknown(
    tmp_path: Path, gateway_key: OKPKey
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.RemoteProtocolError("server disconnected", request=request)

    client = client_for(settings_for(tmp_path, gateway_key), handler)
    with pytest.raises(OutcomeUnknown) as unknown:
        await client.send(MESSAGE_ID, BODY, deadline_s=1.0)
    assert unknown.value.message_id == MESSAGE_ID
    assert unknown.value.attempts == calls >= 2


async def test_connect_failure_after_an_earlier_send_is_still_unknown(
    tmp_path: Path, gateway_key: OKPKey
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ReadTimeout("sent, no answer", request=request)
        raise httpx.ConnectError("refused", request=request)

    client = client_for(settings_for(tmp_path, gateway_key), handler)
    with pytest.raises(OutcomeUnknown):
        await client.send(MESSAGE_ID, BODY, deadline_s=0.8)


async def test_5xx_is_retried(tmp_path: Path, gateway_key: OKPKey) -> None:
    statuses = iter([503, 500])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(statuses, 200)
        if status != 200:
            return httpx.Response(status, json={"error": "unavailable", "message": "busy"})
        return httpx.Response(200, content=answer(gateway_key))

    assert (
        await client_for(settings_for(tmp_path, gateway_key), handler).send(MESSAGE_ID, BODY)
    ).approved


async def test_forged_answer_is_no_answer_and_an_alarm(
    tmp_path: Path, gateway_key: OKPKey, caplog: pytest.LogCaptureFixture
) -> None:
    forged = answer(OKPKey.generate_key("Ed25519"))
    client = client_for(
        settings_for(tmp_path, gateway_key), lambda request: httpx.Response(200, content=forged)
    )
    with caplog.at_level(logging.ERROR), pytest.raises(OutcomeUnknown):
        await client.send(MESSAGE_ID, BODY, deadline_s=0.6)
    assert "SECURITY ALARM" in caplog.text


@pytest.mark.parametrize(
    ("status", "code"), [(409, "id_conflict"), (422, "stale"), (401, "bad_signature")]
)
async def test_documented_refusals_are_not_retried(
    tmp_path: Path, gateway_key: OKPKey, status: int, code: str
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(status, json={"error": code, "message": "no"})

    with pytest.raises(ProtocolRejected) as refused:
        await client_for(settings_for(tmp_path, gateway_key), handler).send(MESSAGE_ID, BODY)
    assert (refused.value.status, refused.value.code, calls) == (status, code, 1)
    assert refused.value.exit_code == 3


async def test_health_reports_the_link(tmp_path: Path, gateway_key: OKPKey) -> None:
    client = client_for(
        settings_for(tmp_path, gateway_key),
        lambda request: httpx.Response(200, json={"status": "ok", "time": "now"}),
    )
    assert await client.health()
    assert client.online


def test_plain_http_needs_loopback_and_the_explicit_setting(
    tmp_path: Path, gateway_key: OKPKey
) -> None:
    settings = settings_for(tmp_path, gateway_key)
    lab = settings.model_copy(
        update={"gateway": settings.gateway.model_copy(update={"url": "http://10.0.0.1:80"})}
    )
    with pytest.raises(GatewayError, match="plain http"):
        GatewayClient(lab, GatewayKeys.from_settings(lab.gateway))


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    waits = [backoff_s(attempt, rng) for attempt in range(1, 10)]
    assert 0.1 <= waits[0] <= 0.2
    assert all(w <= 2.0 for w in waits)
    assert waits[5] >= 1.0
