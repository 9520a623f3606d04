"""`posterm --help` and the simple commands start fast: building the argument parser (which
imports every command module to call its `register`) must not pull in the heavy libraries;
each command imports what it needs inside its handler."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import terminal.cli

REPO = Path(__file__).resolve().parents[3]

HEAVY = [
    "aiohttp",
    "numpy",
    "cv2",
    "textual",
    "nfc",
    "httpx",
    "qrcode",
    "PIL",
    "pydantic",
    "cryptography",
    "serial",
    "escpos",
]
"""Libraries that cost tens to hundreds of milliseconds to import; none is needed to parse."""

PROBE = f"""
import json, sys
from terminal.cli import build_parser
parser = build_parser()
commands = sorted(next(a for a in parser._actions if a.dest == "command").choices)
heavy = sorted(name for name in {HEAVY!r} if name in sys.modules)
print(json.dumps({{"commands": commands, "heavy": heavy}}))
"""


def probe() -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    answer: dict[str, list[str]] = json.loads(done.stdout)
    return answer


def test_building_the_parser_imports_no_heavy_library() -> None:
    assert probe()["heavy"] == []


def test_every_command_module_is_still_found_and_registered() -> None:
    modules = {
        m.name for m in pkgutil.iter_modules(terminal.cli.__path__) if not m.name.startswith("_")
    }
    commands = set(probe()["commands"])
    assert {"pay", "config", "history", "saf", "qr", "sim", "serve", "run"} <= commands
    assert len(commands) >= len(modules)  # a module may add several commands, none is lost
