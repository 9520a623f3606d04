"""A POS program drives `posterm serve` over nexo with the official Adyen Node.js library
(`TerminalLocalAPI`, encrypted, and `TerminalLocalAPIUnencrypted`): a simulated card on the
NFC reader, the real gateway simulator, and the simulator's ledger holding exactly the money
the responses claim."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from simulators.bank.local import new_card
from tests.integration.nexo.pos import (
    KEY,
    NexoTerminal,
    body,
    by_name,
    message,
    needs_node,
    payment,
)

pytestmark = needs_node


@pytest.fixture(scope="module")
def nexo_terminal(
    gateway_sim_module: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NexoTerminal]:
    terminal = NexoTerminal(gateway_sim_module, tmp_path_factory.mktemp("nexo"), "NEXO0001")
    terminal.start()
    try:
        yield terminal
    finally:
        terminal.stop()


def charged(ledger: list[dict[str, Any]], txn_id: str) -> list[dict[str, Any]]:
    return [e for e in ledger if e["id"] == txn_id]


def test_approved_sale_over_the_encrypted_library(nexo_terminal: NexoTerminal) -> None:
    t = nexo_terminal
    tap = t.tap()
    [result] = t.client([{"name": "sale", "request": payment(t.poi_id, "15.75")}])
    tap.join(timeout=30)
    answer = body(result, "Payment")
    assert answer["Response"]["Result"] == "Success", answer
    paid = answer["PaymentResult"]
    assert Decimal(str(paid["AmountsResp"]["AuthorizedAmount"])) == Decimal("15.75")
    assert paid["AmountsResp"]["Currency"] == "EUR"
    assert paid["OnlineFlag"] is True
    assert paid["PaymentAcquirerData"]["ApprovalCode"]
    masked = paid["PaymentInstrumentData"]["CardData"]["MaskedPan"]
    assert masked and "*" in masked
    txn_id = answer["POIData"]["POITransactionID"]["TransactionID"]
    receipts = {r["DocumentQualifier"]: r for r in answer["PaymentReceipt"]}
    customer = " ".join(
        line["Text"] for line in receipts["CustomerReceipt"]["OutputContent"]["OutputText"]
    )
    assert "CUSTOMER COPY" in customer and paid["PaymentAcquirerData"]["ApprovalCode"] in customer
    entries = charged(t.ledger(), txn_id)
    assert [(e["result"], e["amount"]["value"]) for e in entries] == [("approved", 1575)]


def test_decline_is_a_refusal_with_the_code_and_nothing_charged(
    nexo_terminal: NexoTerminal,
) -> None:
    t = nexo_terminal
    poor = new_card(t.sim, "10.00", like="mastercard-debit")
    tap = t.tap(poor)
    [result] = t.client([{"name": "sale", "request": payment(t.poi_id, "20.00")}])
    tap.join(timeout=30)
    answer = body(result, "Payment")
    assert answer["Response"]["Result"] == "Failure", answer
    assert answer["Response"]["ErrorCondition"] == "Refusal"
    assert "refusalReason=51" in answer["Response"]["AdditionalResponse"]
    txn_id = answer["POIData"]["POITransactionID"]["TransactionID"]
    assert all(e["result"] != "approved" for e in charged(t.ledger(), txn_id))


def test_reversal_voids_the_sale(nexo_terminal: NexoTerminal) -> None:
    t = nexo_terminal
    tap = t.tap()
    [sale] = t.client([{"name": "sale", "request": payment(t.poi_id, "7.20")}])
    tap.join(timeout=30)
    sale_id = body(sale, "Payment")["POIData"]["POITransactionID"]["TransactionID"]
    reversal = message(
        "Reversal",
        t.poi_id,
        {
            "OriginalPOITransaction": {
                "POITransactionID": {"TransactionID": sale_id, "TimeStamp": "2026-12-07T10:00:00Z"}
            },
            "ReversalReason": "MerchantCancel",
        },
    )
    [result] = t.client([{"name": "reversal", "request": reversal}])
    answer = body(result, "Reversal")
    assert answer["Response"]["Result"] == "Success", answer
    assert Decimal(str(answer["ReversedAmount"])) == Decimal("7.20")
    ledger = t.ledger()
    assert [e["result"] for e in charged(ledger, sale_id)] == ["approved"]
    reversed_id = answer["POIData"]["POITransactionID"]["TransactionID"]
    assert [(e["type"], e["result"]) for e in charged(ledger, reversed_id)] == [
        ("void", "approved")
    ]
    # A second reversal of the same sale is refused: nothing more moves.
    [again] = t.client(
        [
            {
                "name": "again",
                "request": message(
                    "Reversal", t.poi_id, reversal["SaleToPOIRequest"]["ReversalRequest"]
                ),
            }
        ]
    )
    assert body(again, "Reversal")["Response"]["Result"] == "Failure"


def test_abort_before_the_tap_ends_the_payment_aborted(nexo_terminal: NexoTerminal) -> None:
    t = nexo_terminal
    sale = payment(t.poi_id, "12.00", service_id="ABORTME1")
    abort = message(
        "Abort",
        t.poi_id,
        {
            "AbortReason": "MerchantAbort",
            "MessageReference": {
                "MessageCategory": "Payment",
                "ServiceID": "ABORTME1",
                "SaleID": "TILL-1",
            },
        },
    )
    results = by_name(
        t.client(
            [
                {"name": "sale", "request": sale, "wait": False},
                {"name": "abort", "request": abort, "delayMs": 1500},
            ]
        )
    )
    assert results["abort"]["ok"], results["abort"]  # the library accepts the empty body
    answer = body(results["sale"], "Payment")
    assert answer["Response"]["Result"] == "Failure"
    assert answer["Response"]["ErrorCondition"] == "Aborted"
    txn_id = answer["POIData"]["POITransactionID"]["TransactionID"]
    assert all(e["result"] != "approved" for e in charged(t.ledger(), txn_id))


def test_busy_while_a_payment_runs(nexo_terminal: NexoTerminal) -> None:
    t = nexo_terminal
    first = payment(t.poi_id, "3.00", service_id="BUSY0001")
    abort = message(
        "Abort",
        t.poi_id,
        {
            "AbortReason": "MerchantAbort",
            "MessageReference": {
                "MessageCategory": "Payment",
                "ServiceID": "BUSY0001",
                "SaleID": "TILL-1",
            },
        },
    )
    results = by_name(
        t.client(
            [
                {"name": "first", "request": first, "wait": False},
                {"name": "second", "request": payment(t.poi_id, "4.00"), "delayMs": 1000},
                {"name": "abort", "request": abort},
            ]
        )
    )
    second = body(results["second"], "Payment")
    assert second["Response"]["Result"] == "Failure"
    assert second["Response"]["ErrorCondition"] == "Busy"
    assert body(results["first"], "Payment")["Response"]["ErrorCondition"] == "Aborted"


def test_wrong_poiid_is_not_allowed(nexo_terminal: NexoTerminal) -> None:
    t = nexo_terminal
    [result] = t.client([{"name": "sale", "request": payment("other-terminal", "1.00")}])
    answer = body(result, "Payment")
    assert answer["Response"]["ErrorCondition"] == "NotAllowed"
    assert "posterm-NEXO0001" in answer["Response"]["AdditionalResponse"]


def test_wrong_passphrase_gets_401_and_nothing_runs(nexo_terminal: NexoTerminal) -> None:
    t = nexo_terminal
    before = len(t.ledger())
    wrong = {**KEY, "Passphrase": "not-the-passphrase"}
    [result] = t.client([{"name": "sale", "request": payment(t.poi_id, "2.00")}], key=wrong)
    assert not result["ok"]
    assert result["statusCode"] == 401, result
    unknown = {**KEY, "KeyVersion": 9}
    [result] = t.client([{"name": "sale", "request": payment(t.poi_id, "2.00")}], key=unknown)
    assert result["statusCode"] == 401, result
    assert len(t.ledger()) == before
    assert "SECURITY: nexo request refused" in t.log.read_text(errors="replace")


def test_unencrypted_client_is_refused_while_keys_are_configured(
    nexo_terminal: NexoTerminal,
) -> None:
    t = nexo_terminal
    [result] = t.client(
        [{"name": "diag", "request": message("Diagnosis", t.poi_id, {"HostDiagnosisFlag": False})}],
        encrypted=False,
    )
    answer = body(result, "Diagnosis")
    assert answer["Response"]["ErrorCondition"] == "NotAllowed"


def test_a_foreign_ca_fails_the_libraries_certificate_check(
    nexo_terminal: NexoTerminal, tmp_path: Path
) -> None:
    t = nexo_terminal
    from terminal.nexo import certificate
    from terminal.settings import load_settings

    other = load_settings(t.config, environ={"POSTERM_TERMINAL__DATA_DIR": str(tmp_path)})
    made = certificate.create(other)
    [result] = t.client(
        [{"name": "diag", "request": message("Diagnosis", t.poi_id, {})}], ca=str(made.ca)
    )
    assert not result["ok"]
    assert "certificate" in result["error"].lower() or "self" in result["error"].lower(), result


def test_replayed_service_id(nexo_terminal: NexoTerminal) -> None:
    t = nexo_terminal
    sale = payment(t.poi_id, "5.55", service_id="REPLAY01")
    tap = t.tap()
    [first] = t.client([{"name": "first", "request": sale}])
    tap.join(timeout=30)
    [again] = t.client([{"name": "again", "request": sale}])
    one, two = body(first, "Payment"), body(again, "Payment")
    assert one["Response"]["Result"] == "Success"
    assert two == one  # the original's answer, not a second sale
    other = payment(t.poi_id, "6.66", service_id="REPLAY01")
    [refused] = t.client([{"name": "other", "request": other}])
    assert body(refused, "Payment")["Response"]["ErrorCondition"] == "NotAllowed"
    [third] = t.client([{"name": "third", "request": sale}])  # the refusal kept the original
    assert body(third, "Payment") == one
    txn_id = one["POIData"]["POITransactionID"]["TransactionID"]
    approved = [
        e for e in t.ledger() if e["result"] == "approved" and e["amount"]["value"] in (555, 666)
    ]
    assert [e["id"] for e in approved] == [txn_id]


def test_diagnosis_login_logout(nexo_terminal: NexoTerminal) -> None:
    t = nexo_terminal
    results = by_name(
        t.client(
            [
                {
                    "name": "diag",
                    "request": message("Diagnosis", t.poi_id, {"HostDiagnosisFlag": True}),
                },
                {
                    "name": "login",
                    "request": message(
                        "Login",
                        t.poi_id,
                        {
                            "DateTime": "2026-12-07T10:00:00Z",
                            "SaleSoftware": {
                                "ManufacturerID": "x",
                                "ApplicationName": "till",
                                "SoftwareVersion": "1",
                                "CertificationCode": "c",
                            },
                            "OperatorID": "anna",
                        },
                    ),
                },
                {"name": "logout", "request": message("Logout", t.poi_id, {})},
            ]
        )
    )
    diag = body(results["diag"], "Diagnosis")
    assert diag["POIStatus"]["GlobalStatus"] == "OK"
    assert diag["POIStatus"]["CommunicationOKFlag"] is True
    assert body(results["login"], "Login")["Response"]["Result"] == "Success"
    assert body(results["logout"], "Logout")["Response"]["Result"] == "Success"


def test_status_after_the_client_dropped_and_after_a_restart(
    gateway_sim_module: Any, tmp_path: Path
) -> None:
    t = NexoTerminal(gateway_sim_module, tmp_path, "NEXO0002")
    t.start()
    try:
        sale = payment(t.poi_id, "21.50", service_id="DROP0001", sale_id="TILL-9")
        tap = t.tap(delay_s=4.0)  # the client gives up after 2 s, the card comes later
        [dropped] = t.client([{"name": "sale", "request": sale}], timeout_ms=2000)
        assert not dropped["ok"], dropped
        tap.join(timeout=40)
        status = message(
            "TransactionStatus",
            t.poi_id,
            {
                "MessageReference": {
                    "MessageCategory": "Payment",
                    "ServiceID": "DROP0001",
                    "SaleID": "TILL-9",
                }
            },
            sale_id="TILL-9",
        )
        deadline_steps = [
            {"name": f"status{n}", "request": status, "delayMs": 1000 if n else 0}
            for n in range(15)
        ]
        answers = [body(r, "TransactionStatus") for r in t.client(deadline_steps)]
        final = next(a for a in answers if a["Response"]["Result"] == "Success")
        repeated = final["RepeatedMessageResponse"]["RepeatedResponseMessageBody"][
            "PaymentResponse"
        ]
        assert repeated["Response"]["Result"] == "Success"
        txn_id = repeated["POIData"]["POITransactionID"]["TransactionID"]
        assert [(e["result"], e["amount"]["value"]) for e in t.ledger() if e["id"] == txn_id] == [
            ("approved", 2150)
        ]
    finally:
        t.stop()
    t.start()
    try:
        last = message(
            "TransactionStatus", t.poi_id, {}, sale_id="TILL-9"
        )  # no reference: last payment
        [after] = t.client([{"name": "status", "request": last}])
        answer = body(after, "TransactionStatus")
        assert answer["Response"]["Result"] == "Success", answer
        again = answer["RepeatedMessageResponse"]["RepeatedResponseMessageBody"]["PaymentResponse"]
        assert again == repeated
        unknown = message(
            "TransactionStatus",
            t.poi_id,
            {"MessageReference": {"ServiceID": "NOPE", "SaleID": "TILL-9"}},
            sale_id="TILL-9",
        )
        [missing] = t.client([{"name": "missing", "request": unknown}])
        assert body(missing, "TransactionStatus")["Response"]["ErrorCondition"] == "NotFound"
    finally:
        t.stop()
    assert len([e for e in t.ledger() if e["result"] == "approved"]) == 1


def test_refund_to_the_tapped_card_within_the_banks_limit(nexo_terminal: NexoTerminal) -> None:
    t = nexo_terminal
    tap = t.tap()
    [result] = t.client(
        [{"name": "refund", "request": payment(t.poi_id, "4.50", payment_type="Refund")}]
    )
    tap.join(timeout=30)
    answer = body(result, "Payment")
    assert answer["Response"]["Result"] == "Success", answer
    assert answer["PaymentResult"]["PaymentType"] == "Refund"
    assert Decimal(str(answer["PaymentResult"]["AmountsResp"]["AuthorizedAmount"])) == Decimal(
        "4.50"
    )
    txn_id = answer["POIData"]["POITransactionID"]["TransactionID"]
    [entry] = charged(t.ledger(), txn_id)
    assert (entry["type"], entry["result"], entry["amount"]["value"]) == ("refund", "approved", 450)
    assert not entry.get("ref")

    t.sim.refund_limit(1000)  # 10.00: the simulator's cap on refunds without a sale
    try:
        tap = t.tap()
        [over] = t.client(
            [{"name": "over", "request": payment(t.poi_id, "20.00", payment_type="Refund")}]
        )
        tap.join(timeout=30)
    finally:
        t.sim.refund_limit(50_000)
    refused = body(over, "Payment")
    assert refused["Response"]["ErrorCondition"] == "Refusal"
    assert "refusalReason=61" in refused["Response"]["AdditionalResponse"]
    over_id = refused["POIData"]["POITransactionID"]["TransactionID"]
    assert all(e["result"] != "approved" for e in charged(t.ledger(), over_id))


def _certificate_with_cn(folder: Path, cn: str) -> None:
    """A CA and a server certificate whose CN is `cn`, written where serve reads them."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "some CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(cert.public_bytes(pem))
    (folder / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def test_a_certificate_without_the_terminal_cn_is_refused_by_the_library(
    gateway_sim_module: Any, tmp_path: Path
) -> None:
    t = NexoTerminal(gateway_sim_module, tmp_path, "NEXO0003")
    _certificate_with_cn(Path(t.ca).parent, "till.shop.example")
    t.start()
    try:
        [result] = t.client([{"name": "diag", "request": message("Diagnosis", t.poi_id, {})}])
        assert not result["ok"] and "verify certificate" in result["error"], result
        probe = t.posterm("devices", "probe", "--only", "nexo", "--json")
        assert probe.returncode == 3
        assert "till.shop.example" in probe.stdout
    finally:
        t.stop()


def test_unencrypted_library_on_a_test_till(gateway_sim_module: Any, tmp_path: Path) -> None:
    """`TerminalLocalAPIUnencrypted` (TLS without the CA check, no trailer) against a terminal
    with no shared key: a sale approved and a reversal, the ledger agreeing."""
    t = NexoTerminal(gateway_sim_module, tmp_path, "NEXO0004", keys=[])
    t.start()
    try:
        tap = t.tap()
        [sale] = t.client([{"name": "sale", "request": payment(t.poi_id, "8.10")}], encrypted=False)
        tap.join(timeout=30)
        answer = body(sale, "Payment")
        assert answer["Response"]["Result"] == "Success", answer
        sale_id = answer["POIData"]["POITransactionID"]["TransactionID"]
        reversal = message(
            "Reversal",
            t.poi_id,
            {
                "OriginalPOITransaction": {"POITransactionID": {"TransactionID": sale_id}},
                "ReversalReason": "CustAbort",
            },
        )
        [undone] = t.client([{"name": "reversal", "request": reversal}], encrypted=False)
        assert body(undone, "Reversal")["Response"]["Result"] == "Success"
        ledger = t.ledger()
        assert [(e["type"], e["result"], e["amount"]["value"]) for e in ledger] == [
            ("authorize", "approved", 810),
            ("void", "approved", 810),
        ]
    finally:
        t.stop()


def test_refund_to_the_tapped_card_over_iso8583(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The same nexo refund on a terminal whose card link is ISO 8583 (no posterm-v1 url):
    carried as a card-present 0200/200000, credited within the simulator's refund limit,
    refused with 61 above it."""
    from simulators.bank.local import GatewaySim
    from simulators.loopback import free_port

    folder = tmp_path_factory.mktemp("nexo-iso")
    port = free_port()
    sim = GatewaySim(folder / "sim", extra_args=("--iso8583-listen", f"127.0.0.1:{port}"))
    try:
        iso = {"host": f"127.0.0.1:{port}", "ca_file": str(sim.ca_file), "timeout_s": 3}
        t = NexoTerminal(
            sim,
            folder,
            "NEXOISO1",
            sections={"gateway": {"protocol": "iso8583", "url": ""}, "iso8583": iso},
        )
        t.start()
        try:
            tap = t.tap()
            [result] = t.client(
                [{"name": "refund", "request": payment(t.poi_id, "4.50", payment_type="Refund")}]
            )
            tap.join(timeout=30)
            sim.refund_limit(1000)
            tap = t.tap()
            [over] = t.client(
                [{"name": "over", "request": payment(t.poi_id, "20.00", payment_type="Refund")}]
            )
            tap.join(timeout=30)
        finally:
            t.stop()
        answer = body(result, "Payment")
        assert answer["Response"]["Result"] == "Success", answer
        assert answer["PaymentResult"]["PaymentType"] == "Refund"
        refused = body(over, "Payment")
        assert refused["Response"]["ErrorCondition"] == "Refusal", refused
        assert "refusalReason=61" in refused["Response"]["AdditionalResponse"]
        entries = [(e["type"], e["result"], e["amount"]["value"]) for e in t.ledger()]
        assert entries == [("refund", "approved", 450)]
    finally:
        sim.stop()
