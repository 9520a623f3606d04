"""Operator texts and receipts in the configured language (gettext catalogs), plus amounts and
dates in that language's format.

English is the source language; other languages have a catalog in
`terminal/i18n/locale/<lang>/LC_MESSAGES/posterm.po`. A compiled `.mo` beside it is used when it
is newer; otherwise the `.po` is compiled in memory, so a fresh checkout works without a build
step (`python -m terminal.i18n` writes the `.mo` files for packaging).

Code marks texts with `_("...")` (translated now, in the active language) or `N_("...")` (marked
for extraction, translated later where it is shown, e.g. key descriptions).
"""

from __future__ import annotations

import gettext as _gettext
import io
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import cache
from pathlib import Path

from terminal.i18n.catalog import mo_bytes, parse_po
from terminal.money import Amount

DOMAIN = "posterm"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "zh")
"""Languages with a complete catalog (English is built in)."""

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class Translator:
    """One language: its catalog and its way of writing amounts and dates."""

    language: str
    catalog: _gettext.NullTranslations

    def gettext(self, message: str) -> str:
        return self.catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.catalog.ngettext(singular, plural, n)

    def amount(self, amount: Amount) -> str:
        """ "EUR 1,234.50" with this language's separators."""
        return amount.format_display(self.language)

    def date_time(self, moment: datetime, tz: tzinfo | None = None) -> str:
        """Local date and time as people of this language write it on a receipt."""
        local = moment.astimezone(tz)
        if self.language == "zh":
            return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M:%S}"
        return f"{local.day:02d} {_MONTHS_EN[local.month - 1]} {local.year} {local:%H:%M:%S}"

    def clock(self, moment: datetime, tz: tzinfo | None = None) -> str:
        return f"{moment.astimezone(tz):%H:%M}"


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translator(language: str) -> Translator:
    """The translator for `language` ("en", "zh"); unknown languages fall back to English."""
    po = catalog_path(language)
    if language == "en" or not po.is_file():
        return Translator("en" if not po.is_file() else language, _gettext.NullTranslations())
    mo = po.with_suffix(".mo")
    if mo.is_file() and mo.stat().st_mtime >= po.stat().st_mtime:
        data = mo.read_bytes()
    else:
        data = mo_bytes(parse_po(po.read_text(encoding="utf-8"), str(po)))
    return Translator(language, _gettext.GNUTranslations(io.BytesIO(data)))


_active: list[Translator] = [translator("en")]


def set_language(language: str) -> Translator:
    """Make `language` the one `_()` translates into (the app does this at start)."""
    _active[0] = translator(language)
    return _active[0]


def active() -> Translator:
    return _active[0]


def _(message: str) -> str:
    """`message` in the active language."""
    return _active[0].gettext(message)


def N_(message: str) -> str:
    """Marks `message` for translation without translating it yet."""
    return message


__all__ = ["LANGUAGES", "N_", "Translator", "_", "active", "set_language", "translator"]
