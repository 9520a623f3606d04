"""How many units of each currency stand for one euro, as a 1-2-5 magnitude step.

The amount settings' defaults are written once, in euros (`terminal.settings.amounts`), and
scaled into the terminal currency by the factor below: IDR 50.00 would be a few cents, so an
Indonesian terminal gets EUR 50.00 × 20000 = IDR 1,000,000.00 instead.

Each factor is the step of the 1-2-5 series (…, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, …) nearest
in log scale to the number of units one euro bought in 2025/2026: the ECB reference rate where
the ECB publishes one ("ECB"), else the fixed rate of a peg ("peg ..."), else the central
bank's or a widely published rate ("central bank", "official"); index units (CLF, COU, MXV,
UYI, UYW) by their value in the currency they index. These are orders of magnitude only, kept
coarse on purpose so the table rarely needs touching: rates move, and a factor moves only when
a rate crosses halfway (in log scale) to the next step. They are not exchange rates, posterm
never converts money with them, and they are not anybody's limits: the acquirer's real limits
belong in the site file, in the terminal currency.

Where a rate has two faces (an official rate far from the market's, as for IRR or SDG) the
official one is used: it gives the lower limit, the safe side for offline approvals.

A currency without a row gets factor 1 (the euro values as written, in its own units) and
`scale_factor` says so; a test keeps a row for every currency posterm accepts, so that is a
fallback for a table that fell behind ISO 4217, never the normal path. One row per currency:
(code, factor, units per euro, where the rate comes from); all text, read as exact fractions.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType
from typing import NamedTuple

__all__ = ["RATES", "SCALE", "Scale", "scale_factor"]

RATES: tuple[tuple[str, str, str, str], ...] = (
    ("AED", "5", "4.27", "peg USD 3.6725"),
    ("AFN", "100", "78", "central bank"),
    ("ALL", "100", "97", "central bank"),
    ("AMD", "500", "445", "central bank"),
    ("AOA", "1000", "1060", "central bank"),
    ("ARS", "2000", "1650", "central bank, falling"),
    ("AUD", "2", "1.77", "ECB"),
    ("AWG", "2", "2.08", "peg USD 1.79"),
    ("AZN", "2", "1.97", "peg USD 1.70"),
    ("BAM", "2", "1.95583", "peg EUR"),
    ("BBD", "2", "2.32", "peg USD 2"),
    ("BDT", "100", "140", "central bank"),
    ("BHD", "0.5", "0.436", "peg USD 0.376"),
    ("BIF", "5000", "3450", "central bank"),
    ("BMD", "1", "1.16", "peg USD 1"),
    ("BND", "2", "1.50", "peg SGD"),
    ("BOB", "10", "8.0", "central bank"),
    ("BOV", "1", "1.16", "unit of account tied to USD"),
    ("BRL", "5", "6.3", "ECB"),
    ("BSD", "1", "1.16", "peg USD 1"),
    ("BTN", "100", "102", "peg INR"),
    ("BWP", "20", "15.5", "central bank"),
    ("BYN", "5", "3.6", "central bank"),
    ("BZD", "2", "2.32", "peg USD 2"),
    ("CAD", "2", "1.62", "ECB"),
    ("CDF", "2000", "2800", "central bank"),
    ("CHE", "1", "1.0", "WIR euro, kept at par"),
    ("CHF", "1", "0.93", "ECB"),
    ("CHW", "1", "0.93", "WIR franc, kept at par with CHF"),
    ("CLF", "0.02", "0.0277", "index unit, about 39,500 CLP"),
    ("CLP", "1000", "1095", "central bank"),
    ("CNY", "10", "8.25", "ECB"),
    ("COP", "5000", "4450", "central bank"),
    ("COU", "10", "11.3", "index unit, about 395 COP"),
    ("CRC", "500", "585", "central bank"),
    ("CUP", "20", "27.8", "official USD 24"),
    ("CVE", "100", "110.265", "peg EUR"),
    ("CZK", "20", "24.3", "ECB"),
    ("DJF", "200", "206", "peg USD 177.721"),
    ("DKK", "10", "7.46", "ECB"),
    ("DOP", "100", "74", "central bank"),
    ("DZD", "200", "151", "central bank"),
    ("EGP", "50", "55", "central bank"),
    ("ERN", "20", "17.4", "peg USD 15"),
    ("ETB", "200", "170", "central bank"),
    ("EUR", "1", "1", "reference"),
    ("FJD", "2", "2.62", "central bank"),
    ("FKP", "1", "0.87", "peg GBP"),
    ("GBP", "1", "0.87", "ECB"),
    ("GEL", "2", "3.14", "central bank"),
    ("GHS", "10", "12.7", "central bank"),
    ("GIP", "1", "0.87", "peg GBP"),
    ("GMD", "100", "84", "central bank"),
    ("GNF", "10000", "10100", "central bank"),
    ("GTQ", "10", "8.9", "central bank"),
    ("GYD", "200", "243", "central bank"),
    ("HKD", "10", "9.05", "ECB"),
    ("HNL", "20", "30.5", "central bank"),
    ("HTG", "200", "152", "central bank"),
    ("HUF", "500", "388", "ECB"),
    ("IDR", "20000", "19200", "ECB"),
    ("ILS", "5", "3.8", "ECB"),
    ("INR", "100", "102", "ECB"),
    ("IQD", "2000", "1520", "central bank"),
    ("IRR", "50000", "49000", "central bank official; market far higher"),
    ("ISK", "200", "144", "ECB"),
    ("JMD", "200", "186", "central bank"),
    ("JOD", "1", "0.823", "peg USD 0.709"),
    ("JPY", "200", "175", "ECB"),
    ("KES", "200", "150", "central bank"),
    ("KGS", "100", "101", "central bank"),
    ("KHR", "5000", "4650", "central bank"),
    ("KMF", "500", "491.96775", "peg EUR"),
    ("KPW", "1000", "1040", "official USD 900"),
    ("KRW", "2000", "1650", "ECB"),
    ("KWD", "0.5", "0.356", "central bank"),
    ("KYD", "1", "0.967", "peg USD 0.833"),
    ("KZT", "500", "610", "central bank"),
    ("LAK", "20000", "25000", "central bank"),
    ("LBP", "100000", "103800", "central bank"),
    ("LKR", "500", "350", "central bank"),
    ("LRD", "200", "210", "central bank"),
    ("LSL", "20", "20.2", "peg ZAR"),
    ("LYD", "5", "6.3", "central bank"),
    ("MAD", "10", "10.7", "central bank"),
    ("MDL", "20", "19.7", "central bank"),
    ("MGA", "5000", "5200", "central bank"),
    ("MKD", "50", "61.5", "central bank"),
    ("MMK", "2000", "2440", "central bank official"),
    ("MNT", "5000", "4150", "central bank"),
    ("MOP", "10", "9.3", "peg HKD"),
    ("MRU", "50", "46", "central bank"),
    ("MUR", "50", "53", "central bank"),
    ("MVR", "20", "17.9", "central bank"),
    ("MWK", "2000", "2030", "central bank"),
    ("MXN", "20", "21.5", "ECB"),
    ("MXV", "2", "2.5", "index unit, about 8.5 MXN"),
    ("MYR", "5", "4.9", "ECB"),
    ("MZN", "100", "74", "central bank"),
    ("NAD", "20", "20.2", "peg ZAR"),
    ("NGN", "2000", "1700", "central bank"),
    ("NIO", "50", "42.5", "central bank"),
    ("NOK", "10", "11.7", "ECB"),
    ("NPR", "200", "163", "peg INR"),
    ("NZD", "2", "2.0", "ECB"),
    ("OMR", "0.5", "0.446", "peg USD 0.3845"),
    ("PAB", "1", "1.16", "peg USD 1"),
    ("PEN", "5", "3.95", "central bank"),
    ("PGK", "5", "4.9", "central bank"),
    ("PHP", "50", "67", "ECB"),
    ("PKR", "500", "328", "central bank"),
    ("PLN", "5", "4.25", "ECB"),
    ("PYG", "10000", "8300", "central bank"),
    ("QAR", "5", "4.22", "peg USD 3.64"),
    ("RON", "5", "5.08", "ECB"),
    ("RSD", "100", "117.2", "central bank"),
    ("RUB", "100", "93", "central bank"),
    ("RWF", "2000", "1680", "central bank"),
    ("SAR", "5", "4.35", "peg USD 3.75"),
    ("SBD", "10", "9.5", "central bank"),
    ("SCR", "20", "16.5", "central bank"),
    ("SDG", "500", "700", "central bank official; market far higher"),
    ("SEK", "10", "11.0", "ECB"),
    ("SGD", "2", "1.50", "ECB"),
    ("SHP", "1", "0.87", "peg GBP"),
    ("SLE", "20", "26", "central bank"),
    ("SOS", "500", "663", "central bank"),
    ("SRD", "50", "45", "central bank"),
    ("SSP", "5000", "5500", "central bank"),
    ("STN", "20", "24.5", "peg EUR"),
    ("SVC", "10", "10.15", "peg USD 8.75"),
    ("SYP", "10000", "12800", "central bank, before the 2026 redenomination"),
    ("SZL", "20", "20.2", "peg ZAR"),
    ("THB", "50", "37.5", "ECB"),
    ("TJS", "10", "10.8", "central bank"),
    ("TMT", "5", "4.06", "peg USD 3.5"),
    ("TND", "5", "3.4", "central bank"),
    ("TOP", "2", "2.75", "central bank"),
    ("TRY", "50", "48.5", "ECB"),
    ("TTD", "10", "7.87", "central bank"),
    ("TWD", "50", "35.5", "central bank"),
    ("TZS", "2000", "2850", "central bank"),
    ("UAH", "50", "48.5", "central bank"),
    ("UGX", "5000", "4050", "central bank"),
    ("USD", "1", "1.16", "ECB"),
    ("USN", "1", "1.16", "same as USD"),
    ("UYI", "10", "7.3", "index unit, about 6.3 UYU"),
    ("UYU", "50", "46.5", "central bank"),
    ("UYW", "20", "25.8", "index unit, about 1.8 UYU"),
    ("UZS", "10000", "14000", "central bank"),
    ("VED", "200", "310", "central bank, falling fast"),
    ("VES", "200", "310", "central bank, falling fast"),
    ("VND", "20000", "30500", "central bank"),
    ("VUV", "100", "138", "central bank"),
    ("WST", "2", "3.15", "central bank"),
    ("XAD", "0.2", "0.28", "Arab Monetary Fund unit, 3 SDR"),
    ("XAF", "500", "655.957", "peg EUR"),
    ("XCD", "2", "3.13", "peg USD 2.7"),
    ("XCG", "2", "2.08", "peg USD 1.79"),
    ("XOF", "500", "655.957", "peg EUR"),
    ("XPF", "100", "119.33174", "peg EUR"),
    ("YER", "2000", "1850", "central bank in Aden"),
    ("ZAR", "20", "20.2", "ECB"),
    ("ZMW", "20", "26", "central bank"),
    ("ZWG", "20", "31", "central bank"),
)
"""(ISO 4217 code, 1-2-5 factor, units per euro in 2025/2026, source of that rate)."""

SCALE: Mapping[str, Fraction] = MappingProxyType(
    {code: Fraction(factor) for code, factor, _rate, _source in RATES}
)
"""The magnitude factor of each currency: how many of its major units stand for one euro."""

_TEXT: Mapping[str, str] = MappingProxyType({code: factor for code, factor, *_ in RATES})


class Scale(NamedTuple):
    """A currency's factor, as a fraction and as written in the table ("0.5"), and whether it
    came from the table (False: the factor-1 fallback)."""

    factor: Fraction
    text: str
    listed: bool


def scale_factor(code: str) -> Scale:
    """The factor for `code`; an unlisted code is not an error (the defaults must never stop a
    terminal from starting) but gets factor 1, marked as not listed."""
    factor = SCALE.get(code)
    if factor is None:
        return Scale(Fraction(1), "1", listed=False)
    return Scale(factor, _TEXT[code], listed=True)
