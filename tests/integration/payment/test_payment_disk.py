"""A full disk refuses the sale before the card is read, with a sentence the operator can act on.

Uses a real, small tmpfs as the data folder (needs root to mount; skipped otherwise).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from payment_terminal import Terminal, pay

from simulators.card.tap import TappedCard
from terminal.payment.api import Result


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_full_disk_refuses_the_sale_before_reading_the_card(
    terminal: Callable[..., Terminal], small_disk: Path
) -> None:
    term = terminal(data_dir=str(small_disk / "data"))
    capture = TappedCard("visa-credit")
    engine = term.engine(capture)
    await engine.start(forward=False)
    try:
        first = await pay(engine, "5.00")
        assert first.result is Result.APPROVED, first.message
        reads = capture.reads
        filler = small_disk / "filler"
        with filler.open("wb") as handle:
            try:
                while True:
                    handle.write(b"\0" * 65536)
            except OSError:
                pass
        refused = await pay(engine, "6.00")
        assert refused.result is Result.ERROR and refused.id == ""
        assert "full" in refused.message and "before reading the card" in refused.message
        assert capture.reads == reads, "the card must not be read"
        assert [e["id"] for e in term.ledger()] == [first.id]
        filler.unlink()
        again = await pay(engine, "6.00")
        assert again.result is Result.APPROVED, again.message
    finally:
        await engine.stop()
