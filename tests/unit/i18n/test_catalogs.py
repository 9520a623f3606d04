"""Translation catalogs: the in-memory msgfmt, and completeness of the Chinese catalog."""

from __future__ import annotations

import ast
import gettext
import io
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from terminal.i18n import LOCALE_DIR, catalog_path, translator
from terminal.i18n.catalog import mo_bytes, parse_po
from terminal.i18n.errors import CatalogSyntaxError
from terminal.money import Amount

REPO = Path(__file__).resolve().parents[3]

SAMPLE = r"""
msgid ""
msgstr "Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=1; plural=0;\n"

#: somewhere.py:1
msgid "Present card"
msgstr "请出示卡片"

msgctxt "button"
msgid "Cancel"
msgstr "取消"

msgid "one sale"
msgid_plural "%d sales"
msgstr[0] "%d 笔交易"

#, fuzzy
msgid "Unsure"
msgstr "不确定"

msgid "Long "
"text"
msgstr "长"
"文本"
"""


def test_compiled_catalog_translates_like_gettext_expects() -> None:
    catalog = gettext.GNUTranslations(io.BytesIO(mo_bytes(parse_po(SAMPLE))))
    assert catalog.gettext("Present card") == "请出示卡片"
    assert catalog.pgettext("button", "Cancel") == "取消"
    assert catalog.ngettext("one sale", "%d sales", 3) == "%d 笔交易"
    assert catalog.gettext("Long text") == "长文本"
    assert catalog.gettext("Unsure") == "Unsure"  # fuzzy entries are not used


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext not installed")
def test_same_bytes_as_gnu_msgfmt(tmp_path: Path) -> None:
    po = catalog_path("zh")
    subprocess.run(["msgfmt", "-o", str(tmp_path / "gnu.mo"), str(po)], check=True)
    gnu = gettext.GNUTranslations(io.BytesIO((tmp_path / "gnu.mo").read_bytes()))
    ours = gettext.GNUTranslations(io.BytesIO(mo_bytes(parse_po(po.read_text("utf-8")))))
    assert gnu._catalog == ours._catalog  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('msgstr "x"', "msgstr without msgid"),
        ('msgid "a"\n', "msgid without msgstr"),
        ('msgid "a"\nmsgid "b"\nmsgstr ""', "msgid twice"),
        ('msgid a\nmsgstr ""', "double quotes"),
        ('msgid "a"\nmsgstr[x] ""', "plural index"),
        ('"floating"', "outside"),
        ('msgfoo "a"', "unknown keyword"),
    ],
)
def test_malformed_catalog_names_the_line(text: str, problem: str) -> None:
    with pytest.raises(CatalogSyntaxError) as caught:
        parse_po(text, "bad.po")
    assert problem in caught.value.sentence
    assert "bad.po, line" in caught.value.sentence


@given(st.text(max_size=200))
def test_any_text_gives_messages_or_a_typed_error(text: str) -> None:
    try:
        messages = parse_po(text)
    except CatalogSyntaxError:
        return
    gettext.GNUTranslations(io.BytesIO(mo_bytes(messages)))


@given(st.dictionaries(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20)))
def test_mo_round_trip(messages: dict[str, str]) -> None:
    messages = {k: v for k, v in messages.items() if "\0" not in k + v and "\x04" not in k}
    messages[""] = "Content-Type: text/plain; charset=UTF-8\n"
    catalog = gettext.GNUTranslations(io.BytesIO(mo_bytes(messages)))
    for key, value in messages.items():
        if key:
            assert catalog.gettext(key) == value


def marked_texts() -> set[str]:
    """Every literal passed to _() or N_() in the application."""
    found: set[str] = set()
    for path in (REPO / "terminal").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_", "N_")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def test_every_operator_text_has_a_chinese_translation() -> None:
    catalog = parse_po(catalog_path("zh").read_text("utf-8"))
    missing = sorted(text for text in marked_texts() if text not in catalog)
    assert missing == []


def test_chinese_catalog_has_no_stale_entries() -> None:
    catalog = parse_po(catalog_path("zh").read_text("utf-8"))
    marked = marked_texts()
    stale = sorted(key for key in catalog if key and key not in marked)
    assert stale == []


def test_amounts_and_dates_in_the_language_format() -> None:
    moment = datetime(2026, 11, 22, 13, 5, 9, tzinfo=UTC)
    zh, en = translator("zh"), translator("en")
    assert zh.date_time(moment, UTC) == "2026年11月22日 13:05:09"
    assert en.date_time(moment, UTC) == "22 Nov 2026 13:05:09"
    assert en.amount(Amount.of(123456, "EUR")) == "EUR 1,234.56"
    assert en.amount(Amount.of(1234, "JPY")) == "JPY 1,234"
    assert zh.gettext("Approved") == "批准"


def test_a_fresh_checkout_needs_no_compiled_files() -> None:
    assert list(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))
    # The .mo files are build output (see .gitignore); the .po alone must be enough.
    tracked = subprocess.run(
        ["git", "ls-files", "*.mo"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert tracked == ""
