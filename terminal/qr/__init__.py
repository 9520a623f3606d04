"""QR payment codes, both ways: EMVCo merchant-presented payloads (read, validate, build, with
CRC-16/CCITT-FALSE), consumer-presented codes and simulator wallet codes. Pure functions only:
no camera, no screen (ARCHITECTURE.md)."""
