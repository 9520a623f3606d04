"""The `CodePresenter` the engine is built with: shows merchant-presented codes on the screen.

The engine is built before the screen exists, so the presenter is created first, handed to
`build_engine(..., code_presenter=...)`, and attached to the app when it starts.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from terminal.money import Amount

if TYPE_CHECKING:
    from terminal.ui.app import PostermApp


class ScreenCodePresenter:
    """`terminal.payment.api.CodePresenter` for the operator screen: the app draws the code.

    The CLI's presenter, which writes the code as text, is `terminal.wiring.camera`'s
    `TextCodePresenter`.
    """

    def __init__(self) -> None:
        self._app: PostermApp | None = None

    def attach(self, app: PostermApp) -> None:
        self._app = app

    def show(self, payload: str, amount: Amount, expires_at: datetime) -> None:
        from terminal.ui.messages import CodeShown

        if self._app is not None:
            self._app.deliver(CodeShown(payload, expires_at.isoformat()))

    def clear(self) -> None:
        from terminal.ui.messages import CodeCleared

        if self._app is not None:
            self._app.deliver(CodeCleared())
