"""Base classes for the operator screens: each reaches its app, typed, as `self.papp`."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from textual.screen import ModalScreen, Screen

from terminal.ui.running_app import running_app

if TYPE_CHECKING:
    from terminal.ui.app import PostermApp

ResultT = TypeVar("ResultT")


class PostermScreen(Screen[ResultT]):
    """A full screen (sale, history, end of day) of the operator screen."""

    @property
    def papp(self) -> PostermApp:
        """The running app: its engine, settings and status."""
        return running_app(self)


class PostermModalScreen(ModalScreen[ResultT]):
    """A dialog over another screen (transaction, supervisor, technician)."""

    @property
    def papp(self) -> PostermApp:
        """The running app: its engine, settings and status."""
        return running_app(self)
