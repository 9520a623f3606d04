"""Receipts: what acquirers require on a slip, laid out for a printer or the screen."""

from terminal.receipts.layout import receipt_lines, receipt_text
from terminal.receipts.model import Copy, Receipt, receipt_for

__all__ = ["Copy", "Receipt", "receipt_for", "receipt_lines", "receipt_text"]
