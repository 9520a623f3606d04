"""posterm: a point-of-sale payment terminal (NFC, QR both ways, signed bank protocol, offline)."""

__version__ = "0.1.0"
