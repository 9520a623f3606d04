"""QR decoders behind `drivers.base.QrDecoder`, and the bounded scan over a frame source.

    zxing    zxing-cpp (default: fastest and most reliable on degraded frames, measured in bench/)
    pyzbar   ZBar through pyzbar (needs the system library libzbar0)
    opencv   OpenCV's own QRCodeDetector

`scan_for_code` reads frames until one holds a new code, the time is up (`Timeout` with the
operator's sentence) or the caller cancels (`Cancelled`).
"""

from drivers.qr.decoders import DECODERS, open_decoder, prepare_frame
from drivers.qr.scan import CodeDeduplicator, MultipleCodes, RegionOfInterest, scan_for_code

__all__ = [
    "DECODERS",
    "CodeDeduplicator",
    "MultipleCodes",
    "RegionOfInterest",
    "open_decoder",
    "prepare_frame",
    "scan_for_code",
]
