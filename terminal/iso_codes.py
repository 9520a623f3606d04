"""ISO 4217 currency and ISO 3166-1 country tables.

The terminal needs these codes offline and exactly: EMV tags 5F2A/9F1A carry the
numeric codes, EMVCo QR tags 53/58 carry numeric currency and alpha-2 country, and
amounts must be scaled by each currency's minor unit. A small typed table in the
source tree keeps that data reviewable and free of run-time dependencies.

Sources (regenerate both tables together when they change):

* ISO 4217 List One, published 2026-01-01. Codes whose minor unit is "N.A."
  (XAU, XAG, XPD, XPT, XBA-XBD, XDR, XSU, XUA, XTS, XXX) are left out on purpose:
  an amount in them cannot be expressed in integer minor units.
* ISO 3166-1 (alpha-2, numeric, English short name) as in Debian iso-codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

from terminal.errors import PostermError

__all__ = [
    "COUNTRIES",
    "COUNTRIES_BY_NUMERIC",
    "CURRENCIES",
    "CURRENCIES_BY_NUMERIC",
    "ISO_4217_PUBLISHED",
    "Country",
    "Currency",
    "UnknownCountry",
    "UnknownCurrency",
    "country",
    "currency",
]

ISO_4217_PUBLISHED = "2026-01-01"
"""Publication date of the ISO 4217 List One the currency table was taken from."""


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency.

    ``exponent`` is the number of minor-unit digits (EUR 2, JPY 0, KWD 3): amounts are
    stored as integers of minor units, so this is what scales them for display.
    """

    code: str
    numeric: str
    exponent: int
    name: str

    def __str__(self) -> str:
        """Show the alpha code, which is what operators and logs recognise."""
        return self.code


@dataclass(frozen=True, slots=True)
class Country:
    """An ISO 3166-1 country: alpha-2 for EMVCo QR tag 58, numeric for EMV tag 9F1A."""

    alpha2: str
    numeric: str
    name: str


class UnknownCurrency(PostermError, ValueError):
    """Raised when a text is not a supported ISO 4217 currency code (a configuration error)."""

    exit_code = 2


class UnknownCountry(PostermError, ValueError):
    """Raised when a text is not an ISO 3166-1 country code (a configuration error)."""

    exit_code = 2


# ISO 4217 codes that exist but have no minor unit ("N.A."), mapped to their numeric
# codes, so that a lookup can say why they are refused instead of "unknown".
_NO_MINOR_UNIT: Mapping[str, str] = MappingProxyType(
    {
        "XAG": "961",
        "XAU": "959",
        "XBA": "955",
        "XBB": "956",
        "XBC": "957",
        "XBD": "958",
        "XDR": "960",
        "XPD": "964",
        "XPT": "962",
        "XSU": "994",
        "XTS": "963",
        "XUA": "965",
        "XXX": "999",
    }
)

_CURRENCY_ROWS: tuple[Currency, ...] = (
    Currency("AED", "784", 2, "UAE Dirham"),
    Currency("AFN", "971", 2, "Afghani"),
    Currency("ALL", "008", 2, "Lek"),
    Currency("AMD", "051", 2, "Armenian Dram"),
    Currency("AOA", "973", 2, "Kwanza"),
    Currency("ARS", "032", 2, "Argentine Peso"),
    Currency("AUD", "036", 2, "Australian Dollar"),
    Currency("AWG", "533", 2, "Aruban Florin"),
    Currency("AZN", "944", 2, "Azerbaijan Manat"),
    Currency("BAM", "977", 2, "Convertible Mark"),
    Currency("BBD", "052", 2, "Barbados Dollar"),
    Currency("BDT", "050", 2, "Taka"),
    Currency("BHD", "048", 3, "Bahraini Dinar"),
    Currency("BIF", "108", 0, "Burundi Franc"),
    Currency("BMD", "060", 2, "Bermudian Dollar"),
    Currency("BND", "096", 2, "Brunei Dollar"),
    Currency("BOB", "068", 2, "Boliviano"),
    Currency("BOV", "984", 2, "Mvdol"),
    Currency("BRL", "986", 2, "Brazilian Real"),
    Currency("BSD", "044", 2, "Bahamian Dollar"),
    Currency("BTN", "064", 2, "Ngultrum"),
    Currency("BWP", "072", 2, "Pula"),
    Currency("BYN", "933", 2, "Belarusian Ruble"),
    Currency("BZD", "084", 2, "Belize Dollar"),
    Currency("CAD", "124", 2, "Canadian Dollar"),
    Currency("CDF", "976", 2, "Congolese Franc"),
    Currency("CHE", "947", 2, "WIR Euro"),
    Currency("CHF", "756", 2, "Swiss Franc"),
    Currency("CHW", "948", 2, "WIR Franc"),
    Currency("CLF", "990", 4, "Unidad de Fomento"),
    Currency("CLP", "152", 0, "Chilean Peso"),
    Currency("CNY", "156", 2, "Yuan Renminbi"),
    Currency("COP", "170", 2, "Colombian Peso"),
    Currency("COU", "970", 2, "Unidad de Valor Real"),
    Currency("CRC", "188", 2, "Costa Rican Colon"),
    Currency("CUP", "192", 2, "Cuban Peso"),
    Currency("CVE", "132", 2, "Cabo Verde Escudo"),
    Currency("CZK", "203", 2, "Czech Koruna"),
    Currency("DJF", "262", 0, "Djibouti Franc"),
    Currency("DKK", "208", 2, "Danish Krone"),
    Currency("DOP", "214", 2, "Dominican Peso"),
    Currency("DZD", "012", 2, "Algerian Dinar"),
    Currency("EGP", "818", 2, "Egyptian Pound"),
    Currency("ERN", "232", 2, "Nakfa"),
    Currency("ETB", "230", 2, "Ethiopian Birr"),
    Currency("EUR", "978", 2, "Euro"),
    Currency("FJD", "242", 2, "Fiji Dollar"),
    Currency("FKP", "238", 2, "Falkland Islands Pound"),
    Currency("GBP", "826", 2, "Pound Sterling"),
    Currency("GEL", "981", 2, "Lari"),
    Currency("GHS", "936", 2, "Ghana Cedi"),
    Currency("GIP", "292", 2, "Gibraltar Pound"),
    Currency("GMD", "270", 2, "Dalasi"),
    Currency("GNF", "324", 0, "Guinean Franc"),
    Currency("GTQ", "320", 2, "Quetzal"),
    Currency("GYD", "328", 2, "Guyana Dollar"),
    Currency("HKD", "344", 2, "Hong Kong Dollar"),
    Currency("HNL", "340", 2, "Lempira"),
    Currency("HTG", "332", 2, "Gourde"),
    Currency("HUF", "348", 2, "Forint"),
    Currency("IDR", "360", 2, "Rupiah"),
    Currency("ILS", "376", 2, "New Israeli Sheqel"),
    Currency("INR", "356", 2, "Indian Rupee"),
    Currency("IQD", "368", 3, "Iraqi Dinar"),
    Currency("IRR", "364", 2, "Iranian Rial"),
    Currency("ISK", "352", 0, "Iceland Krona"),
    Currency("JMD", "388", 2, "Jamaican Dollar"),
    Currency("JOD", "400", 3, "Jordanian Dinar"),
    Currency("JPY", "392", 0, "Yen"),
    Currency("KES", "404", 2, "Kenyan Shilling"),
    Currency("KGS", "417", 2, "Som"),
    Currency("KHR", "116", 2, "Riel"),
    Currency("KMF", "174", 0, "Comorian Franc"),
    Currency("KPW", "408", 2, "North Korean Won"),
    Currency("KRW", "410", 0, "Won"),
    Currency("KWD", "414", 3, "Kuwaiti Dinar"),
    Currency("KYD", "136", 2, "Cayman Islands Dollar"),
    Currency("KZT", "398", 2, "Tenge"),
    Currency("LAK", "418", 2, "Lao Kip"),
    Currency("LBP", "422", 2, "Lebanese Pound"),
    Currency("LKR", "144", 2, "Sri Lanka Rupee"),
    Currency("LRD", "430", 2, "Liberian Dollar"),
    Currency("LSL", "426", 2, "Loti"),
    Currency("LYD", "434", 3, "Libyan Dinar"),
    Currency("MAD", "504", 2, "Moroccan Dirham"),
    Currency("MDL", "498", 2, "Moldovan Leu"),
    Currency("MGA", "969", 2, "Malagasy Ariary"),
    Currency("MKD", "807", 2, "Denar"),
    Currency("MMK", "104", 2, "Kyat"),
    Currency("MNT", "496", 2, "Tugrik"),
    Currency("MOP", "446", 2, "Pataca"),
    Currency("MRU", "929", 2, "Ouguiya"),
    Currency("MUR", "480", 2, "Mauritius Rupee"),
    Currency("MVR", "462", 2, "Rufiyaa"),
    Currency("MWK", "454", 2, "Malawi Kwacha"),
    Currency("MXN", "484", 2, "Mexican Peso"),
    Currency("MXV", "979", 2, "Mexican Unidad de Inversion (UDI)"),
    Currency("MYR", "458", 2, "Malaysian Ringgit"),
    Currency("MZN", "943", 2, "Mozambique Metical"),
    Currency("NAD", "516", 2, "Namibia Dollar"),
    Currency("NGN", "566", 2, "Naira"),
    Currency("NIO", "558", 2, "Cordoba Oro"),
    Currency("NOK", "578", 2, "Norwegian Krone"),
    Currency("NPR", "524", 2, "Nepalese Rupee"),
    Currency("NZD", "554", 2, "New Zealand Dollar"),
    Currency("OMR", "512", 3, "Rial Omani"),
    Currency("PAB", "590", 2, "Balboa"),
    Currency("PEN", "604", 2, "Sol"),
    Currency("PGK", "598", 2, "Kina"),
    Currency("PHP", "608", 2, "Philippine Peso"),
    Currency("PKR", "586", 2, "Pakistan Rupee"),
    Currency("PLN", "985", 2, "Zloty"),
    Currency("PYG", "600", 0, "Guarani"),
    Currency("QAR", "634", 2, "Qatari Rial"),
    Currency("RON", "946", 2, "Romanian Leu"),
    Currency("RSD", "941", 2, "Serbian Dinar"),
    Currency("RUB", "643", 2, "Russian Ruble"),
    Currency("RWF", "646", 0, "Rwanda Franc"),
    Currency("SAR", "682", 2, "Saudi Riyal"),
    Currency("SBD", "090", 2, "Solomon Islands Dollar"),
    Currency("SCR", "690", 2, "Seychelles Rupee"),
    Currency("SDG", "938", 2, "Sudanese Pound"),
    Currency("SEK", "752", 2, "Swedish Krona"),
    Currency("SGD", "702", 2, "Singapore Dollar"),
    Currency("SHP", "654", 2, "Saint Helena Pound"),
    Currency("SLE", "925", 2, "Leone"),
    Currency("SOS", "706", 2, "Somali Shilling"),
    Currency("SRD", "968", 2, "Surinam Dollar"),
    Currency("SSP", "728", 2, "South Sudanese Pound"),
    Currency("STN", "930", 2, "Dobra"),
    Currency("SVC", "222", 2, "El Salvador Colon"),
    Currency("SYP", "760", 2, "Syrian Pound"),
    Currency("SZL", "748", 2, "Lilangeni"),
    Currency("THB", "764", 2, "Baht"),
    Currency("TJS", "972", 2, "Somoni"),
    Currency("TMT", "934", 2, "Turkmenistan New Manat"),
    Currency("TND", "788", 3, "Tunisian Dinar"),
    Currency("TOP", "776", 2, "Pa’anga"),
    Currency("TRY", "949", 2, "Turkish Lira"),
    Currency("TTD", "780", 2, "Trinidad and Tobago Dollar"),
    Currency("TWD", "901", 2, "New Taiwan Dollar"),
    Currency("TZS", "834", 2, "Tanzanian Shilling"),
    Currency("UAH", "980", 2, "Hryvnia"),
    Currency("UGX", "800", 0, "Uganda Shilling"),
    Currency("USD", "840", 2, "US Dollar"),
    Currency("USN", "997", 2, "US Dollar (Next day)"),
    Currency("UYI", "940", 0, "Uruguay Peso en Unidades Indexadas (UI)"),
    Currency("UYU", "858", 2, "Peso Uruguayo"),
    Currency("UYW", "927", 4, "Unidad Previsional"),
    Currency("UZS", "860", 2, "Uzbekistan Sum"),
    Currency("VED", "926", 2, "Bolívar Soberano"),
    Currency("VES", "928", 2, "Bolívar Soberano"),
    Currency("VND", "704", 0, "Dong"),
    Currency("VUV", "548", 0, "Vatu"),
    Currency("WST", "882", 2, "Tala"),
    Currency("XAD", "396", 2, "Arab Accounting Dinar"),
    Currency("XAF", "950", 0, "CFA Franc BEAC"),
    Currency("XCD", "951", 2, "East Caribbean Dollar"),
    Currency("XCG", "532", 2, "Caribbean Guilder"),
    Currency("XOF", "952", 0, "CFA Franc BCEAO"),
    Currency("XPF", "953", 0, "CFP Franc"),
    Currency("YER", "886", 2, "Yemeni Rial"),
    Currency("ZAR", "710", 2, "Rand"),
    Currency("ZMW", "967", 2, "Zambian Kwacha"),
    Currency("ZWG", "924", 2, "Zimbabwe Gold"),
)

_COUNTRY_ROWS: tuple[Country, ...] = (
    Country("AD", "020", "Andorra"),
    Country("AE", "784", "United Arab Emirates"),
    Country("AF", "004", "Afghanistan"),
    Country("AG", "028", "Antigua and Barbuda"),
    Country("AI", "660", "Anguilla"),
    Country("AL", "008", "Albania"),
    Country("AM", "051", "Armenia"),
    Country("AO", "024", "Angola"),
    Country("AQ", "010", "Antarctica"),
    Country("AR", "032", "Argentina"),
    Country("AS", "016", "American Samoa"),
    Country("AT", "040", "Austria"),
    Country("AU", "036", "Australia"),
    Country("AW", "533", "Aruba"),
    Country("AX", "248", "Åland Islands"),
    Country("AZ", "031", "Azerbaijan"),
    Country("BA", "070", "Bosnia and Herzegovina"),
    Country("BB", "052", "Barbados"),
    Country("BD", "050", "Bangladesh"),
    Country("BE", "056", "Belgium"),
    Country("BF", "854", "Burkina Faso"),
    Country("BG", "100", "Bulgaria"),
    Country("BH", "048", "Bahrain"),
    Country("BI", "108", "Burundi"),
    Country("BJ", "204", "Benin"),
    Country("BL", "652", "Saint Barthélemy"),
    Country("BM", "060", "Bermuda"),
    Country("BN", "096", "Brunei Darussalam"),
    Country("BO", "068", "Bolivia, Plurinational State of"),
    Country("BQ", "535", "Bonaire, Sint Eustatius and Saba"),
    Country("BR", "076", "Brazil"),
    Country("BS", "044", "Bahamas"),
    Country("BT", "064", "Bhutan"),
    Country("BV", "074", "Bouvet Island"),
    Country("BW", "072", "Botswana"),
    Country("BY", "112", "Belarus"),
    Country("BZ", "084", "Belize"),
    Country("CA", "124", "Canada"),
    Country("CC", "166", "Cocos (Keeling) Islands"),
    Country("CD", "180", "Congo, The Democratic Republic of the"),
    Country("CF", "140", "Central African Republic"),
    Country("CG", "178", "Congo"),
    Country("CH", "756", "Switzerland"),
    Country("CI", "384", "Côte d'Ivoire"),
    Country("CK", "184", "Cook Islands"),
    Country("CL", "152", "Chile"),
    Country("CM", "120", "Cameroon"),
    Country("CN", "156", "China"),
    Country("CO", "170", "Colombia"),
    Country("CR", "188", "Costa Rica"),
    Country("CU", "192", "Cuba"),
    Country("CV", "132", "Cabo Verde"),
    Country("CW", "531", "Curaçao"),
    Country("CX", "162", "Christmas Island"),
    Country("CY", "196", "Cyprus"),
    Country("CZ", "203", "Czechia"),
    Country("DE", "276", "Germany"),
    Country("DJ", "262", "Djibouti"),
    Country("DK", "208", "Denmark"),
    Country("DM", "212", "Dominica"),
    Country("DO", "214", "Dominican Republic"),
    Country("DZ", "012", "Algeria"),
    Country("EC", "218", "Ecuador"),
    Country("EE", "233", "Estonia"),
    Country("EG", "818", "Egypt"),
    Country("EH", "732", "Western Sahara"),
    Country("ER", "232", "Eritrea"),
    Country("ES", "724", "Spain"),
    Country("ET", "231", "Ethiopia"),
    Country("FI", "246", "Finland"),
    Country("FJ", "242", "Fiji"),
    Country("FK", "238", "Falkland Islands (Malvinas)"),
    Country("FM", "583", "Micronesia, Federated States of"),
    Country("FO", "234", "Faroe Islands"),
    Country("FR", "250", "France"),
    Country("GA", "266", "Gabon"),
    Country("GB", "826", "United Kingdom"),
    Country("GD", "308", "Grenada"),
    Country("GE", "268", "Georgia"),
    Country("GF", "254", "French Guiana"),
    Country("GG", "831", "Guernsey"),
    Country("GH", "288", "Ghana"),
    Country("GI", "292", "Gibraltar"),
    Country("GL", "304", "Greenland"),
    Country("GM", "270", "Gambia"),
    Country("GN", "324", "Guinea"),
    Country("GP", "312", "Guadeloupe"),
    Country("GQ", "226", "Equatorial Guinea"),
    Country("GR", "300", "Greece"),
    Country("GS", "239", "South Georgia and the South Sandwich Islands"),
    Country("GT", "320", "Guatemala"),
    Country("GU", "316", "Guam"),
    Country("GW", "624", "Guinea-Bissau"),
    Country("GY", "328", "Guyana"),
    Country("HK", "344", "Hong Kong"),
    Country("HM", "334", "Heard Island and McDonald Islands"),
    Country("HN", "340", "Honduras"),
    Country("HR", "191", "Croatia"),
    Country("HT", "332", "Haiti"),
    Country("HU", "348", "Hungary"),
    Country("ID", "360", "Indonesia"),
    Country("IE", "372", "Ireland"),
    Country("IL", "376", "Israel"),
    Country("IM", "833", "Isle of Man"),
    Country("IN", "356", "India"),
    Country("IO", "086", "British Indian Ocean Territory"),
    Country("IQ", "368", "Iraq"),
    Country("IR", "364", "Iran, Islamic Republic of"),
    Country("IS", "352", "Iceland"),
    Country("IT", "380", "Italy"),
    Country("JE", "832", "Jersey"),
    Country("JM", "388", "Jamaica"),
    Country("JO", "400", "Jordan"),
    Country("JP", "392", "Japan"),
    Country("KE", "404", "Kenya"),
    Country("KG", "417", "Kyrgyzstan"),
    Country("KH", "116", "Cambodia"),
    Country("KI", "296", "Kiribati"),
    Country("KM", "174", "Comoros"),
    Country("KN", "659", "Saint Kitts and Nevis"),
    Country("KP", "408", "Korea, Democratic People's Republic of"),
    Country("KR", "410", "Korea, Republic of"),
    Country("KW", "414", "Kuwait"),
    Country("KY", "136", "Cayman Islands"),
    Country("KZ", "398", "Kazakhstan"),
    Country("LA", "418", "Lao People's Democratic Republic"),
    Country("LB", "422", "Lebanon"),
    Country("LC", "662", "Saint Lucia"),
    Country("LI", "438", "Liechtenstein"),
    Country("LK", "144", "Sri Lanka"),
    Country("LR", "430", "Liberia"),
    Country("LS", "426", "Lesotho"),
    Country("LT", "440", "Lithuania"),
    Country("LU", "442", "Luxembourg"),
    Country("LV", "428", "Latvia"),
    Country("LY", "434", "Libya"),
    Country("MA", "504", "Morocco"),
    Country("MC", "492", "Monaco"),
    Country("MD", "498", "Moldova, Republic of"),
    Country("ME", "499", "Montenegro"),
    Country("MF", "663", "Saint Martin (French part)"),
    Country("MG", "450", "Madagascar"),
    Country("MH", "584", "Marshall Islands"),
    Country("MK", "807", "North Macedonia"),
    Country("ML", "466", "Mali"),
    Country("MM", "104", "Myanmar"),
    Country("MN", "496", "Mongolia"),
    Country("MO", "446", "Macao"),
    Country("MP", "580", "Northern Mariana Islands"),
    Country("MQ", "474", "Martinique"),
    Country("MR", "478", "Mauritania"),
    Country("MS", "500", "Montserrat"),
    Country("MT", "470", "Malta"),
    Country("MU", "480", "Mauritius"),
    Country("MV", "462", "Maldives"),
    Country("MW", "454", "Malawi"),
    Country("MX", "484", "Mexico"),
    Country("MY", "458", "Malaysia"),
    Country("MZ", "508", "Mozambique"),
    Country("NA", "516", "Namibia"),
    Country("NC", "540", "New Caledonia"),
    Country("NE", "562", "Niger"),
    Country("NF", "574", "Norfolk Island"),
    Country("NG", "566", "Nigeria"),
    Country("NI", "558", "Nicaragua"),
    Country("NL", "528", "Netherlands"),
    Country("NO", "578", "Norway"),
    Country("NP", "524", "Nepal"),
    Country("NR", "520", "Nauru"),
    Country("NU", "570", "Niue"),
    Country("NZ", "554", "New Zealand"),
    Country("OM", "512", "Oman"),
    Country("PA", "591", "Panama"),
    Country("PE", "604", "Peru"),
    Country("PF", "258", "French Polynesia"),
    Country("PG", "598", "Papua New Guinea"),
    Country("PH", "608", "Philippines"),
    Country("PK", "586", "Pakistan"),
    Country("PL", "616", "Poland"),
    Country("PM", "666", "Saint Pierre and Miquelon"),
    Country("PN", "612", "Pitcairn"),
    Country("PR", "630", "Puerto Rico"),
    Country("PS", "275", "Palestine, State of"),
    Country("PT", "620", "Portugal"),
    Country("PW", "585", "Palau"),
    Country("PY", "600", "Paraguay"),
    Country("QA", "634", "Qatar"),
    Country("RE", "638", "Réunion"),
    Country("RO", "642", "Romania"),
    Country("RS", "688", "Serbia"),
    Country("RU", "643", "Russian Federation"),
    Country("RW", "646", "Rwanda"),
    Country("SA", "682", "Saudi Arabia"),
    Country("SB", "090", "Solomon Islands"),
    Country("SC", "690", "Seychelles"),
    Country("SD", "729", "Sudan"),
    Country("SE", "752", "Sweden"),
    Country("SG", "702", "Singapore"),
    Country("SH", "654", "Saint Helena, Ascension and Tristan da Cunha"),
    Country("SI", "705", "Slovenia"),
    Country("SJ", "744", "Svalbard and Jan Mayen"),
    Country("SK", "703", "Slovakia"),
    Country("SL", "694", "Sierra Leone"),
    Country("SM", "674", "San Marino"),
    Country("SN", "686", "Senegal"),
    Country("SO", "706", "Somalia"),
    Country("SR", "740", "Suriname"),
    Country("SS", "728", "South Sudan"),
    Country("ST", "678", "Sao Tome and Principe"),
    Country("SV", "222", "El Salvador"),
    Country("SX", "534", "Sint Maarten (Dutch part)"),
    Country("SY", "760", "Syrian Arab Republic"),
    Country("SZ", "748", "Eswatini"),
    Country("TC", "796", "Turks and Caicos Islands"),
    Country("TD", "148", "Chad"),
    Country("TF", "260", "French Southern Territories"),
    Country("TG", "768", "Togo"),
    Country("TH", "764", "Thailand"),
    Country("TJ", "762", "Tajikistan"),
    Country("TK", "772", "Tokelau"),
    Country("TL", "626", "Timor-Leste"),
    Country("TM", "795", "Turkmenistan"),
    Country("TN", "788", "Tunisia"),
    Country("TO", "776", "Tonga"),
    Country("TR", "792", "Türkiye"),
    Country("TT", "780", "Trinidad and Tobago"),
    Country("TV", "798", "Tuvalu"),
    Country("TW", "158", "Taiwan, Province of China"),
    Country("TZ", "834", "Tanzania, United Republic of"),
    Country("UA", "804", "Ukraine"),
    Country("UG", "800", "Uganda"),
    Country("UM", "581", "United States Minor Outlying Islands"),
    Country("US", "840", "United States"),
    Country("UY", "858", "Uruguay"),
    Country("UZ", "860", "Uzbekistan"),
    Country("VA", "336", "Holy See (Vatican City State)"),
    Country("VC", "670", "Saint Vincent and the Grenadines"),
    Country("VE", "862", "Venezuela, Bolivarian Republic of"),
    Country("VG", "092", "Virgin Islands, British"),
    Country("VI", "850", "Virgin Islands, U.S."),
    Country("VN", "704", "Viet Nam"),
    Country("VU", "548", "Vanuatu"),
    Country("WF", "876", "Wallis and Futuna"),
    Country("WS", "882", "Samoa"),
    Country("YE", "887", "Yemen"),
    Country("YT", "175", "Mayotte"),
    Country("ZA", "710", "South Africa"),
    Country("ZM", "894", "Zambia"),
    Country("ZW", "716", "Zimbabwe"),
)

_T = TypeVar("_T")


def _unique_index(rows: Iterable[_T], key: str) -> Mapping[str, _T]:
    """Index rows by one attribute, failing loudly if a table edit introduced a duplicate."""
    index: dict[str, _T] = {}
    for row in rows:
        value = getattr(row, key)
        if not isinstance(value, str) or value in index:
            raise RuntimeError(f"iso_codes table: duplicate or bad {key} {value!r}")
        index[value] = row
    return MappingProxyType(index)


CURRENCIES: Mapping[str, Currency] = _unique_index(_CURRENCY_ROWS, "code")
"""Supported currencies by upper-case alpha code ("EUR")."""

CURRENCIES_BY_NUMERIC: Mapping[str, Currency] = _unique_index(_CURRENCY_ROWS, "numeric")
"""Supported currencies by 3-digit numeric code ("978"), as carried in EMV tag 5F2A."""

COUNTRIES: Mapping[str, Country] = _unique_index(_COUNTRY_ROWS, "alpha2")
"""Countries by upper-case alpha-2 code ("DE")."""

COUNTRIES_BY_NUMERIC: Mapping[str, Country] = _unique_index(_COUNTRY_ROWS, "numeric")
"""Countries by 3-digit numeric code ("276"), as carried in EMV tag 9F1A."""


def _is_numeric_code(text: str) -> bool:
    """Numeric ISO codes are exactly three ASCII digits, leading zeros kept ("048")."""
    return len(text) == 3 and all("0" <= ch <= "9" for ch in text)


def _shown(text: str) -> str:
    """Quote user text for an error message, cut short so a bad config cannot flood logs."""
    return repr(text if len(text) <= 20 else text[:20] + "...")


def currency(code_or_numeric: str) -> Currency:
    """Look up a currency by upper-case alpha code ("EUR") or numeric code ("978").

    Lower case is refused rather than folded: codes travel into EMV data and receipts,
    and a config that says "eur" is more likely a typo worth fixing than a real intent.
    """
    if not isinstance(code_or_numeric, str):
        raise TypeError(f"currency code must be str, not {type(code_or_numeric).__name__}")
    text = code_or_numeric
    table = CURRENCIES_BY_NUMERIC if _is_numeric_code(text) else CURRENCIES
    found = table.get(text)
    if found is not None:
        return found
    if text in _NO_MINOR_UNIT or text in _NO_MINOR_UNIT.values():
        raise UnknownCurrency(
            f"{_shown(text)} has no minor unit in ISO 4217 and cannot be used for amounts"
        )
    message = f"{_shown(text)} is not an ISO 4217 code (e.g. EUR)"
    if text.upper() in CURRENCIES:
        message += f"; codes are upper case: {text.upper()}"
    raise UnknownCurrency(message)


def country(alpha2_or_numeric: str) -> Country:
    """Look up a country by upper-case alpha-2 code ("DE") or numeric code ("276")."""
    if not isinstance(alpha2_or_numeric, str):
        raise TypeError(f"country code must be str, not {type(alpha2_or_numeric).__name__}")
    text = alpha2_or_numeric
    table = COUNTRIES_BY_NUMERIC if _is_numeric_code(text) else COUNTRIES
    found = table.get(text)
    if found is not None:
        return found
    message = f"{_shown(text)} is not an ISO 3166 alpha-2 country code (e.g. DE)"
    if text.upper() in COUNTRIES:
        message += f"; codes are upper case: {text.upper()}"
    raise UnknownCountry(message)
