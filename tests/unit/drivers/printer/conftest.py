"""Every printer a test opened is closed again (the check the receipt tests use)."""

from tests.unit.receipts.conftest import printers_are_closed

__all__ = ["printers_are_closed"]
