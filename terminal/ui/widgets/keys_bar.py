"""The line of keys above the status bar: what the operator can press on this screen."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from terminal.i18n import _


def keys_text(keys: list[tuple[str, str]]) -> Text:
    """ "Enter Tap  S Scan ...": key in reverse video, description translated."""
    text = Text()
    for key, description in keys:
        text.append(f" {key} ", style="reverse")
        text.append(f" {_(description)} ")
    return text


class KeysBar(Static):
    DEFAULT_CSS = """
    KeysBar { height: 1; width: 100%; }
    """

    def __init__(self, keys: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(keys_text(keys), **kwargs)  # type: ignore[arg-type]
        self.keys = keys

    def set_keys(self, keys: list[tuple[str, str]]) -> None:
        self.keys = keys
        self.update(keys_text(keys))
