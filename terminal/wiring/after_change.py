"""The device checks a running terminal makes right after it took new settings from the fleet:
if one fails, the bundle is rolled back (terminal/fleet/remote_config.py) and the operator is
told why.

Only what a fleet setting can break is checked, and only when the bundle touched it, so that a
device broken before (a printer out of paper) does not block an unrelated change:

- `qr.decoder` changed and a camera is configured: the new decoder must start (pyzbar needs
  the system library libzbar0, which a shop terminal may not have);
- `nfc` changed and a reader is configured: the contactless kernel must accept the limits;
- every device that looked "ok" before the change must still look "ok" after it.
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.base import DriverError
from drivers.qr import open_decoder
from terminal.emv.kernel import KernelConfig
from terminal.settings import Settings
from terminal.wiring.presence import DevicesLook


def probe_after_change(
    before: Settings,
    after: Settings,
    looked_before: Mapping[str, str],
    look: DevicesLook | None,
) -> str:
    """The first check that fails with the new settings, as a sentence; "" when all pass.
    Blocking (opens a decoder, looks at device nodes): run it off the event loop."""
    if after.devices.camera not in ("none", "") and after.qr.decoder != before.qr.decoder:
        try:
            open_decoder(after.qr.decoder)
        except DriverError as error:
            return f"the camera's QR decoder {after.qr.decoder!r} cannot start: {error.sentence}"
    if after.devices.nfc != "none" and after.nfc != before.nfc:
        try:
            KernelConfig.from_settings(after)
        except (ValueError, TypeError) as error:
            return f"the card reader's kernel does not take the new limits ({error})"
    if look is not None:
        now = look()
        for kind, state in looked_before.items():
            if state == "ok" and now.get(kind, "none") != "ok":
                return f"the {kind} is {now.get(kind)} after the change (it was ok before)"
    return ""
