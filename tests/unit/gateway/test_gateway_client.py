"""The client's retry rules with an injected transport (the simulator tests cover the real link)."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpcore
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
        'ca_file = "system"',
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


@dataclass(frozen=True)
class Sent:
    """One request as the scripted transport saw it."""

    method: str
    host: str
    content: bytes


Answer = tuple[int, bytes]


class ScriptedTransport:
    """A transport whose handler answers (status, body) or raises httpcore's exceptions, as
    the real one does."""

    def __init__(self, handler: Callable[[Sent], Answer]) -> None:
        self.handler = handler

    async def exchange(
        self, method: str, url: str, body: bytes = b"", *, connect_s: float, read_s: float
    ) -> Answer:
        return self.handler(Sent(method, urlsplit(url).hostname or "", body))

    async def aclose(self) -> None:
        return None


def client_for(settings: Settings, handler: Callable[[Sent], Answer]) -> GatewayClient:
    return GatewayClient(
        settings,
        GatewayKeys.from_settings(settings.gateway),
        transport=ScriptedTransport(handler),
        rng=random.Random(1),
    )


async def test_retries_send_exactly_the_same_bytes(tmp_path: Path, gateway_key: OKPKey) -> None:
    seen: list[bytes] = []

    def handler(request: Sent) -> Answer:
        seen.append(request.content)
        if len(seen) < 3:
            raise httpcore.ReadTimeout("slow")
        return (200, answer(gateway_key))

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

    def handler(request: Sent) -> Answer:
        hosts.append(request.host)
        raise httpcore.ConnectError("refused")

    settings = settings_for(tmp_path, gateway_key, secondary_url="https://secondary.test:8443")
    client = client_for(settings, handler)
    with pytest.raises(NothingSent):
        await client.send(MESSAGE_ID, BODY, deadline_s=10)
    assert hosts == ["primary.test", "secondary.test"]
    assert not client.online


async def test_secondary_answers_when_the_primary_is_unreachable(
    tmp_path: Path, gateway_key: OKPKey
) -> None:
    def handler(request: Sent) -> Answer:
        if request.host == "primary.test":
            raise httpcore.ConnectTimeout("timeout")
        return (200, answer(gateway_key))

    settings = settings_for(tmp_path, gateway_key, secondary_url="https://secondary.test:8443")
    result = await client_for(settings, handler).send(MESSAGE_ID, BODY)
    assert result.approved


async def test_dropped_connection_after_sending_ends_in_outcome_unknown(
    tmp_path: Path, gateway_key: OKPKey
) -> None:
    calls = 0

    def handler(request: Sent) -> Answer:
        nonlocal calls
        calls += 1
        raise httpcore.RemoteProtocolError("server disconnected")

    client = client_for(settings_for(tmp_path, gateway_key), handler)
    with pytest.raises(OutcomeUnknown) as unknown:
        await client.send(MESSAGE_ID, BODY, deadline_s=1.0)
    assert unknown.value.message_id == MESSAGE_ID
    assert unknown.value.attempts == calls >= 2


async def test_connect_failure_after_an_earlier_send_is_still_unknown(
    tmp_path: Path, gateway_key: OKPKey
) -> None:
    calls = 0

    def handler(request: Sent) -> Answer:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpcore.ReadTimeout("sent, no answer")
        raise httpcore.ConnectError("refused")

    client = client_for(settings_for(tmp_path, gateway_key), handler)
    with pytest.raises(OutcomeUnknown):
        await client.send(MESSAGE_ID, BODY, deadline_s=0.8)


async def test_5xx_is_retried(tmp_path: Path, gateway_key: OKPKey) -> None:
    statuses = iter([503, 500])

    def handler(request: Sent) -> Answer:
        status = next(statuses, 200)
        if status != 200:
            return (status, json.dumps({"error": "unavailable", "message": "busy"}).encode())
        return (200, answer(gateway_key))

    assert (
        await client_for(settings_for(tmp_path, gateway_key), handler).send(MESSAGE_ID, BODY)
    ).approved


async def test_forged_answer_is_no_answer_and_an_alarm(
    tmp_path: Path, gateway_key: OKPKey, caplog: pytest.LogCaptureFixture
) -> None:
    forged = answer(OKPKey.generate_key("Ed25519"))
    client = client_for(settings_for(tmp_path, gateway_key), lambda request: (200, forged))
    with caplog.at_level(logging.ERROR), pytest.raises(OutcomeUnknown):
        await client.send(MESSAGE_ID, BODY, deadline_s=0.6)
    assert "SECURITY ALARM" in caplog.text


async def test_an_oversized_answer_is_no_answer_and_an_alarm(
    tmp_path: Path, gateway_key: OKPKey, caplog: pytest.LogCaptureFixture
) -> None:
    from terminal.gateway.errors import AnswerTooLarge

    calls = 0

    def flood(request: Sent) -> Answer:
        nonlocal calls
        calls += 1
        raise AnswerTooLarge(64 * 1024)  # what the transport says once the cap is passed

    client = client_for(settings_for(tmp_path, gateway_key), flood)
    with caplog.at_level(logging.ERROR), pytest.raises(OutcomeUnknown):
        await client.send(MESSAGE_ID, BODY, deadline_s=0.6)
    assert "SECURITY ALARM" in caplog.text and "larger than 65536 bytes" in caplog.text
    assert calls >= 2, "the same message is re-sent (it may have arrived), never given up as unsent"


@pytest.mark.parametrize(
    ("status", "code"), [(409, "id_conflict"), (422, "stale"), (401, "bad_signature")]
)
async def test_documented_refusals_are_not_retried(
    tmp_path: Path, gateway_key: OKPKey, status: int, code: str
) -> None:
    calls = 0

    def handler(request: Sent) -> Answer:
        nonlocal calls
        calls += 1
        return (status, json.dumps({"error": code, "message": "no"}).encode())

    with pytest.raises(ProtocolRejected) as refused:
        await client_for(settings_for(tmp_path, gateway_key), handler).send(MESSAGE_ID, BODY)
    assert (refused.value.status, refused.value.code, calls) == (status, code, 1)
    assert refused.value.exit_code == 3


async def test_health_reports_the_link(tmp_path: Path, gateway_key: OKPKey) -> None:
    client = client_for(
        settings_for(tmp_path, gateway_key),
        lambda request: (200, json.dumps({"status": "ok", "time": "now"}).encode()),
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
