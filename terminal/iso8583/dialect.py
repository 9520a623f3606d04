"""A bank's ISO 8583 dialect, read from a TOML file (config/iso8583/<name>.toml) and turned
into the field specification pyiso8583 encodes and decodes with.

A field's `format` is written as the bank's own documentation writes it: "n6", "ans40",
"b8" (fixed), "LLVAR n..19", "LLLVAR b..255" (variable, ASCII length prefix). Nothing here
knows about payments: `messages.py` fills the fields.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from terminal.iso8583.errors import DialectError
from terminal.settings.gateway_section import is_dialect_path

DIALECT_FOLDER = Path(__file__).resolve().parents[2] / "config" / "iso8583"
DEFAULT_DIALECT = "posterm-1987"

Kind = Literal["n", "an", "ans", "z", "b"]
_FORMAT = re.compile(r"^(?:(LLVAR|LLLVAR)\s+(n|an|ans|z|b)\.\.(\d+)|(n|an|ans|z|b)(\d+))$")
_PREFIX_DIGITS = {"LLVAR": 2, "LLLVAR": 3}


@dataclass(frozen=True, slots=True)
class FieldFormat:
    """One data element: its type, its (maximum) length and its length prefix digits."""

    number: int
    kind: Kind
    length: int
    """The fixed length, or the maximum of a variable field (bytes for `b`)."""
    prefix: int = 0
    """ASCII digits of the length prefix: 0 fixed, 2 LLVAR, 3 LLLVAR."""
    meaning: str = ""

    @property
    def fixed(self) -> bool:
        return self.prefix == 0

    def pyiso8583(self) -> dict[str, Any]:
        return {
            "data_enc": "b" if self.kind == "b" else "ascii",
            "len_enc": "ascii",
            "len_type": self.prefix,
            "max_len": self.length,
            "desc": self.meaning or f"field {self.number}",
        }


@dataclass(frozen=True, slots=True)
class Dialect:
    """The fields and framing of one host's ISO 8583."""

    name: str
    fields: Mapping[int, FieldFormat]
    length_prefix: int = 2
    source: str = ""
    spec: Mapping[str, Any] = field(default_factory=dict)
    """pyiso8583's specification dict, built from `fields`."""


def parse_format(number: int, text: str, meaning: str = "") -> FieldFormat:
    """ "n6" or "LLVAR n..19" as a `FieldFormat`; ValueError says what is wrong."""
    found = _FORMAT.match(text.strip())
    if not found:
        raise ValueError(f'format {text!r} is not like "n6", "ans40" or "LLVAR n..19"')
    if found[1]:
        kind, length, prefix = found[2], int(found[3]), _PREFIX_DIGITS[found[1]]
        if length >= 10**prefix:
            raise ValueError(f"{found[1]} cannot hold {length} (at most {10**prefix - 1})")
    else:
        kind, length, prefix = found[4], int(found[5]), 0
    if length < 1:
        raise ValueError("a length of 0")
    return FieldFormat(number, kind, length, prefix, meaning)  # type: ignore[arg-type]


def dialect_path(name_or_path: str) -> Path:
    """`[iso8583] dialect`: a name of config/iso8583/, or a path to a .toml file (the
    settings made a relative one absolute, from the folder of the site file that set it)."""
    if is_dialect_path(name_or_path):
        return Path(name_or_path)
    return DIALECT_FOLDER / f"{name_or_path}.toml"


def load_dialect(name_or_path: str = DEFAULT_DIALECT) -> Dialect:
    """Read and check a dialect file. Raises DialectError naming the file and the field."""
    path = dialect_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DialectError(
            f"The ISO 8583 dialect {name_or_path!r} does not exist ({path}): set "
            "[iso8583] dialect to a file of config/iso8583 or a path."
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise DialectError(f"The ISO 8583 dialect file {path} cannot be read: {error}.") from None
    return dialect_of(data, str(path))


def dialect_of(data: Mapping[str, Any], source: str = "") -> Dialect:
    """A dialect from its parsed TOML; see the default file for the keys."""
    where = source or "the dialect"

    def fail(what: str) -> DialectError:
        return DialectError(f"The ISO 8583 dialect {where} is not usable: {what}.")

    prefix = data.get("length_prefix", 2)
    if prefix not in (2, 4):
        raise fail("length_prefix must be 2 or 4 (bytes, big-endian)")
    if data.get("mti", "ascii") != "ascii":
        raise fail('only mti = "ascii" (4 digits) is supported')
    if data.get("bitmap", "binary") != "binary":
        raise fail('only bitmap = "binary" is supported')
    table = data.get("fields")
    if not isinstance(table, Mapping) or not table:
        raise fail("it has no [fields] table")
    fields: dict[int, FieldFormat] = {}
    for key, entry in table.items():
        if not str(key).isdigit() or not 2 <= int(key) <= 128 or int(key) == 65:
            raise fail(f"field {key!r} is not a data element number from 2 to 128 (not 65)")
        if not isinstance(entry, Mapping) or not isinstance(entry.get("format"), str):
            raise fail(f'field {key} needs format = "..."')
        try:
            fields[int(key)] = parse_format(
                int(key), entry["format"], str(entry.get("meaning", ""))
            )
        except ValueError as error:
            raise fail(f"field {key}: {error}") from None
    for mac in (64, 128):
        if mac in fields and (
            fields[mac].kind != "b" or fields[mac].length != 8 or not fields[mac].fixed
        ):
            raise fail(f'field {mac} carries the MAC and must be format = "b8"')
    spec: dict[str, Any] = {
        "h": {"data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": 0},
        "t": {"data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": 4},
        "p": {"data_enc": "b", "len_enc": "ascii", "len_type": 0, "max_len": 8},
        "1": {"data_enc": "b", "len_enc": "ascii", "len_type": 0, "max_len": 8},
    }
    spec.update({str(number): f.pyiso8583() for number, f in sorted(fields.items())})
    return Dialect(
        str(data.get("name", "")) or where,
        MappingProxyType(dict(sorted(fields.items()))),
        prefix,
        source,
        MappingProxyType(spec),
    )
