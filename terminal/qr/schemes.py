"""National QR schemes in the merchant-presented code: each scheme's merchant account template,
built from a `[[qr.merchant_accounts]]` entry, and each scheme's own rules, checked with the
fix in the sentence.

A scheme is data (`SCHEMES`): its default template tag (26-51, or 29/30/38 where the national
specification says so), its globally unique identifier (sub-ID 00), the currency and country
its codes must carry, and how the entry's `account` (the merchant's key or proxy id) becomes
the template's sub-fields. Sources, one per scheme:

- Pix: Banco Central do Brasil, "Manual de Padrões para Iniciação do Pix" (BR Code): tag 26,
  GUI br.gov.bcb.pix, 01 = Pix key (CPF 11 digits, CNPJ 14 digits, +55 phone, e-mail, random
  key EVP = UUID); 62/05 txid: 1 to 25 letters and digits, "***" for a static code.
- PromptPay: Bank of Thailand, Thai QR Code Payment Standard: tag 29 (credit transfer), AID
  A000000677010111; 01 mobile "0066" + 9 digits, 02 national id / tax id 13 digits, 03 e-wallet
  id 15 digits; currency 764 THB, country TH.
- PayNow (SGQR): MAS / ABS PayNow QR specification: tag 26, GUI SG.PAYNOW; 01 proxy type (0
  mobile, 2 UEN), 02 proxy value, 03 amount editable (0/1), 04 expiry YYYYMMDD optional.
- QRIS: Bank Indonesia / ASPI QRIS specification: tag 51 (domestic), GUI ID.CO.QRIS.WWW; 02
  NMID "ID" + 13 digits, 03 merchant criteria UMI, UKE, UME or UBE; currency 360 IDR.
- VietQR: NAPAS VietQR specification: tag 38, GUI A000000727; 01 = template (00 acquirer BIN 6
  digits, 01 account number up to 19); 02 service code QRIBFTTA (to account) or QRIBFTTC (to
  card); currency 704 VND, country VN.
- KHQR: National Bank of Cambodia KHQR specification (Bakong): tag 29 (individual) or 30
  (merchant); 00 = the Bakong account id "name@bank" (the template has no GUI of its own),
  01 merchant id, 02 acquiring bank; currency 116 KHR or 840 USD, country KH.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from terminal.qr.data_objects import write_object


class SchemeRuleError(ValueError):
    """An entry breaks its scheme's rules; the message says what to write instead."""


@dataclass(frozen=True, slots=True)
class Scheme:
    """One national scheme's merchant account template."""

    name: str
    label: str
    tag: str
    gui: str
    currencies: tuple[str, ...]
    """ISO 4217 numeric codes a code of this scheme may carry (empty: any)."""
    country: str
    account_fields: Callable[[str, Mapping[str, str], bool], dict[str, str]]
    """(account, extra, dynamic) -> the template's sub-fields after 00; raises SchemeRuleError."""
    reference: Callable[[str, bool], str] | None = None
    """(reference label, dynamic) -> the 62/05 the scheme needs, or SchemeRuleError."""


# -- Pix --------------------------------------------------------------------------------------
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def _pix(account: str, extra: Mapping[str, str], dynamic: bool) -> dict[str, str]:
    key = account.strip()
    ok = (
        re.fullmatch(r"\d{11}", key)  # CPF
        or re.fullmatch(r"\d{14}", key)  # CNPJ
        or re.fullmatch(r"\+55\d{10,11}", key)  # phone
        or (len(key) <= 77 and _EMAIL.match(key))
        or _UUID.match(key)  # EVP random key
    )
    if not ok:
        hint = ""
        if re.fullmatch(r"[\d.\-/ ]+", key):
            hint = " (write a CPF or CNPJ as digits only, without dots, dashes or slashes)"
        elif re.fullmatch(r"\+?[\d ()\-]+", key):
            hint = " (write a phone number as +55 and 10 or 11 digits, e.g. +5561912345678)"
        elif _UUID.match(key.lower()):
            hint = " (write a random key in lower case)"
        raise SchemeRuleError(
            "a Pix key must be a CPF (11 digits), a CNPJ (14 digits), a phone number "
            "(+55 and 10 or 11 digits), an e-mail address or a random key (UUID, lower case)" + hint
        )
    return {"01": key, **extra}


def _pix_txid(reference: str, dynamic: bool) -> str:
    if not dynamic and not reference:
        return "***"
    if not re.fullmatch(r"[A-Za-z0-9]{1,25}", reference):
        raise SchemeRuleError(
            f"a Pix transaction id (62/05) must be 1 to 25 letters and digits; {reference!r} "
            "is not: use a reference without spaces or punctuation"
        )
    return reference


# -- PromptPay --------------------------------------------------------------------------------
def _promptpay(account: str, extra: Mapping[str, str], dynamic: bool) -> dict[str, str]:
    digits = re.sub(r"[\s\-]", "", account)
    if re.fullmatch(r"0\d{9}", digits):  # local mobile 0XXXXXXXXX
        return {"01": "0066" + digits[1:], **extra}
    if re.fullmatch(r"(\+66|0066)\d{9}", digits):
        return {"01": "0066" + digits[-9:], **extra}
    if re.fullmatch(r"\d{13}", digits):  # national id or tax id
        return {"02": digits, **extra}
    if re.fullmatch(r"\d{15}", digits):  # e-wallet id
        return {"03": digits, **extra}
    raise SchemeRuleError(
        "a PromptPay proxy id must be a mobile number (0 and 9 digits, or +66 and 9 digits), "
        "a national id or tax id (13 digits) or an e-wallet id (15 digits)"
    )


# -- PayNow -----------------------------------------------------------------------------------
def _paynow(account: str, extra: Mapping[str, str], dynamic: bool) -> dict[str, str]:
    proxy = account.replace(" ", "")
    if re.fullmatch(r"\+65[89]\d{7}", proxy):
        kind = "0"
    elif re.fullmatch(r"(\d{8}[A-Z]|\d{9}[A-Z]|[TSR]\d{2}[A-Z]{2}\d{4}[A-Z])", proxy.upper()):
        kind, proxy = "2", proxy.upper()
    else:
        raise SchemeRuleError(
            "a PayNow proxy must be a Singapore mobile number (+65 and 8 digits starting 8 or 9) "
            "or a UEN (e.g. 201403121W, 53012345X or T08GB0025A)"
        )
    fields = {"01": kind, "02": proxy, "03": "0" if dynamic else "1"}
    return {**fields, **extra}


# -- QRIS -------------------------------------------------------------------------------------
def _qris(account: str, extra: Mapping[str, str], dynamic: bool) -> dict[str, str]:
    nmid = account.strip().upper()
    if not re.fullmatch(r"ID\d{13}", nmid):
        raise SchemeRuleError(
            "a QRIS NMID must be ID and 13 digits (e.g. ID1025411846005), as printed on the "
            "merchant's QRIS certificate"
        )
    criteria = extra.get("03", "UMI")
    if criteria not in ("UMI", "UKE", "UME", "UBE"):
        raise SchemeRuleError(
            f"QRIS merchant criteria (03) must be UMI, UKE, UME or UBE, not {criteria!r}"
        )
    return {"02": nmid, **extra, "03": criteria}


# -- VietQR -----------------------------------------------------------------------------------
def _vietqr(account: str, extra: Mapping[str, str], dynamic: bool) -> dict[str, str]:
    bank, _, number = account.partition(":")
    if not re.fullmatch(r"\d{6}", bank) or not re.fullmatch(r"[0-9A-Za-z]{1,19}", number):
        raise SchemeRuleError(
            'a VietQR account must be "BIN:account", the bank\'s 6-digit NAPAS BIN and the '
            'account number (up to 19 letters and digits), e.g. "970415:113366668888"'
        )
    service = extra.get("02", "QRIBFTTA")
    if service not in ("QRIBFTTA", "QRIBFTTC", "QRPUSH"):
        raise SchemeRuleError(
            f"the VietQR service code (02) must be QRIBFTTA, QRIBFTTC or QRPUSH, not {service!r}"
        )
    beneficiary = write_object("00", bank) + write_object("01", number)
    return {"01": beneficiary, **extra, "02": service}


# -- KHQR -------------------------------------------------------------------------------------
def _khqr(account: str, extra: Mapping[str, str], dynamic: bool) -> dict[str, str]:
    if not re.fullmatch(r"[a-z0-9_.]{1,32}@[a-z0-9]{1,16}", account.strip()) or len(account) > 32:
        raise SchemeRuleError(
            'a KHQR Bakong account id must be "name@bank" in lower case, at most 32 characters '
            "(e.g. jonhsmith@devb)"
        )
    return dict(extra)


SCHEMES: dict[str, Scheme] = {
    scheme.name: scheme
    for scheme in (
        Scheme("pix", "Pix", "26", "br.gov.bcb.pix", ("986",), "BR", _pix, _pix_txid),
        Scheme("promptpay", "PromptPay", "29", "A000000677010111", ("764",), "TH", _promptpay),
        Scheme("paynow", "PayNow", "26", "SG.PAYNOW", ("702",), "SG", _paynow),
        Scheme("qris", "QRIS", "51", "ID.CO.QRIS.WWW", ("360",), "ID", _qris),
        Scheme("vietqr", "VietQR", "38", "A000000727", ("704",), "VN", _vietqr),
        Scheme("khqr", "KHQR", "29", "", ("116", "840"), "KH", _khqr),
    )
}
"""The schemes a `[[qr.merchant_accounts]]` entry may name."""


def template(
    scheme: Scheme, account: str, extra: Mapping[str, str], dynamic: bool, gui: str = ""
) -> dict[str, str]:
    """The scheme's merchant account template as sub-fields (00 first); SchemeRuleError."""
    fields = scheme.account_fields(account, extra, dynamic)
    if scheme.name == "khqr":
        return {"00": account.strip(), **fields}
    return {"00": gui or scheme.gui, **fields}


def currency_problem(scheme: Scheme, numeric: str, alpha: str) -> str:
    """The sentence when the terminal's currency cannot carry this scheme ("" when it can)."""
    if not scheme.currencies or numeric in scheme.currencies:
        return ""
    wanted = " or ".join(_ALPHA.get(code, code) for code in scheme.currencies)
    return (
        f"{scheme.label} codes are paid in {wanted} only, but this terminal sells in {alpha}: "
        f"set terminal.currency to {wanted} or remove this {scheme.label} account"
    )


_ALPHA = {"986": "BRL", "764": "THB", "702": "SGD", "360": "IDR", "704": "VND", "116": "KHR"}
_ALPHA["840"] = "USD"
