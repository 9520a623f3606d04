"""Anything sent to /nexo gets a nexo Failure or an HTTP 4xx: never a 5xx, a traceback, a hang
or a charge. The door runs in-process over the in-memory engine (its sale calls are counted);
the HTTP-level cases go through the real listener on plain HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terminal.ecr.payments import EcrPayments
from terminal.iso_codes import currency
from terminal.nexo.door import NexoDoor
from terminal.nexo.errors import MessageFormat, NexoRefusal
from terminal.nexo.messages import parse_payment
from terminal.nexo.security import SharedKey, seal
from terminal.nexo.server import NexoServer
from terminal.nexo.store import ServiceStore
from terminal.settings import Settings
from tests.conftest import free_port
from tests.ui.memory_engine import MemoryEngine

POIID = "posterm-POS00001"
KEY = SharedKey("shopkey", 1, "fuzz-passphrase")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "SaleToPOIRequest",
                    "MessageHeader",
                    "PaymentRequest",
                    "MessageCategory",
                    "POIID",
                    "ServiceID",
                    "SaleID",
                    "MessageType",
                    "NexoBlob",
                    "SecurityTrailer",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=14,
)


def make_door(tmp_path: Path, **nexo: Any) -> tuple[NexoDoor, MemoryEngine]:
    section: dict[str, Any] = {"enabled": True, "listen": "127.0.0.1:8443"}
    section.update(nexo)
    settings = Settings.model_validate(
        {"terminal": {"data_dir": str(tmp_path / "data")}, "nexo": section}
    )
    engine = MemoryEngine()
    store = ServiceStore(tmp_path / "data" / "nexo.sqlite")
    return NexoDoor(settings, engine, EcrPayments(engine), store), engine


def check_answer(status: int, body: bytes | None) -> None:
    assert status in (200, 400, 401), status
    if status == 200 and body:
        answer = json.loads(body)["SaleToPOIResponse"]
        (name,) = [k for k in answer if k.endswith("Response")]
        assert answer[name]["Response"]["Result"] == "Failure", answer


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> tuple[NexoDoor, MemoryEngine]:
    return make_door(
        tmp_path_factory.mktemp("fuzz"),
        keys=[{"identifier": "shopkey", "version": 1, "passphrase": KEY.passphrase}],
        allow_unencrypted=True,
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_body_is_a_failure_or_4xx_never_a_charge(
    door: tuple[NexoDoor, MemoryEngine], body: bytes
) -> None:
    nexo, engine = door
    answer = asyncio.run(asyncio.wait_for(nexo.handle(body), 5))
    check_answer(answer.status, answer.body)
    assert engine.requests == []


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    json_values,
    st.sampled_from(
        ["Payment", "Reversal", "Abort", "TransactionStatus", "Print", "Display", "Login", "Nope"]
    ),
    st.booleans(),
)
def test_well_formed_headers_with_any_body(
    door: tuple[NexoDoor, MemoryEngine], value: Any, category: str, sealed: bool
) -> None:
    nexo, engine = door
    header = {
        "ProtocolVersion": "3.0",
        "MessageClass": "Service",
        "MessageCategory": category,
        "MessageType": "Request",
        "ServiceID": "F1",
        "SaleID": "FUZZ",
        "POIID": "wrong-poiid" if category == "Payment" else POIID,
    }
    document = {"SaleToPOIRequest": {"MessageHeader": header, f"{category}Request": value}}
    if sealed:
        envelope = {"SaleToPOIRequest": seal(header, json.dumps(document).encode(), KEY)}
        body = json.dumps(envelope).encode()
    else:
        body = json.dumps(document).encode()
    answer = asyncio.run(asyncio.wait_for(nexo.handle(body), 5))
    assert answer.status in (200, 400)
    assert engine.requests == []


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_payment_body_parses_or_is_refused_with_the_field(value: Any) -> None:
    body = value if isinstance(value, dict) else {"x": value}
    try:
        call = parse_payment(body, currency("EUR"))
    except MessageFormat as error:
        assert "PaymentRequest" in error.sentence
        return
    except NexoRefusal as error:
        assert error.condition == "NotAllowed"
        return
    assert call.amount.minor > 0


async def test_http_edges_are_4xx(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings.model_validate(
        {
            "terminal": {"data_dir": str(tmp_path / "data")},
            "nexo": {"enabled": True, "listen": f"127.0.0.1:{port}", "allow_plain_http": True},
        }
    )
    engine = MemoryEngine()
    door = NexoDoor(settings, engine, EcrPayments(engine), ServiceStore(tmp_path / "n.sqlite"))
    server = NexoServer(settings, door)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert (await http.get("/nexo/")).status_code == 405
            assert (await http.post("/other", content=b"{}")).status_code == 404
            assert (await http.post("/nexo/", content=b"x" * 200_000)).status_code == 413
            bad = await http.post("/nexo", content=b"{not json")
            assert bad.status_code == 400 and b"MessageFormat" in bad.content
            missing = {
                "SaleToPOIRequest": {
                    "MessageHeader": {
                        "MessageClass": "Service",
                        "MessageCategory": "Payment",
                        "MessageType": "Request",
                        "ServiceID": "1",
                        "SaleID": "S",
                        "POIID": door.poi_id,
                    },
                    "PaymentRequest": {"SaleData": {}},
                }
            }
            answer = (await http.post("/nexo/", json=missing)).json()["SaleToPOIResponse"]
            response = answer["PaymentResponse"]["Response"]
            assert response["ErrorCondition"] == "MessageFormat"
            assert "SaleTransactionID" in response["AdditionalResponse"]
            assert answer["MessageHeader"]["MessageType"] == "Response"
            too_precise = json.loads(json.dumps(missing))
            too_precise["SaleToPOIRequest"]["MessageHeader"]["ServiceID"] = "2"
            too_precise["SaleToPOIRequest"]["PaymentRequest"] = {
                "SaleData": {
                    "SaleTransactionID": {"TransactionID": "t", "TimeStamp": "2026-12-07T10:00:00Z"}
                },
                "PaymentTransaction": {"AmountsReq": {"Currency": "EUR", "RequestedAmount": 1.005}},
            }
            answer = (await http.post("/nexo/", json=too_precise)).json()["SaleToPOIResponse"]
            response = answer["PaymentResponse"]["Response"]
            assert response["ErrorCondition"] == "MessageFormat"
            assert "RequestedAmount" in response["AdditionalResponse"]
    finally:
        await server.stop()
    assert engine.requests == []
