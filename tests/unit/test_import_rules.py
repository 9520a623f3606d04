"""ARCHITECTURE.md's import rules, checked on the source text of every module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for name in imported_modules(path):
            if name.split(".")[0] in forbidden or name in forbidden:
                found.append(f"{path.relative_to(REPO)} imports {name}")
    return found


def test_drivers_never_import_the_application_or_ui_or_http() -> None:
    assert offenders("drivers", ("terminal", "textual", "httpx")) == []


def test_payment_core_never_imports_textual() -> None:
    assert offenders("terminal/payment", ("textual",)) == []


def test_the_operator_screen_never_imports_the_command_line() -> None:
    found = []
    for path in sorted((REPO / "terminal" / "ui").rglob("*.py")):
        for name in imported_modules(path):
            if name == "terminal.cli" or name.startswith("terminal.cli."):
                found.append(f"{path.relative_to(REPO)} imports {name}")
    assert found == []


@pytest.mark.parametrize("folder", ["terminal/emv", "terminal/qr"])
def test_codecs_never_import_hardware_libraries(folder: str) -> None:
    assert offenders(folder, ("nfc", "cv2", "serial", "textual", "httpx")) == []


def test_application_uses_concrete_drivers_only_in_wiring() -> None:
    found = []
    for path in sorted((REPO / "terminal").rglob("*.py")):
        if "wiring" in path.parts:
            continue
        for name in imported_modules(path):
            if name.startswith("drivers.") and name != "drivers.base":
                found.append(f"{path.relative_to(REPO)} imports {name}")
    assert found == []


def test_core_imports_without_the_ui() -> None:
    code = (
        "import sys, terminal.settings, terminal.money, terminal.cli\n"
        "import importlib.util\n"
        "if importlib.util.find_spec('terminal.payment'):\n"
        "    import terminal.payment\n"
        "assert 'textual' not in sys.modules, sorted(m for m in sys.modules if 'textual' in m)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
