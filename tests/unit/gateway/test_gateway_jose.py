"""Signing, verification and card-data encryption (PROTOCOL.md "Keys")."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import OctKey, OKPKey

from terminal.gateway.errors import BadAnswer
from terminal.gateway.jose import (
    GatewayKeys,
    JoseFailure,
    TerminalSigner,
    decrypt_with,
    json_object,
    read_compact,
    sign_compact,
    verify_signature,
)
from terminal.gateway.messages import encode_payload
from terminal.security.keystore import Keystore

ANSWER_ID = "f47ac10b-58cc-4372-a567-0e02b2c3d479"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def gateway() -> tuple[OKPKey, OKPKey, GatewayKeys]:
    signing = OKPKey.generate_key("Ed25519")
    encryption = OKPKey.generate_key("X25519")
    keys = GatewayKeys(signing.as_dict(private=False), encryption.as_dict(private=False))
    return signing, encryption, keys


def answer(**overrides: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "v": 1,
        "id": ANSWER_ID,
        "type": "authorize",
        "result": "approved",
        "code": "00",
        "auth_code": "A1B2C3",
        "reason": "",
        "gateway_ref": "G1",
        "at": "2026-11-22T10:00:00.000Z",
    }
    payload.update(overrides)
    return payload


def test_terminal_signature_verifies_with_the_published_key(tmp_path: Path) -> None:
    store = Keystore.open(tmp_path, "POS00001")
    token = TerminalSigner(store).sign({"v": 1, "id": "x"})
    message = read_compact(token)
    assert message.header == {"alg": "Ed25519", "kid": "POS00001-1", "typ": "posterm-request"}
    public = OKPKey.import_key(store.public_jwk())
    verify_signature(message, public)
    assert json_object(message.payload) == {"v": 1, "id": "x"}


def test_signer_follows_a_rotation(tmp_path: Path) -> None:
    store = Keystore.open(tmp_path, "POS00001")
    signer = TerminalSigner(store)
    signer.sign({"a": 1})
    store.rotate()
    assert read_compact(signer.sign({"a": 1})).header["kid"] == "POS00001-2"


def test_verified_answer(gateway: tuple[OKPKey, OKPKey, GatewayKeys]) -> None:
    signing, _, keys = gateway
    body = sign_compact(answer(), signing, kid="gw", typ="posterm-response")
    result = keys.verify_answer(body, expected_id=ANSWER_ID)
    assert (result.result, result.code, result.auth_code) == ("approved", "00", "A1B2C3")


def test_eddsa_header_is_accepted_on_input(gateway: tuple[OKPKey, OKPKey, GatewayKeys]) -> None:
    import warnings

    signing, _, keys = gateway
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        token = jws.serialize_compact(
            {"alg": "EdDSA", "kid": "gw", "typ": "posterm-response"},
            encode_payload(answer()),
            signing,
            algorithms=["EdDSA"],
        )
    assert keys.verify_answer(token.encode(), expected_id=ANSWER_ID).approved


def test_answer_signed_by_another_key_is_a_bad_answer(
    gateway: tuple[OKPKey, OKPKey, GatewayKeys],
) -> None:
    _, _, keys = gateway
    forged = sign_compact(
        answer(), OKPKey.generate_key("Ed25519"), kid="gw", typ="posterm-response"
    )
    with pytest.raises(BadAnswer, match="does not verify"):
        keys.verify_answer(forged, expected_id=ANSWER_ID)


def test_tampered_answer_is_a_bad_answer(gateway: tuple[OKPKey, OKPKey, GatewayKeys]) -> None:
    signing, _, keys = gateway
    header, _, signature = sign_compact(answer(), signing, kid="gw", typ="posterm-response").split(
        b"."
    )
    tampered = (
        header + b"." + b64(encode_payload(answer(result="declined"))).encode() + b"." + signature
    )
    with pytest.raises(BadAnswer):
        keys.verify_answer(tampered, expected_id=ANSWER_ID)


def test_unsigned_and_hmac_answers_are_refused(gateway: tuple[OKPKey, OKPKey, GatewayKeys]) -> None:
    _, _, keys = gateway
    payload = b64(encode_payload(answer()))
    header = b64(json.dumps({"alg": "none", "typ": "posterm-response", "kid": "gw"}).encode())
    none = f"{header}.{payload}."
    with pytest.raises(BadAnswer, match="not accepted"):
        keys.verify_answer(none.encode(), expected_id=ANSWER_ID)
    # HMAC keyed with the public key bytes: the classic algorithm-confusion forgery.
    public_x = keys.signing.as_dict()["x"]
    hmac = jws.serialize_compact(
        {"alg": "HS256", "kid": "gw", "typ": "posterm-response"},
        encode_payload(answer()),
        OctKey.import_key(public_x.encode()),
        algorithms=["HS256"],
    )
    with pytest.raises(BadAnswer, match="not accepted"):
        keys.verify_answer(hmac.encode(), expected_id=ANSWER_ID)


def test_answer_to_another_message_is_refused(gateway: tuple[OKPKey, OKPKey, GatewayKeys]) -> None:
    signing, _, keys = gateway
    body = sign_compact(answer(), signing, kid="gw", typ="posterm-response")
    with pytest.raises(BadAnswer, match="another message"):
        keys.verify_answer(body, expected_id="0c7a1cde-9f5c-4b65-9a8e-7f57f4d8b1e1")


def test_request_typ_is_not_an_answer(gateway: tuple[OKPKey, OKPKey, GatewayKeys]) -> None:
    signing, _, keys = gateway
    body = sign_compact(answer(), signing, kid="gw", typ="posterm-request")
    with pytest.raises(BadAnswer):
        keys.verify_answer(body, expected_id=ANSWER_ID)


def test_card_data_opens_only_with_the_gateway_key(
    gateway: tuple[OKPKey, OKPKey, GatewayKeys],
) -> None:
    _, encryption, keys = gateway
    token = keys.encrypt({"pan": "4761739001010010", "emv": {"9F02": "000000001234"}})
    assert "4761739001010010" not in token
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert (header["alg"], header["enc"]) == ("ECDH-ES", "A256GCM")
    assert json.loads(decrypt_with(encryption, token))["pan"] == "4761739001010010"
    with pytest.raises(JoseFailure):
        decrypt_with(OKPKey.generate_key("X25519"), token)


def test_public_keys_only_are_pinned() -> None:
    from terminal.gateway.errors import MessageError

    private = OKPKey.generate_key("Ed25519").as_dict(private=True)
    with pytest.raises(MessageError):
        GatewayKeys(private, OKPKey.generate_key("X25519").as_dict(private=False))


@given(st.binary(max_size=300))
def test_any_bytes_are_a_typed_failure_or_a_parsed_jws(body: bytes) -> None:
    try:
        message = read_compact(body)
    except JoseFailure as failure:
        assert failure.kind in ("malformed", "bad_signature")
    else:
        assert message.header["alg"] in ("Ed25519", "EdDSA")


@given(st.text(max_size=200))
def test_any_text_as_card_data_is_a_typed_failure(text: str) -> None:
    with pytest.raises(JoseFailure):
        decrypt_with(OKPKey.generate_key("X25519"), text)


def test_unknown_header_parameters_are_ignored_and_typ_may_be_left_out(
    gateway: tuple[OKPKey, OKPKey, GatewayKeys],
) -> None:
    signing, _, keys = gateway
    header = b64(json.dumps({"alg": "Ed25519", "kid": "gw", "iat": 1, "x-trace": "t"}).encode())
    payload = b64(encode_payload(answer()))
    signature = b64(signing.get_op_key("sign").sign(f"{header}.{payload}".encode()))
    token = f"{header}.{payload}.{signature}".encode()
    assert keys.verify_answer(token, expected_id=ANSWER_ID).approved


def test_critical_extensions_are_refused(gateway: tuple[OKPKey, OKPKey, GatewayKeys]) -> None:
    signing, _, keys = gateway
    header = b64(json.dumps({"alg": "Ed25519", "kid": "gw", "crit": ["exp"], "exp": 1}).encode())
    payload = b64(encode_payload(answer()))
    signature = b64(signing.get_op_key("sign").sign(f"{header}.{payload}".encode()))
    with pytest.raises(BadAnswer, match="critical"):
        keys.verify_answer(f"{header}.{payload}.{signature}".encode(), expected_id=ANSWER_ID)
