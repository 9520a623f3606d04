"""Merchant-presented codes (EMVCo QRCPS-MPM): read leniently, validate strictly, build.

`read_merchant_code` is the one reader: it raises `PayloadSyntaxError` only when the
ID-length-value structure itself is broken, and otherwise returns a `MerchantCode` with the
fields, whether the CRC holds, and every broken rule. `parse_merchant_code` turns that into a
yes/no for payment use: a wrong or missing CRC is always refused; `strict=True` also refuses
any broken rule. `build_merchant_code` writes a payload and proves it by reading it back
strictly, so the terminal never shows a code it would itself refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from terminal.iso_codes import Currency, UnknownCurrency, currency
from terminal.money import Amount
from terminal.qr.crc import CRC_PREFIX, crc_hex, with_crc
from terminal.qr.data_objects import DataObject, read_objects, write_object
from terminal.qr.errors import BuildError, CrcError, PayloadSyntaxError, Problem, RuleError
from terminal.qr.rules import Value, check_fields, is_template_id

_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class MerchantCode:
    """What a merchant-presented payload says, and everything wrong with it."""

    text: str
    fields: Mapping[str, Value]
    """Top-level IDs in payload order; templates as {sub-ID: value}; ID 63 included."""
    crc_ok: bool
    """ID 63 is present, last, and matches the payload (in either hex case)."""
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()
    """How the lenient reader dealt with the text (e.g. surrounding whitespace removed)."""

    def errors(self, *, strict: bool) -> list[str]:
        """Broken rules to report as errors: all of them when strict, else the untolerated."""
        return [str(p) for p in self.problems if strict or not p.tolerated]

    def warnings(self, *, strict: bool) -> list[str]:
        """Tolerated bends and reader notes (lenient mode); only notes when strict."""
        bends = [] if strict else [str(p) for p in self.problems if p.tolerated]
        return bends + list(self.notes)

    @property
    def dynamic(self) -> bool:
        """Point of initiation 12: a code for one payment."""
        return self.fields.get("01") == "12"

    @property
    def currency(self) -> Currency | None:
        code = self.fields.get("53")
        if not isinstance(code, str):
            return None
        try:
            return currency(code)
        except UnknownCurrency:
            return None

    @property
    def amount(self) -> Amount | None:
        """Tag 54 in the currency of tag 53, or None when absent or unreadable."""
        text = self.fields.get("54")
        cur = self.currency
        if not isinstance(text, str) or cur is None:
            return None
        try:
            return amount_from_tag(text, cur)
        except BuildError:
            return None

    @property
    def merchant_name(self) -> str:
        return self._text("59")

    @property
    def merchant_city(self) -> str:
        return self._text("60")

    @property
    def reference_label(self) -> str:
        """62/05: the payment intent or invoice the code is for."""
        return self._sub("62", "05")

    @property
    def terminal_label(self) -> str:
        """62/07: the terminal that showed the code."""
        return self._sub("62", "07")

    def _text(self, field_id: str) -> str:
        value = self.fields.get(field_id, "")
        return value if isinstance(value, str) else ""

    def _sub(self, field_id: str, sub_id: str) -> str:
        value = self.fields.get(field_id)
        return value.get(sub_id, "") if isinstance(value, Mapping) else ""


def looks_like_merchant_code(text: str) -> bool:
    """A payload format indicator up front, as every EMVCo merchant-presented code has."""
    return text.strip().startswith("000201")


def read_merchant_code(text: str) -> MerchantCode:
    """Read `text` as far as its structure allows (see module doc); never raises for rules."""
    notes: list[str] = []
    stripped = text.strip()
    if stripped != text:
        notes.append("surrounding whitespace removed")
    if not stripped:
        raise PayloadSyntaxError("the code is empty", position=0)
    objects = read_objects(stripped)
    problems: list[Problem] = []
    fields: dict[str, Value] = {}
    seen: set[str] = set()
    for obj in objects:
        if obj.id in seen:
            problems.append(Problem(obj.id, "appears more than once"))
            notes.append(f"{obj.id}: kept the first of several values")
            continue
        seen.add(obj.id)
        if is_template_id(obj.id):
            fields[obj.id] = _template(obj.id, obj.value, obj.position + 4, problems, notes)
        else:
            fields[obj.id] = obj.value
    crc_ok = _check_crc(stripped, objects, problems)
    first = objects[0].id if objects else None
    rule_fields = {k: v for k, v in fields.items() if k != "63"}
    problems.extend(check_fields(rule_fields, first, len(stripped)))
    return MerchantCode(stripped, fields, crc_ok, tuple(problems), tuple(notes))


def parse_merchant_code(text: str, *, strict: bool = False) -> MerchantCode:
    """A code fit to act on: raises `CrcError` for a missing or wrong CRC, and `RuleError`
    for broken rules (only the untolerated ones unless `strict`)."""
    code = read_merchant_code(text)
    if not code.crc_ok:
        crc_problems = [p for p in code.problems if p.field_id == "63"]
        detail = "; ".join(str(p) for p in crc_problems) or "63: checksum does not match"
        raise CrcError(
            f"the QR code failed its checksum ({detail}): it is damaged or altered; "
            "ask for the code to be shown again"
        )
    broken = [p for p in code.problems if strict or not p.tolerated]
    if strict and broken:
        raise RuleError(broken)
    return code


def _template(
    field_id: str, value: str, offset: int, problems: list[Problem], notes: list[str]
) -> Value:
    try:
        inner = read_objects(value, offset=offset, parent=field_id)
    except PayloadSyntaxError as error:
        problems.append(Problem(field_id, f"not a valid template ({error.message})"))
        notes.append(f"{field_id}: kept as plain text")
        return value
    sub: dict[str, str] = {}
    for obj in inner:
        if obj.id in sub:
            problems.append(Problem(f"{field_id}/{obj.id}", "appears more than once"))
            notes.append(f"{field_id}/{obj.id}: kept the first of several values")
            continue
        sub[obj.id] = obj.value
    return sub


def _check_crc(text: str, objects: list[DataObject], problems: list[Problem]) -> bool:
    crcs = [obj for obj in objects if obj.id == "63"]
    if not crcs:
        problems.append(Problem("63", "missing: without a checksum the code cannot be trusted"))
        return False
    crc = crcs[0]
    ok = True
    if crc is not objects[-1]:
        problems.append(Problem("63", "not the last field: what follows is not checksummed"))
        ok = False
    if len(crc.value) != 4 or not set(crc.value) <= _HEX:
        problems.append(Problem("63", f"must be 4 hex digits, not {crc.value!r}"))
        return False
    expected = crc_hex(text[: crc.position + len(CRC_PREFIX)])
    if crc.value.upper() != expected:
        problems.append(
            Problem("63", f"checksum {crc.value} does not match the payload (computed {expected})")
        )
        return False
    if crc.value != crc.value.upper():
        problems.append(Problem("63", "checksum written in lower-case hex", True))
    return ok


# --- building -------------------------------------------------------------------------


def amount_from_tag(text: str, cur: Currency) -> Amount:
    """Tag 54/56 text ("23.72") as an `Amount`; refuses more decimals than the currency has."""
    whole, dot, fraction = text.partition(".")
    if not whole.isascii() or not whole.isdigit() or (dot and not fraction.isdigit()):
        raise BuildError(f"not a decimal amount like 23.72: {text!r}")
    if len(fraction) > cur.exponent:
        raise BuildError(
            f"{text!r} has {len(fraction)} decimals, but {cur.code} has {cur.exponent}"
        )
    return Amount(int(whole + fraction.ljust(cur.exponent, "0")), cur)


def amount_tag(amount: Amount) -> str:
    """An `Amount` as tag 54 writes it: a point and exactly the currency's decimals."""
    if amount.minor <= 0:
        raise BuildError(f"a QR code needs an amount above zero, not {amount}")
    text = amount.format_plain()
    if len(text) > 13:
        raise BuildError(f"{amount} is too large for a QR code (tag 54 holds 13 characters)")
    return text


def encode_fields(fields: Mapping[str, Value]) -> str:
    """Write fields in the given order (templates from mappings) and append ID 63."""
    parts = []
    for field_id, value in fields.items():
        if field_id == "63":
            raise BuildError("63 is written by the encoder: leave it out")
        if isinstance(value, Mapping):
            inner = "".join(write_object(sub_id, sub) for sub_id, sub in value.items())
            parts.append(write_object(field_id, inner))
        else:
            parts.append(write_object(field_id, value))
    return with_crc("".join(parts))


@dataclass(frozen=True, slots=True)
class MerchantCodeRequest:
    """What goes into a merchant-presented code the terminal shows."""

    merchant_account: Mapping[str, Mapping[str, str]]
    """Templates 26-51, e.g. {"26": {"00": "com.example.pay", "01": "MERCHANT0000001"}}."""
    mcc: str
    currency: Currency
    country: str
    merchant_name: str
    merchant_city: str
    amount: Amount | None = None
    dynamic: bool = True
    reference_label: str = ""
    terminal_label: str = ""
    postal_code: str = ""
    extra_additional: Mapping[str, str] = field(default_factory=dict)
    """Further 62 sub-fields (e.g. {"01": bill number})."""


def build_merchant_code(request: MerchantCodeRequest) -> str:
    """The payload text; raises `BuildError` naming every rule the values would break."""
    if request.amount is not None and request.amount.currency != request.currency:
        raise BuildError(
            f"amount is in {request.amount.currency.code} but the code is in "
            f"{request.currency.code}"
        )
    if request.dynamic and request.amount is None:
        raise BuildError("a dynamic code needs an amount")
    fields: dict[str, Value] = {"00": "01", "01": "12" if request.dynamic else "11"}
    fields.update(dict(request.merchant_account.items()))
    fields["52"] = request.mcc
    fields["53"] = request.currency.numeric
    if request.amount is not None:
        fields["54"] = amount_tag(request.amount)
    fields["58"] = request.country
    fields["59"] = request.merchant_name
    fields["60"] = request.merchant_city
    if request.postal_code:
        fields["61"] = request.postal_code
    additional = dict(request.extra_additional)
    if request.reference_label:
        additional["05"] = request.reference_label
    if request.terminal_label:
        additional["07"] = request.terminal_label
    if additional:
        fields["62"] = dict(sorted(additional.items()))
    payload = encode_fields(fields)
    code = read_merchant_code(payload)
    if code.problems:
        raise BuildError("cannot make the QR code: " + "; ".join(str(p) for p in code.problems))
    return payload
