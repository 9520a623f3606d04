"""PO → MO compilation in pure Python (what GNU `msgfmt` does), so a fresh checkout needs no
build step: catalogs are compiled in memory when no up-to-date .mo file sits beside them.

The parser follows the PO format as gettext writes it: `msgctxt`, `msgid`, `msgid_plural`,
`msgstr` / `msgstr[N]`, continued strings on following lines, `#,` flags (fuzzy entries are
skipped, as msgfmt does by default), other comments ignored.
"""

from __future__ import annotations

import ast
import struct
from dataclasses import dataclass, field

from terminal.i18n.errors import CatalogSyntaxError

_KEYWORDS = ("msgctxt", "msgid_plural", "msgid", "msgstr")


@dataclass(slots=True)
class _Entry:
    ctxt: str | None = None
    msgid: str | None = None
    plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    fuzzy: bool = False


def parse_po(text: str, source: str = "<po>") -> dict[str, str]:
    """Messages of a PO file as MO keys → values (context and plural forms joined by NUL/EOT).

    Raises `CatalogSyntaxError` naming the line of the first problem.
    """
    messages: dict[str, str] = {}
    entry = _Entry()
    current: tuple[str, int] | None = None
    flags_fuzzy = False

    def finish(lineno: int) -> None:
        nonlocal entry
        if entry.msgid is not None:
            if not entry.msgstr:
                raise CatalogSyntaxError(source, lineno, "msgid without msgstr")
            if not entry.fuzzy or entry.msgid == "":
                key = entry.msgid
                if entry.plural is not None:
                    key += "\0" + entry.plural
                if entry.ctxt is not None:
                    key = entry.ctxt + "\x04" + key
                count = max(entry.msgstr) + 1
                value = "\0".join(entry.msgstr.get(i, "") for i in range(count))
                if value.replace("\0", "") or entry.msgid == "":
                    messages[key] = value
        elif entry.ctxt is not None or entry.msgstr:
            raise CatalogSyntaxError(source, lineno, "msgstr or msgctxt without msgid")
        entry = _Entry()

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("#,") and "fuzzy" in line:
                flags_fuzzy = True
            continue
        if line.startswith('"'):
            if current is None:
                raise CatalogSyntaxError(source, lineno, "text outside of a msgid or msgstr")
            _append(entry, current, _string(line, source, lineno))
            continue
        keyword, _, rest = line.partition(" ")
        index = 0
        if keyword.startswith("msgstr[") and keyword.endswith("]"):
            number = keyword[7:-1]
            if not number.isdigit():
                raise CatalogSyntaxError(source, lineno, f"bad plural index {keyword!r}")
            index, keyword = int(number), "msgstr"
        if keyword not in _KEYWORDS:
            raise CatalogSyntaxError(source, lineno, f"unknown keyword {keyword!r}")
        if keyword in ("msgctxt", "msgid"):
            if entry.msgstr:
                finish(lineno)
            if keyword == "msgctxt" and (entry.msgid is not None or entry.ctxt is not None):
                raise CatalogSyntaxError(source, lineno, "msgctxt inside an entry")
            if keyword == "msgid" and entry.msgid is not None:
                raise CatalogSyntaxError(source, lineno, "msgid twice in one entry")
            if entry.msgid is None and entry.ctxt is None:
                entry.fuzzy, flags_fuzzy = flags_fuzzy, False
        value = _string(rest.strip(), source, lineno)
        if keyword == "msgctxt":
            entry.ctxt = value
        elif keyword == "msgid":
            entry.msgid = value
        elif keyword == "msgid_plural":
            entry.plural = value
        else:
            if entry.msgid is None:
                raise CatalogSyntaxError(source, lineno, "msgstr without msgid")
            entry.msgstr[index] = value
        current = (keyword, index)
    finish(len(text.splitlines()) + 1)
    return messages


def _append(entry: _Entry, current: tuple[str, int], text: str) -> None:
    keyword, index = current
    if keyword == "msgctxt":
        entry.ctxt = (entry.ctxt or "") + text
    elif keyword == "msgid":
        entry.msgid = (entry.msgid or "") + text
    elif keyword == "msgid_plural":
        entry.plural = (entry.plural or "") + text
    else:
        entry.msgstr[index] = entry.msgstr.get(index, "") + text


def _string(token: str, source: str, lineno: int) -> str:
    if len(token) < 2 or not token.startswith('"') or not token.endswith('"'):
        raise CatalogSyntaxError(source, lineno, "expected a string in double quotes")
    try:
        value = ast.literal_eval(token)
    except (ValueError, SyntaxError):
        raise CatalogSyntaxError(source, lineno, "malformed string") from None
    if not isinstance(value, str):
        raise CatalogSyntaxError(source, lineno, "malformed string")
    return value


def mo_bytes(messages: dict[str, str]) -> bytes:
    """The GNU MO file (little endian, revision 0) for these messages, keys sorted."""
    keys = sorted(messages)
    ids = b""
    strs = b""
    offsets: list[tuple[int, int, int, int]] = []
    for key in keys:
        key_bytes = key.encode("utf-8")
        value_bytes = messages[key].encode("utf-8")
        offsets.append((len(ids), len(key_bytes), len(strs), len(value_bytes)))
        ids += key_bytes + b"\0"
        strs += value_bytes + b"\0"
    count = len(keys)
    key_start = 7 * 4 + 16 * count
    value_start = key_start + len(ids)
    key_table: list[int] = []
    value_table: list[int] = []
    for id_off, id_len, str_off, str_len in offsets:
        key_table += [id_len, id_off + key_start]
        value_table += [str_len, str_off + value_start]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, count, 7 * 4, 7 * 4 + count * 8, 0, 0)
    tables = struct.pack(f"{len(key_table)}i", *key_table)
    tables += struct.pack(f"{len(value_table)}i", *value_table)
    return header + tables + ids + strs
