"""National QR schemes: published sample payloads parse with the scheme's identifier in the
right template; codes posterm builds for each configured scheme scan back from a PNG (zxing-cpp)
with the same; and each scheme's rules refuse a bad account at `config check` with the fix."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from terminal.money import Amount
from terminal.qr.mpm import MerchantCode, build_merchant_code, parse_merchant_code
from terminal.qr.render import png_bytes
from terminal.qr.terminal_code import merchant_code_request
from terminal.settings import Settings
from terminal.settings.loading import ConfigError, load_settings

from .vectors import PIX_BCB_EXAMPLE

SAMPLES: list[tuple[str, str, str, str, str]] = [
    # (scheme, payload, template tag, identifier sub-ID 00 or account, source)
    (
        "pix",
        PIX_BCB_EXAMPLE,
        "26",
        "br.gov.bcb.pix",
        "BCB, Manual de Padrões para Iniciação do Pix",
    ),
    (
        "promptpay",
        "00020101021129370016A000000677010111011300668012345675802TH530376463046197",
        "29",
        "A000000677010111",
        "dtinth/promptpay-qr, index.test.js: 'Local phone number' 0801234567",
    ),
    (
        "promptpay",
        "00020101021229370016A000000677010111011300660000000005802TH530376454044.226304E469",
        "29",
        "A000000677010111",
        "dtinth/promptpay-qr, index.test.js: 'Amount' 4.22 (dynamic)",
    ),
    (
        "paynow",
        "00020101021226520009SG.PAYNOW010120213S99345678ABCD03011040899991231520400005303702"
        "540512.345802SG5912ACME Pte Ltd6009Singapore62110107INV123463041E74",
        "26",
        "SG.PAYNOW",
        "jaynzr/go-paynow, paynow_test.go: TestPayNowUEN",
    ),
    (
        "paynow",
        "00020101021226500009SG.PAYNOW010100211+659099123403011040899991231520400005303702"
        "540512.345802SG5902NA6009Singapore62110107INV123463048AF5",
        "26",
        "SG.PAYNOW",
        "jaynzr/go-paynow, paynow_test.go: TestPayNowMobile",
    ),
    (
        "qris",
        "00020101021126610014COM.GO-JEK.WWW01189360091434970566750210G4970566750303UMI51440014"
        "ID.CO.QRIS.WWW0215ID10254118460050303UMI5204899953033605802ID5925Scalify Panel, "
        "Digital & 6015JAKARTA SELATAN61051200062070703A016304CD45",
        "51",
        "ID.CO.QRIS.WWW",
        "a static GoPay QRIS used as the fixture of an open-source QRIS builder's vitest suite "
        "(round-trip test 'Static_QRIS round-trip'); CRC verified here",
    ),
    (
        "vietqr",
        "00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA53037045406"
        "1200005802VN62170813ung ho lu lut6304C15C",
        "38",
        "A000000727",
        "subiz/vietqr, README.md: vietqr.Generate(120000, 970415, 0011001932418, ...)",
    ),
    (
        "vietqr",
        "00020101021138570010A00000072701270006970403011200110123456780208QRIBFTTA53037045802VN"
        "6304F4E5",
        "38",
        "A000000727",
        "NAPAS IBFT v1.5.2 static account example, as quoted by an open-source VietQR "
        "library's compliance test",
    ),
    (
        "khqr",
        "00020101021229180014your_name@wing520459995802KH5909Your Name6010Phnom Penh99170013"
        "1724927295157541100000009800530311662610112TRX0192837750211855123456780305MShop0717"
        "Buy 1A_Level_Book63041087",
        "29",
        "your_name@wing",
        "bsthen/bakong-khqr (PyPI bakong-khqr), README.md: create_qr() result",
    ),
    (
        "khqr",
        "00020101021230490008aka@wing0108007503150209BILLPAYON0308MERCHANT5204526253031165404"
        "41005802KH5916My Supplier(BTC)6008MERCHANT61051200062270116WMK-1232311111290303YES"
        "6304B657",
        "30",
        "aka@wing",
        "an open-source KHQR merchant sample (Java QR image service), CRC verified here",
    ),
]


def template_of(code: MerchantCode, tag: str) -> dict[str, Any]:
    value = code.fields[tag]
    assert isinstance(value, dict), f"{tag} is not a template"
    return dict(value)


@pytest.mark.parametrize(("scheme", "payload", "tag", "identifier", "source"), SAMPLES)
def test_published_samples_parse_with_the_scheme_in_its_template(
    scheme: str, payload: str, tag: str, identifier: str, source: str
) -> None:
    code = parse_merchant_code(payload)
    assert code.crc_ok, source
    assert template_of(code, tag)["00"] == identifier, source


def test_at_least_six_national_schemes_are_covered() -> None:
    assert len({sample[0] for sample in SAMPLES}) >= 6


CONFIGURED = [
    ("pix", "BRL", "BR", "alice@example.com", {}, "26", "br.gov.bcb.pix"),
    ("promptpay", "THB", "TH", "0812345678", {}, "29", "A000000677010111"),
    ("paynow", "SGD", "SG", "201403121W", {}, "26", "SG.PAYNOW"),
    ("qris", "IDR", "ID", "ID1025411846005", {"03": "UKE"}, "51", "ID.CO.QRIS.WWW"),
    ("vietqr", "VND", "VN", "970415:113366668888", {}, "38", "A000000727"),
    ("khqr", "USD", "KH", "jonhsmith@devb", {"02": "Dev Bank"}, "29", "jonhsmith@devb"),
]


def settings_with(currency: str, country: str, *accounts: dict[str, Any]) -> Settings:
    return Settings.model_validate(
        {
            "terminal": {
                "currency": currency,
                "country": country,
                "merchant_name": "DEMO SHOP",
                "merchant_city": "CAPITAL",
                "terminal_id": "POSNAT01",
            },
            "qr": {"merchant_accounts": list(accounts)},
        }
    )


def scanned(payload: str) -> str:
    image = np.array(Image.open(io.BytesIO(png_bytes(payload, box_size=4))).convert("L"))
    texts = [bytes(r.bytes).decode("utf-8") for r in zxingcpp.read_barcodes(image)]
    assert len(texts) == 1
    return texts[0]


@pytest.mark.parametrize(
    ("scheme", "currency", "country", "account", "fields", "tag", "identifier"), CONFIGURED
)
@pytest.mark.parametrize("dynamic", [True, False])
def test_generated_codes_scan_back_with_the_scheme_in_its_template(
    scheme: str,
    currency: str,
    country: str,
    account: str,
    fields: dict[str, str],
    tag: str,
    identifier: str,
    dynamic: bool,
) -> None:
    settings = settings_with(
        currency, country, {"scheme": scheme, "account": account, "fields": fields}
    )
    amount = Amount.parse("120000", settings.currency) if dynamic else None
    request = merchant_code_request(
        settings,
        amount=amount,
        reference="PI0A1B2C3D4E5F6A7B8C9D" if dynamic else "",
        dynamic=dynamic,
    )
    payload = build_merchant_code(request)
    code = parse_merchant_code(scanned(payload), strict=True)
    assert template_of(code, tag)["00"] == identifier
    assert code.dynamic is dynamic
    own = [t for t in code.fields if template_is(code, t, "com.posterm.pay")]
    assert own and own[0] != tag  # the terminal's network template moved out of the way
    if dynamic:
        assert code.reference_label == "PI0A1B2C3D4E5F6A7B8C9D"


def template_is(code: MerchantCode, tag: str, gui: str) -> bool:
    value = code.fields.get(tag)
    return isinstance(value, dict) and value.get("00") == gui


def test_several_schemes_in_one_code() -> None:
    settings = settings_with(
        "SGD",
        "SG",
        {"scheme": "paynow", "account": "+6591234567"},
        {"scheme": "paynow", "account": "201403121W", "tag": "27"},
    )
    payload = build_merchant_code(merchant_code_request(settings, amount=None, dynamic=False))
    code = parse_merchant_code(scanned(payload), strict=True)
    assert template_of(code, "26") == {"00": "SG.PAYNOW", "01": "0", "02": "+6591234567", "03": "1"}
    assert template_of(code, "27")["02"] == "201403121W"
    assert template_is(code, "28", "com.posterm.pay")


def test_static_pix_code_carries_the_static_txid() -> None:
    settings = settings_with("BRL", "BR", {"scheme": "pix", "account": "12345678909"})
    payload = build_merchant_code(merchant_code_request(settings, amount=None, dynamic=False))
    assert parse_merchant_code(payload).reference_label == "***"


def site(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "posterm.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("currency", "entry", "sentence"),
    [
        (
            "BRL",
            'scheme = "pix"\naccount = "123.456.789-09"',
            "write a CPF or CNPJ as digits only",
        ),
        ("BRL", 'scheme = "pix"\naccount = "+55 61 9123"', "a Pix key must be a CPF (11 digits)"),
        ("THB", 'scheme = "promptpay"\naccount = "12345"', "a PromptPay proxy id must be"),
        ("SGD", 'scheme = "paynow"\naccount = "+4479"', "a PayNow proxy must be"),
        ("IDR", 'scheme = "qris"\naccount = "1025411846005"', "a QRIS NMID must be ID and 13"),
        ("VND", 'scheme = "vietqr"\naccount = "113366668888"', '"BIN:account"'),
        ("USD", 'scheme = "khqr"\naccount = "John Smith"', 'Bakong account id must be "name@bank"'),
        (
            "EUR",
            'scheme = "pix"\naccount = "alice@example.com"',
            "Pix codes are paid in BRL only, but this terminal sells in EUR: set "
            "terminal.currency to BRL",
        ),
        (
            "BRL",
            'scheme = "pix"\naccount = "alice@example.com"\ntag = "62"',
            "template ID 26 to 51",
        ),
    ],
)
def test_config_check_names_the_scheme_rule_and_the_fix(
    tmp_path: Path, currency: str, entry: str, sentence: str
) -> None:
    path = site(
        tmp_path, f'[terminal]\ncurrency = "{currency}"\n\n[[qr.merchant_accounts]]\n{entry}\n'
    )
    with pytest.raises(ConfigError) as refused:
        load_settings(path, environ={})
    assert sentence in refused.value.sentence
    assert "posterm.toml: qr.merchant_accounts[0]" in refused.value.sentence


def test_two_accounts_in_one_tag_are_refused(tmp_path: Path) -> None:
    path = site(
        tmp_path,
        '[terminal]\ncurrency = "SGD"\n\n[[qr.merchant_accounts]]\nscheme = "paynow"\n'
        'account = "+6591234567"\n\n[[qr.merchant_accounts]]\nscheme = "paynow"\n'
        'account = "201403121W"\n',
    )
    with pytest.raises(ConfigError, match="template 26 is already used"):
        load_settings(path, environ={})
