"""What the receipt needs from the card: the cryptogram type and the CVM performed, read from the
kernel's EMV data (pure functions) and from real taps of the simulated applet."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.emv.kernel import read_card
from terminal.emv.receipt_data import Cvm, cryptogram_type, cvm_performed

from .conftest import card, config, sale


@pytest.mark.parametrize(
    ("cid", "kind"),
    [("80", "ARQC"), ("40", "TC"), ("00", "AAC"), ("88", "ARQC"), ("41", "TC"), ("C0", "")],
)
def test_cryptogram_type_is_the_top_two_bits_of_the_cid(cid: str, kind: str) -> None:
    assert cryptogram_type({"9F27": cid}) == kind


@pytest.mark.parametrize("cid", ["", "8", "zz", "8000"])
def test_an_unreadable_cid_gives_no_type(cid: str) -> None:
    assert cryptogram_type({"9F27": cid}) == ""


@pytest.mark.parametrize(
    ("results", "cdcvm", "cvm"),
    [
        ("", False, Cvm.NONE),
        ("1F0002", False, Cvm.NONE),  # no CVM required
        ("3F0000", False, Cvm.NONE),  # no CVM performed
        ("1E0300", False, Cvm.SIGNATURE),
        ("420300", False, Cvm.PIN),  # online PIN: the issuer checks it
        ("010002", False, Cvm.PIN),  # offline plaintext PIN, successful
        ("040002", False, Cvm.PIN),
        ("010001", False, Cvm.NONE),  # offline PIN failed: claim nothing
        ("030002", False, Cvm.SIGNATURE),  # PIN and signature: the slip must be signed
        ("1F0002", True, Cvm.CDCVM),
        ("nothex", False, Cvm.NONE),
    ],
)
def test_cvm_performed(results: str, cdcvm: bool, cvm: Cvm) -> None:
    emv = {"9F34": results} if results else {}
    assert cvm_performed(emv, cdcvm=cdcvm) is cvm


@given(st.dictionaries(st.sampled_from(["9F27", "9F34"]), st.text(max_size=8)), st.booleans())
def test_any_emv_text_gives_a_value_never_a_crash(emv: dict[str, str], cdcvm: bool) -> None:
    assert cryptogram_type(emv) in ("", "TC", "ARQC", "AAC")
    assert isinstance(cvm_performed(emv, cdcvm=cdcvm), Cvm)


def test_a_card_tap_under_the_cvm_limit_asks_online_and_needs_no_cvm() -> None:
    data = read_card(card("visa-credit"), sale(1234), config())
    assert (data.cryptogram_type, data.cvm, data.label) == ("ARQC", Cvm.NONE, "VISA CREDIT")


def test_a_phone_that_verified_its_owner_says_cdcvm() -> None:
    data = read_card(card("wallet-token"), sale(9000), config())
    assert data.cvm is Cvm.CDCVM


def test_a_card_that_approves_offline_gives_a_tc() -> None:
    def tc(command: bytes, answer: bytes) -> bytes | None:
        if command[1] != 0xA8:
            return None
        return answer.replace(bytes.fromhex("9F270180"), bytes.fromhex("9F270140"))

    data = read_card(card("visa-credit", tc), sale(100), config())
    assert data.cryptogram_type == "TC"
