"""The running `PostermApp`, typed, for any screen or widget of the operator screen.

Textual types `node.app` as `App[object]`; everything in `terminal/ui` runs inside a
`PostermApp` (built by `terminal.ui.app.build_app`), so the one cast lives here instead of a
silenced type check wherever a screen reads the engine or the settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from textual.message_pump import MessagePump

    from terminal.ui.app import PostermApp


def running_app(node: MessagePump) -> PostermApp:
    """The `PostermApp` that `node` (a screen or widget) belongs to."""
    return cast("PostermApp", node.app)
