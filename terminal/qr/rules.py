"""EMVCo merchant-presented field rules, checked on a read payload and reported by ID.

Each check returns `Problem`s instead of raising, so the strict validator can list every broken
rule at once and the lenient reader can still show what the code says. Problems real-world
codes commonly carry (over-long name or city, emoji, a mandatory tag left out, reserved IDs)
are marked `tolerated`: the lenient reader reports them as warnings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from terminal.iso_codes import UnknownCountry, UnknownCurrency, country, currency
from terminal.qr.data_objects import is_ascii_digits
from terminal.qr.errors import Problem

Value = str | Mapping[str, str]
Fields = Mapping[str, Value]

MAX_PAYLOAD_LENGTH = 512
"""EMVCo's limit for a whole merchant-presented payload, in characters."""

_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_PERCENT = re.compile(r"[0-9]{1,2}(?:\.[0-9]{1,2})?")
# The EMVCo common character set: printable ASCII (alternate-language text goes in ID 64).
_COMMON = re.compile(r"[\x20-\x7e]*")

_MANDATORY = {
    "00": "payload format indicator",
    "52": "merchant category code",
    "53": "transaction currency",
    "58": "country code",
    "59": "merchant name",
    "60": "merchant city",
}
_ADDITIONAL_NAMES = {
    "01": "bill number",
    "02": "mobile number",
    "03": "store label",
    "04": "loyalty number",
    "05": "reference label",
    "06": "customer label",
    "07": "terminal label",
    "08": "purpose of transaction",
    "09": "additional consumer data request",
}


def is_template_id(field_id: str) -> bool:
    """Merchant account templates 26-51, additional data 62, language 64, unreserved 80-99."""
    if not is_ascii_digits(field_id) or len(field_id) != 2:
        return False
    number = int(field_id)
    return 26 <= number <= 51 or number in (62, 64) or 80 <= number <= 99


def check_fields(fields: Fields, first_id: str | None, payload_length: int) -> list[Problem]:
    """Every broken rule in `fields` (top-level IDs in payload order, templates as mappings)."""
    problems: list[Problem] = []
    add = problems.append
    if payload_length > MAX_PAYLOAD_LENGTH:
        add(Problem("", f"payload is {payload_length} characters, over EMVCo's 512", True))
    for field_id, name in _MANDATORY.items():
        if field_id not in fields:
            add(Problem(field_id, f"missing (mandatory {name})", True))
    if "00" in fields:
        if first_id != "00":
            add(Problem("00", "not the first field"))
        if fields["00"] != "01":
            add(Problem("00", f"must be 01, not {_show(fields['00'])}"))
    if not any(_is_account_id(field_id) for field_id in fields):
        add(Problem("26", "missing (mandatory merchant account information, IDs 02-51)", True))
    for field_id, value in fields.items():
        problems.extend(_check_one(field_id, value, fields))
    return problems


def _check_one(field_id: str, value: Value, fields: Fields) -> list[Problem]:
    if isinstance(value, str):
        text_problems = _text_problems(field_id, value)
    else:
        text_problems = []
    number = int(field_id)
    if field_id == "01":
        return text_problems + _point_of_initiation(value)
    if 26 <= number <= 51:
        return text_problems + _account_template(field_id, value)
    if field_id == "52":
        return text_problems + _mcc(value)
    if field_id == "53":
        return text_problems + _currency(value)
    if field_id == "54":
        return text_problems + _amount("54", value, fields)
    if field_id in ("55", "56", "57"):
        return text_problems + _tip(field_id, value, fields)
    if field_id == "58":
        return text_problems + _country(value)
    if field_id == "59":
        return text_problems + _limited("59", value, 25, tolerated=True)
    if field_id == "60":
        return text_problems + _limited("60", value, 15, tolerated=True)
    if field_id == "61":
        return text_problems + _limited("61", value, 10, tolerated=False)
    if field_id == "62":
        return text_problems + _additional_data(value)
    if field_id == "64":
        return text_problems + _language_template(value)
    if 65 <= number <= 79:
        return [*text_problems, Problem(field_id, "reserved for future use by EMVCo", True)]
    if 80 <= number <= 99 and isinstance(value, Mapping) and "00" not in value:
        return [*text_problems, Problem(f"{field_id}/00", "missing (globally unique ID)", True)]
    return text_problems


def _text_problems(field_id: str, value: str) -> list[Problem]:
    problems = []
    if value == "":
        problems.append(Problem(field_id, "empty value", True))
    if field_id not in ("63",) and not _COMMON.fullmatch(value):
        problems.append(
            Problem(field_id, "characters outside the EMVCo common character set", True)
        )
    return problems


def _point_of_initiation(value: Value) -> list[Problem]:
    if value in ("11", "12"):
        return []
    return [Problem("01", f"must be 11 (static) or 12 (dynamic), not {_show(value)}")]


def _is_account_id(field_id: str) -> bool:
    return is_ascii_digits(field_id) and 2 <= int(field_id) <= 51


def _account_template(field_id: str, value: Value) -> list[Problem]:
    if isinstance(value, str):
        return [Problem(field_id, "not a template of ID-length-value objects")]
    problems = _sub_text(field_id, value)
    guid = value.get("00")
    if guid is None:
        problems.append(Problem(f"{field_id}/00", "missing (globally unique identifier)", True))
    elif len(guid) > 32:
        problems.append(Problem(f"{field_id}/00", "longer than 32 characters"))
    return problems


def _mcc(value: Value) -> list[Problem]:
    if isinstance(value, str) and len(value) == 4 and is_ascii_digits(value):
        return []
    return [Problem("52", f"must be 4 digits, not {_show(value)}")]


def _currency(value: Value) -> list[Problem]:
    if not (isinstance(value, str) and len(value) == 3 and is_ascii_digits(value)):
        return [Problem("53", f"must be a 3-digit ISO 4217 numeric code, not {_show(value)}")]
    try:
        currency(value)
    except UnknownCurrency:
        return [Problem("53", f"unknown currency {value}")]
    return []


def _amount(field_id: str, value: Value, fields: Fields) -> list[Problem]:
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        return [Problem(field_id, f"not a decimal amount like 23.72: {_show(value)}")]
    problems = []
    if len(value) > 13:
        problems.append(Problem(field_id, "longer than 13 characters"))
    decimals = len(value.partition(".")[2])
    code = fields.get("53")
    if isinstance(code, str):
        try:
            cur = currency(code)
        except (UnknownCurrency, TypeError):
            return problems
        if decimals > cur.exponent:
            problems.append(
                Problem(
                    field_id,
                    f"{decimals} decimals, but {cur.code} ({cur.numeric}) has {cur.exponent}",
                )
            )
    return problems


def _tip(field_id: str, value: Value, fields: Fields) -> list[Problem]:
    indicator = fields.get("55")
    if field_id == "55":
        if value not in ("01", "02", "03"):
            return [Problem("55", f"must be 01, 02 or 03, not {_show(value)}")]
        if value == "02" and "56" not in fields:
            return [Problem("56", "missing (55 = 02 asks for a fixed convenience fee)")]
        if value == "03" and "57" not in fields:
            return [Problem("57", "missing (55 = 03 asks for a percentage convenience fee)")]
        return []
    if field_id == "56":
        if indicator != "02":
            return [Problem("56", "present without 55 = 02")]
        return _amount("56", value, fields)
    if indicator != "03":
        return [Problem("57", "present without 55 = 03")]
    if not isinstance(value, str) or not _PERCENT.fullmatch(value):
        return [Problem("57", f"not a percentage between 00.01 and 99.99: {_show(value)}")]
    if not value.strip("0."):
        return [Problem("57", "a percentage of zero")]
    return []


def _country(value: Value) -> list[Problem]:
    if isinstance(value, str) and len(value) == 2 and value.isascii() and value.isupper():
        try:
            country(value)
            return []
        except UnknownCountry:
            return [Problem("58", f"unknown country code {value}")]
    return [Problem("58", f"must be an ISO 3166 alpha-2 code such as BR, not {_show(value)}")]


def _limited(field_id: str, value: Value, limit: int, *, tolerated: bool) -> list[Problem]:
    if isinstance(value, str) and len(value) > limit:
        return [Problem(field_id, f"longer than {limit} characters", tolerated)]
    return []


def _additional_data(value: Value) -> list[Problem]:
    if isinstance(value, str):
        return [Problem("62", "not a template of ID-length-value objects")]
    problems = _sub_text("62", value)
    for sub_id, sub in value.items():
        path = f"62/{sub_id}"
        if sub_id in _ADDITIONAL_NAMES and len(sub) > 25:
            problems.append(Problem(path, "longer than 25 characters"))
        if sub_id == "00" or 10 <= int(sub_id) <= 49:
            problems.append(Problem(path, "reserved for future use by EMVCo", True))
        if sub_id == "09" and (set(sub) - set("AME") or len(set(sub)) != len(sub)):
            problems.append(Problem(path, "must list A, M and/or E, each at most once"))
    return problems


def _language_template(value: Value) -> list[Problem]:
    if isinstance(value, str):
        return [Problem("64", "not a template of ID-length-value objects")]
    problems = []
    language = value.get("00")
    if language is None:
        problems.append(Problem("64/00", "missing (language preference)", True))
    elif len(language) != 2:
        problems.append(Problem("64/00", f"must be 2 letters, not {_show(language)}"))
    name = value.get("01")
    if name is None:
        problems.append(Problem("64/01", "missing (merchant name, alternate language)", True))
    elif len(name) > 25:
        problems.append(Problem("64/01", "longer than 25 characters", True))
    city = value.get("02")
    if city is not None and len(city) > 15:
        problems.append(Problem("64/02", "longer than 15 characters", True))
    return problems


def _sub_text(parent: str, value: Mapping[str, str]) -> list[Problem]:
    problems = []
    for sub_id, sub in value.items():
        if sub == "":
            problems.append(Problem(f"{parent}/{sub_id}", "empty value", True))
        elif not _COMMON.fullmatch(sub):
            problems.append(
                Problem(
                    f"{parent}/{sub_id}", "characters outside the EMVCo common character set", True
                )
            )
    return problems


def _show(value: Value) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 20 else value[:20] + "...")
    return "a template"
