"""Amount entry the way a cash register does it: digits fill in from the right, so the operator
never types a decimal separator and can never type more decimals than the currency has."""

from __future__ import annotations

from dataclasses import dataclass

from terminal.money import Amount, Currency

MAX_DIGITS = 9
"""Up to 9,999,999.99 in a 2-decimal currency: far above any contactless limit."""


@dataclass(slots=True)
class AmountEntry:
    """The digits typed so far for one sale."""

    currency: Currency
    digits: str = ""

    def press(self, key: str) -> bool:
        """Add a digit ("0"-"9") or "00"; False when it would not fit or is not a digit."""
        if not key.isdigit() or not key.isascii():
            return False
        if not self.digits and set(key) == {"0"}:
            return True  # leading zeros change nothing
        if len(self.digits) + len(key) > MAX_DIGITS:
            return False
        self.digits += key
        return True

    def backspace(self) -> None:
        self.digits = self.digits[:-1]

    def clear(self) -> None:
        self.digits = ""

    @property
    def amount(self) -> Amount:
        return Amount(int(self.digits or "0"), self.currency)

    def set(self, amount: Amount) -> None:
        self.digits = str(amount.minor) if amount.minor > 0 else ""
