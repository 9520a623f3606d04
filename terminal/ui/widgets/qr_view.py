"""A merchant-presented QR code as a widget, drawn in half blocks at its natural size."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style
from textual.widget import Widget

from terminal.ui.qr_art import fitted_lines

GROUND = Style(color="black", bgcolor="white")


class QrArt:
    """A Rich renderable of fixed size (one character per module across, two down)."""

    def __init__(self, payload: str, max_lines: int) -> None:
        self.lines = fitted_lines(payload, max_lines)

    @property
    def width(self) -> int:
        return len(self.lines[0]) if self.lines else 0

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines:
            yield Segment(line, GROUND)
            yield Segment.line()


class QrView(Widget):
    DEFAULT_CSS = """
    QrView { width: auto; height: auto; }
    """

    def __init__(self, payload: str, max_lines: int = 23, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.art = QrArt(payload, max_lines)

    def render(self) -> QrArt:
        return self.art

    def get_content_width(self, container: object, viewport: object) -> int:
        return self.art.width

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return len(self.art.lines)
