"""The bottom line fits the screen's width, and trouble stays readable when it is crowded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rich.cells import cell_len

from terminal.i18n import set_language
from terminal.money import Amount
from terminal.payment.api import QueueStatus
from terminal.ui.app import StatusSnapshot
from terminal.ui.widgets.status_bar import status_text

NOW = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
QUIET = StatusSnapshot(
    True,
    QueueStatus(0, Amount.of(0, "EUR"), None),
    {"reader": "ready", "camera": "none", "printer": "ok"},
    "POSTERM1",
)
CROWDED = StatusSnapshot(
    False,
    QueueStatus(12, Amount.of(123456, "EUR"), NOW - timedelta(hours=3), last_error="timeout"),
    {"reader": "ready", "camera": "ready", "printer": "paper out"},
    "POSTERM1",
)


def test_a_quiet_terminal_shows_everything() -> None:
    shown = status_text(QUIET, NOW).plain
    assert shown == " Bank: online │ Queue: empty │ NFC ok Cam - Printer ok │ POSTERM1"


def test_a_crowded_line_drops_the_id_and_what_is_fine_but_keeps_the_trouble() -> None:
    full = status_text(CROWDED, NOW, width=200).plain
    assert "POSTERM1" in full and "oldest 3h" in full and "NFC ok" in full
    shown = status_text(CROWDED, NOW, width=80).plain
    assert cell_len(shown) <= 80
    assert "Bank: OFFLINE" in shown and "Queue: 12 · EUR 1,234.56" in shown
    assert "Printer NO PAPER" in shown
    assert "POSTERM1" not in shown and "NFC ok" not in shown


@pytest.mark.parametrize("width", [60, 80])
def test_chinese_wide_characters_count_twice_and_still_fit(width: int) -> None:
    set_language("zh")
    shown = status_text(CROWDED, NOW, width=width).plain
    assert cell_len(shown) <= width
    assert "待发送：12 笔" in shown


def test_an_untrusted_link_is_a_security_alarm_not_an_outage() -> None:
    """A certificate that fails verification is shown as such, even on a crowded line."""
    alarmed = StatusSnapshot(
        False,
        CROWDED.queue,
        CROWDED.devices,
        "POSTERM1",
        link_alarm="https://127.0.0.1:8443: certificate not trusted",
    )
    shown = status_text(alarmed, NOW, width=80).plain
    assert cell_len(shown) <= 80
    assert "Bank: UNTRUSTED - security alarm" in shown and "OFFLINE" not in shown.split("│")[0]
    assert "Queue: 12" in shown and "Printer NO PAPER" in shown
