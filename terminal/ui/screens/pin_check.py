"""The PIN check every guarded screen shares: the app's `PinGuard` (argon2, the attempt counter
shared with the CLI, lockout, audit), run off the event loop, its refusal as a sentence."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from terminal.i18n import _
from terminal.security.pins import PinError, PinLocked, PinRejected, Role

if TYPE_CHECKING:
    from terminal.ui.app import PostermApp


async def pin_refusal(
    app: PostermApp, role: Role, pin: str, pin_hash: str, *, purpose: str, wrong: str
) -> str | None:
    """None if `pin` is right; else what to tell the operator (`wrong` for a wrong PIN)."""
    try:
        await asyncio.to_thread(app.pin_guard.check, role, pin, pin_hash, purpose=purpose)
    except PinLocked as error:
        return _("Too many wrong PINs: try again in {seconds} s.").format(
            seconds=max(1, round(error.retry_after_s))
        )
    except PinRejected:
        return wrong
    except PinError as error:
        return error.sentence
    return None
