"""Which fields each message of the posterm-1987 set carries (issue 15's list), built from the
payment core's operations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from terminal.emv.card_data import CardData
from terminal.iso8583 import messages
from terminal.iso8583.codec import Message
from terminal.iso8583.messages import Identity, Original
from terminal.money import Amount
from terminal.payment.bank import OfflineApproval, Operation

AT = datetime(2026, 12, 7, 10, 11, 12, tzinfo=UTC)
ME = Identity(
    "TERM0001", "SHOP1", "Bäckerei Müller & Söhne GmbH Berlin", "Berlin", "DE", "978", "42"
)
CARD = CardData(
    scheme="visa",
    aid="A0000000031010",
    pan="4761731000000010",
    expiry="251231",
    psn="01",
    track2="4761731000000010D25122010000000000F",
    emv={t: "00" for t in ("9F26", "9F27", "9F10", "9F37", "9F36", "95", "9A", "9C", "9F02")},
)
EUR = Amount.parse("12.34", "EUR")


def numbers(message: Message) -> set[int]:
    return set(message.fields)


def test_sale_fields() -> None:
    sale = messages.sale(Operation("authorize", "s1", EUR, "nfc", card=CARD), ME, "000001", AT)
    assert sale.mti == "0200"
    assert numbers(sale) == {2, 3, 4, 7, 11, 12, 13, 14, 22, 23, 25, 32, 35, 41, 42, 43, 49, 55}
    assert (sale.fields[3], sale.fields[4], sale.fields[49]) == ("000000", "1234", "978")
    assert sale.fields[7] == "1207101112"  # UTC
    assert sale.fields[14] == "2512" and sale.fields[23] == "001"
    assert sale.fields[35] == "4761731000000010=25122010000000000"
    assert sale.fields[43] == "Backerei Muller & Sohne G" + "Berlin".ljust(13) + "DE"


def test_void_carries_no_card_data_and_the_sales_references() -> None:
    original = Original(Message("0200", {2: CARD.pan}), "000001", "1207101112", "RRN1", "AUTH01")
    void = messages.void(Operation("void", "v1", EUR, ref="s1"), ME, "000002", AT, original)
    assert numbers(void) == {3, 4, 7, 11, 12, 13, 25, 32, 37, 38, 41, 42, 49}
    assert (void.fields[3], void.fields[37], void.fields[38]) == ("020000", "RRN1", "AUTH01")


def test_reversal_points_at_the_original_with_a_new_stan() -> None:
    sale = messages.sale(Operation("authorize", "s1", EUR, "nfc", card=CARD), ME, "000001", AT)
    original = Original(sale, "000001", "1207101112")
    reversal = messages.reversal(ME, "000002", AT, original)
    assert reversal.mti == "0400"
    assert numbers(reversal) == {2, 3, 4, 7, 11, 12, 13, 22, 25, 32, 41, 42, 49, 90}
    assert reversal.fields[11] == "000002"
    assert reversal.fields[90] == "0200" + "000001" + "1207101112" + "00000000042" + "0" * 11


def test_tip_adjust_is_a_0220_adjustment_naming_the_sale() -> None:
    sale = messages.sale(Operation("authorize", "s1", EUR, "nfc", card=CARD), ME, "000001", AT)
    original = Original(sale, "000001", "1207101112", "RRN1", "AUTH01")
    total, tip = Amount.parse("14.34", "EUR"), Amount.parse("2.00", "EUR")
    operation = Operation("tip_adjust", "t1", total, ref="s1", tip=tip)
    adjust = messages.adjustment(operation, ME, "000002", AT, original)
    assert adjust.mti == "0220"
    assert numbers(adjust) == {3, 4, 7, 11, 12, 13, 25, 32, 37, 38, 41, 42, 49, 54, 90}
    assert (adjust.fields[3], adjust.fields[4], adjust.fields[11]) == ("020000", "1434", "000002")
    assert adjust.fields[54] == "00" + "44" + "978" + "C" + "000000000200"
    assert (adjust.fields[37], adjust.fields[38]) == ("RRN1", "AUTH01")
    assert adjust.fields[90] == "0200" + "000001" + "1207101112" + "00000000042" + "0" * 11


def test_tip_taken_off_still_says_so_and_an_unanswered_sale_has_no_f37() -> None:
    advice = Message("0220", {2: CARD.pan})
    original = Original(advice, "000001", "1207101112")
    zero = Amount.parse("0.00", "EUR")
    operation = Operation("tip_adjust", "t1", EUR, ref="s1", tip=zero)
    adjust = messages.adjustment(operation, ME, "000002", AT, original)
    assert adjust.fields[54] == "0044978C" + "0" * 12
    assert 37 not in adjust.fields and 38 not in adjust.fields
    assert str(adjust.fields[90]).startswith("0220000001")


def test_card_present_refund_carries_the_taps_fields_like_a_sale() -> None:
    """A refund to the tapped card (no sale): the sale's fields from the tap, F3 200000, no F37."""
    sale = messages.sale(Operation("authorize", "s1", EUR, "nfc", card=CARD), ME, "000001", AT)
    operation = Operation("refund", "r1", EUR, "nfc", card=CARD)
    refund = messages.refund(operation, ME, "000001", AT)
    assert refund.mti == "0200"
    assert numbers(refund) == numbers(sale)
    assert refund.fields == {**sale.fields, 3: "200000"}


def test_card_present_refund_of_a_sale_adds_its_f37() -> None:
    original = Original(Message("0200", {2: "4000000000000002"}), "000001", "1207101112", "RRN1")
    operation = Operation("refund", "r1", EUR, "nfc", card=CARD, ref="s1")
    refund = messages.refund(operation, ME, "000002", AT, original)
    assert refund.fields[37] == "RRN1"
    assert (refund.fields[2], refund.fields[35]) == (CARD.pan, messages.track2(CARD))


def test_referenced_refund_without_a_tap_keeps_the_sales_pan_and_no_track2() -> None:
    sale = messages.sale(Operation("authorize", "s1", EUR, "nfc", card=CARD), ME, "000001", AT)
    kept = sale.with_fields(f35=None)  # what the adapter's record keeps once answered
    original = Original(kept, "000001", "1207101112", "RRN1")
    refund = messages.refund(Operation("refund", "r1", EUR, ref="s1"), ME, "000002", AT, original)
    assert numbers(refund) == {2, 3, 4, 7, 11, 12, 13, 14, 22, 23, 25, 32, 37, 41, 42, 43, 49}
    assert refund.fields[37] == "RRN1"


def test_refund_with_neither_card_nor_sale_is_refused() -> None:
    with pytest.raises(ValueError, match="tapped card or the sale"):
        messages.refund(Operation("refund", "r1", EUR), ME, "000001", AT)


def test_advice_is_the_sale_with_the_offline_code_and_the_tc() -> None:
    operation = Operation("advice", "s1", EUR, "nfc", card=CARD, offline=OfflineApproval(5000))
    advice = messages.advice(operation, ME, "000003", AT, "OFL003")
    assert advice.mti == "0220"
    assert (advice.fields[38], advice.fields[39]) == ("OFL003", "Y3")
    assert b"\x9f\x27\x01\x40" in bytes(advice.fields[55])


def test_batch_counts_refunds_as_credits_and_sales_as_debits() -> None:
    totals = {
        "sale": {"EUR": {"count": 3, "total": {"value": 4500, "currency": "EUR"}}},
        "refund": {"EUR": {"count": 1, "total": {"value": 500, "currency": "EUR"}}},
    }
    batch = messages.batch(totals, ME, "000004", AT, "EUR")
    assert batch.mti == "0500" and batch.fields[3] == "920000"
    assert (batch.fields[74], batch.fields[76], batch.fields[86], batch.fields[88]) == (
        "1",
        "3",
        "500",
        "4500",
    )
    assert numbers(batch) == {3, 7, 11, 12, 13, 32, 41, 42, 49, 74, 76, 86, 88}


def test_network_message_fields() -> None:
    echo = messages.network(messages.ECHO, ME, "000005", AT)
    assert echo.mti == "0800" and numbers(echo) == {7, 11, 32, 41, 70}
    assert echo.fields[70] == "301"
