"""Every bad input gets its documented status and code from the real simulator; nothing changes."""

from __future__ import annotations

import base64
import json
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import OctKey, OKPKey

from terminal.gateway.jose import sign_compact
from terminal.gateway.messages import build_request, encode_payload, new_message_id
from terminal.money import Amount
from terminal.security.keystore import Keystore
from tests.fixtures.gateway_sim import GatewaySim

DOCUMENTED = {
    400: {"malformed"},
    401: {"bad_signature", "unknown_key"},
    409: {"id_conflict"},
    422: {"stale"},
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def payload(terminal_id: str = "BADIN001", **overrides: Any) -> dict[str, Any]:
    body = build_request(
        "reverse",
        id=new_message_id(),
        seq=1,
        terminal_id=terminal_id,
        merchant_id="M1",
        created_at=datetime.now(UTC),
        ref=new_message_id(),
    )
    body.update(overrides)
    return body


@pytest.fixture(scope="module")
def enrolled(
    gateway_sim_module: GatewaySim, tmp_path_factory: pytest.TempPathFactory
) -> tuple[GatewaySim, OKPKey, str]:
    """The shared simulator, the enrolled terminal's private key and its kid."""
    folder: Path = tmp_path_factory.mktemp("badin")
    store = Keystore.open(folder, "BADIN001")
    gateway_sim_module.enroll("BADIN001", store.public_jwks())
    return gateway_sim_module, OKPKey.import_key(store.signing_key), store.kid


def post(sim: GatewaySim, body: bytes | str) -> httpx.Response:
    data = body.encode() if isinstance(body, str) else body
    with httpx.Client(verify=sim.tls(), timeout=10) as client:
        return client.post(
            f"{sim.url}/v1/messages", content=data, headers={"Content-Type": "application/jose"}
        )


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert (response.status_code, response.json()["error"]) == (status, code), response.text
    assert response.json()["message"]


def test_a_well_signed_message_is_accepted(enrolled: tuple[GatewaySim, OKPKey, str]) -> None:
    sim, key, kid = enrolled
    response = post(sim, sign_compact(payload(), key, kid=kid, typ="posterm-request"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jose")


def test_eddsa_is_accepted_on_input(enrolled: tuple[GatewaySim, OKPKey, str]) -> None:
    sim, key, kid = enrolled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        token = jws.serialize_compact(
            {"alg": "EdDSA", "kid": kid, "typ": "posterm-request"},
            encode_payload(payload()),
            key,
            algorithms=["EdDSA"],
        )
    assert post(sim, token).status_code == 200


@pytest.mark.parametrize(
    ("make", "status", "code"),
    [
        (lambda key, kid: b"not a jws", 400, "malformed"),
        (lambda key, kid: b"!!!.@@@.###", 400, "malformed"),
        (lambda key, kid: f"{b64(b'{not json')}.{b64(b'{}')}.AAAA".encode(), 400, "malformed"),
        (
            lambda key, kid: sign_compact({"v": 1}, key, kid=kid, typ="posterm-request"),
            400,
            "malformed",
        ),
        (
            lambda key, kid: sign_compact(payload(seq="7"), key, kid=kid, typ="posterm-request"),
            400,
            "malformed",
        ),
        (
            lambda key, kid: sign_compact(
                payload(amount={"value": 1.5, "currency": "EUR"}, type="refund"),
                key,
                kid=kid,
                typ="posterm-request",
            ),
            400,
            "malformed",
        ),
        (
            lambda key, kid: sign_compact(payload(), key, kid=kid, typ="posterm-response"),
            400,
            "malformed",
        ),
        (
            lambda key, kid: (
                f"{b64(json.dumps({'alg': 'none', 'kid': kid, 'typ': 'posterm-request'}).encode())}"
                f".{b64(encode_payload(payload()))}."
            ).encode(),
            401,
            "bad_signature",
        ),
        (
            lambda key, kid: sign_compact(
                payload(), OKPKey.generate_key("Ed25519"), kid=kid, typ="posterm-request"
            ),
            401,
            "bad_signature",
        ),
        (
            lambda key, kid: sign_compact(payload(), key, kid="NOBODY01-1", typ="posterm-request"),
            401,
            "unknown_key",
        ),
        (
            lambda key, kid: sign_compact(
                payload(terminal_id="OTHER001"), key, kid=kid, typ="posterm-request"
            ),
            401,
            "bad_signature",
        ),
        (lambda key, kid: b"x" * (64 * 1024 + 1), 400, "malformed"),
    ],
    ids=[
        "not-jws",
        "bad-base64",
        "header-not-json",
        "missing-fields",
        "wrong-type",
        "float-amount",
        "response-typ",
        "alg-none",
        "forged",
        "unknown-kid",
        "other-terminal",
        "oversized",
    ],
)
def test_bad_messages_are_refused_with_the_documented_status(
    enrolled: tuple[GatewaySim, OKPKey, str], make: Any, status: int, code: str
) -> None:
    sim, key, kid = enrolled
    before = sim.ledger()
    assert_refused(post(sim, make(key, kid)), status, code)
    assert sim.ledger() == before


def test_hmac_with_the_public_key_as_secret_is_refused(
    enrolled: tuple[GatewaySim, OKPKey, str],
) -> None:
    sim, key, kid = enrolled
    public_x = key.as_dict(private=False)["x"]
    token = jws.serialize_compact(
        {"alg": "HS256", "kid": kid, "typ": "posterm-request"},
        encode_payload(payload()),
        OctKey.import_key(public_x.encode()),
        algorithms=["HS256"],
    )
    assert_refused(post(sim, token), 401, "bad_signature")


def test_tampered_payload_is_refused_and_changes_nothing(
    enrolled: tuple[GatewaySim, OKPKey, str],
) -> None:
    sim, key, kid = enrolled
    header, _, signature = sign_compact(
        payload(type="refund", amount={"value": 100, "currency": "EUR"}),
        key,
        kid=kid,
        typ="posterm-request",
    ).split(b".")
    larger = payload(type="refund", amount=Amount.of(999999, "EUR").to_json())
    tampered = header + b"." + b64(encode_payload(larger)).encode() + b"." + signature
    before = sim.ledger()
    assert_refused(post(sim, tampered), 401, "bad_signature")
    assert sim.ledger() == before


def test_admin_api_refuses_bad_input(enrolled: tuple[GatewaySim, OKPKey, str]) -> None:
    sim, _, _ = enrolled
    cases = [
        ("/sim/faults", {"drop_after": 2}),
        ("/sim/faults", {"explode": True}),
        ("/sim/cards", {"pan": "1234"}),
        ("/sim/terminals", {"terminal_id": "BADIN001", "jwk": {"kty": "oct", "k": "x"}}),
        ("/sim/wallet/pay", {"payload": "000201garbage"}),
        ("/sim/fraud", {"max_count": -1}),
    ]
    for path, body in cases:
        response = sim.admin.post(path, json=body)
        assert (response.status_code, response.json()["error"]) == (400, "malformed"), path
    assert sim.admin.post("/sim/faults", content=b"[1,2").status_code == 400
    assert sim.admin.post("/sim/wallet/pay", json={"intent_id": "PI0"}).status_code == 404
    assert sim.admin.get("/sim/faults").json()["drop_after"] == 0.0


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=st.one_of(st.binary(max_size=400), st.text(max_size=300).map(str.encode)))
def test_any_bytes_get_a_documented_4xx_and_change_nothing(
    enrolled: tuple[GatewaySim, OKPKey, str], body: bytes
) -> None:
    sim, _, _ = enrolled
    before = len(sim.ledger())
    response = post(sim, body)
    assert response.status_code in DOCUMENTED, response.text
    assert response.json()["error"] in DOCUMENTED[response.status_code]
    assert len(sim.ledger()) == before


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    field=st.sampled_from(
        ["v", "type", "id", "terminal_id", "seq", "created_at", "amount", "ref", "entry", "card"]
    ),
    value=st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=20),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers()),
    ),
)
def test_signed_payloads_with_wrong_types_are_malformed_never_500(
    enrolled: tuple[GatewaySim, OKPKey, str], field: str, value: Any
) -> None:
    sim, key, kid = enrolled
    body = payload(type="refund", amount={"value": 100, "currency": "EUR"})
    body[field] = value
    before = len(sim.ledger())
    response = post(sim, sign_compact(body, key, kid=kid, typ="posterm-request"))
    assert response.status_code in (200, *DOCUMENTED), response.text
    if response.status_code != 200:
        assert response.json()["error"] in DOCUMENTED[response.status_code]
    assert len(sim.ledger()) == before


def test_wrong_method_or_path_is_a_json_error(enrolled: tuple[GatewaySim, OKPKey, str]) -> None:
    sim, _, _ = enrolled
    with httpx.Client(verify=sim.tls(), timeout=10) as client:
        wrong_method = client.get(f"{sim.url}/v1/messages")
        wrong_path = client.post(f"{sim.url}/v2/messages", content=b"x")
    assert (wrong_method.status_code, wrong_method.json()["error"]) == (405, "method_not_allowed")
    assert (wrong_path.status_code, wrong_path.json()["error"]) == (404, "not_found")
