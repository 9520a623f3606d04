"""The one place that opens concrete devices from settings (ARCHITECTURE.md).

One module per device kind (`nfc.py`, `camera.py`, `printer.py`, ...); the rest of `terminal/`
only sees the protocols of `drivers.base`.
"""
