"""The shared-key trailer against a request sealed by the official Adyen Node.js library
(data/adyen_node_request.json, made with its `NexoCrypto.encrypt`; source noted in the file),
and its refusals: any wrong key part is the same `SecurityRefused`."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terminal.nexo.errors import MessageFormat, SecurityRefused
from terminal.nexo.security import SharedKey, derive, open_message, seal, unseal_response

VECTOR = json.loads((Path(__file__).parent / "data" / "adyen_node_request.json").read_text())
KEY = SharedKey("shopkey", 1, VECTOR["passphrase"])


def sealed() -> dict[str, Any]:
    message: dict[str, Any] = copy.deepcopy(VECTOR["request"]["SaleToPOIRequest"])
    return message


def test_opens_what_the_official_library_sealed() -> None:
    plaintext, key = open_message(sealed(), [SharedKey("old", 1, "x"), KEY])
    assert plaintext.decode() == VECTOR["plaintext"]
    assert key is KEY


def test_key_material_layout() -> None:
    derived = derive(VECTOR["passphrase"])
    assert len(derived.hmac_key) == 32 and len(derived.cipher_key) == 32 and len(derived.iv) == 16
    assert derived.hmac_key != derived.cipher_key[:32]


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["SecurityTrailer"].update(KeyIdentifier="other"),
        lambda m: m["SecurityTrailer"].update(KeyVersion=2),
        lambda m: m["SecurityTrailer"].update(AdyenCryptoVersion=0),
        lambda m: m["SecurityTrailer"].update(Hmac=base64.b64encode(b"\0" * 32).decode()),
        lambda m: m["SecurityTrailer"].update(Nonce=base64.b64encode(b"\1" * 16).decode()),
        lambda m: m.update(NexoBlob=base64.b64encode(b"\2" * 64).decode()),
    ],
)
def test_any_wrong_part_is_the_same_refusal(change: Any) -> None:
    message = sealed()
    change(message)
    with pytest.raises(SecurityRefused):
        open_message(message, [KEY])


def test_wrong_passphrase_is_refused() -> None:
    with pytest.raises(SecurityRefused):
        open_message(sealed(), [SharedKey("shopkey", 1, "not-it")])


def test_answers_seal_with_a_fresh_nonce_and_open_again() -> None:
    header = {"MessageCategory": "Payment", "MessageType": "Response"}
    one, two = seal(header, b'{"a":1}', KEY), seal(header, b'{"a":1}', KEY)
    assert one["SecurityTrailer"]["Nonce"] != two["SecurityTrailer"]["Nonce"]
    assert one["NexoBlob"] != two["NexoBlob"]
    assert unseal_response(one, KEY) == b'{"a":1}'
    assert "passphrase" not in repr(KEY) and VECTOR["passphrase"] not in repr(KEY)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["AdyenCryptoVersion", "KeyIdentifier", "KeyVersion", "Nonce", "Hmac", "x"]
        ),
        st.none()
        | st.integers()
        | st.text(max_size=40)
        | st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
    ),
    st.none()
    | st.text(max_size=60)
    | st.binary(max_size=80).map(lambda b: base64.b64encode(b).decode()),
)
def test_any_trailer_is_refused_cleanly(trailer: dict[str, Any], blob: Any) -> None:
    message = {"MessageHeader": {}, "SecurityTrailer": trailer, "NexoBlob": blob}
    with pytest.raises((SecurityRefused, MessageFormat)):
        open_message(message, [KEY])
