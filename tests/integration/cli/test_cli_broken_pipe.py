"""A reader that stops reading (`posterm sim card --list | head -1`) ends the command quietly:
no traceback, no "internal error" sentence."""

from __future__ import annotations

import os
import subprocess
import sys


def test_output_into_a_closed_pipe_ends_quietly() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read: the first write fails with EPIPE
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "terminal", "sim", "card", "--list"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert finished.returncode == 141
    assert "internal error" not in finished.stderr
    assert "Traceback" not in finished.stderr
