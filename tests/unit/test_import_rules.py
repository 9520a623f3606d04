"""ARCHITECTURE.md's import rules (docs/architecture.md lists them), checked on the source text
of every module and, where only running code can tell, in a fresh interpreter's `sys.modules`.

- `drivers` never imports `terminal`, `simulators`, `textual` or `httpx`.
- `terminal` imports concrete drivers only in `terminal/wiring/`, and `simulators` only inside
  the functions of the commands that start them (`terminal/cli/`), never at module level.
- `simulators` may import `terminal` and `drivers`, never `tests` or `bench`; no import circle
  inside it.
- `bench` imports no test module (the simulators it needs live in `simulators`).
- Every module of `terminal` outside `terminal/ui` imports without Textual.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Import:
    module: str
    """The module named (for `from a.b import c`: a.b.c when that is a module, else a.b)."""
    line: int
    lazy: bool
    """Inside a function body: runs only when the function is called."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    base = REPO.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(path: Path) -> list[Import]:
    """Every import statement of `path`, relative ones resolved, with where it runs."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend(Import(a.name, child.lineno, lazy) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = package[: len(package) - child.level + 1] if child.level else []
                origin = ".".join([*base, *([child.module] if child.module else [])])
                for alias in child.names:
                    candidate = f"{origin}.{alias.name}"
                    name = candidate if is_module(candidate) else origin
                    found.append(Import(name, child.lineno, lazy))
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def sources(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sources(folder):
        for item in imports_of(path):
            if any(item.module == name or item.module.startswith(f"{name}.") for name in forbidden):
                found.append(f"{path.relative_to(REPO)}:{item.line} imports {item.module}")
    return found


def test_drivers_never_import_the_application_simulators_ui_or_http() -> None:
    assert offenders("drivers", ("terminal", "simulators", "textual", "httpx")) == []


def test_payment_core_never_imports_textual() -> None:
    assert offenders("terminal/payment", ("textual",)) == []


def test_the_operator_screen_never_imports_the_command_line() -> None:
    assert offenders("terminal/ui", ("terminal.cli",)) == []


@pytest.mark.parametrize("folder", ["terminal/emv", "terminal/qr"])
def test_codecs_never_import_hardware_libraries_or_simulators(folder: str) -> None:
    forbidden = ("nfc", "cv2", "serial", "textual", "httpx", "simulators", "pyemv")
    assert offenders(folder, forbidden) == []


def test_application_uses_concrete_drivers_only_in_wiring() -> None:
    found = []
    for path in sources("terminal"):
        if "wiring" in path.relative_to(REPO).parts:
            continue
        for item in imports_of(path):
            if item.module.startswith("drivers.") and item.module != "drivers.base":
                found.append(f"{path.relative_to(REPO)}:{item.line} imports {item.module}")
    assert found == []


def test_application_imports_simulators_only_inside_the_commands_that_start_them() -> None:
    found = []
    for path in sources("terminal"):
        where = path.relative_to(REPO)
        for item in imports_of(path):
            if item.module.split(".")[0] not in ("simulators", "pyemv"):
                continue
            if not item.lazy or where.parts[:2] != ("terminal", "cli"):
                found.append(f"{where}:{item.line} imports {item.module}")
    assert found == []


def test_simulators_import_no_tests_or_benchmarks() -> None:
    assert offenders("simulators", ("tests", "bench")) == []


def test_benchmarks_import_no_test_module() -> None:
    """Neither `tests.…` nor a test helper put on sys.path by hand (`payment_cards`)."""
    test_modules = {path.stem for path in sources("tests")} - {"__init__"}
    found = [
        line
        for line in offenders("bench", ("tests", *sorted(test_modules)))
        if not line.endswith((" imports bench", " imports harness"))
    ]
    assert found == []
    assert [p.name for p in sources("bench") if "sys.path" in p.read_text(encoding="utf-8")] == []


def test_no_import_circle_inside_simulators() -> None:
    """Counting every import (module level, in functions, for type checking only)."""
    graph: dict[str, set[str]] = {}
    for path in sources("simulators"):
        targets = {i.module for i in imports_of(path) if i.module.startswith("simulators")}
        graph[module_name(path)] = targets - {module_name(path)}
    circles: list[list[str]] = []
    done: set[str] = set()

    def walk(node: str, trail: list[str]) -> None:
        if node in trail:
            circles.append([*trail[trail.index(node) :], node])
            return
        if node in done:
            return
        for target in sorted(graph.get(node, ())):
            walk(target, [*trail, node])
        done.add(node)

    for start in sorted(graph):
        walk(start, [])
    assert circles == []


def test_the_rule_reader_sees_lazy_and_module_level_imports(tmp_path: Path) -> None:
    """The checks above rest on this reader: an import in a function is lazy, others not."""
    sample = REPO / "terminal" / "cli" / "gateway_sim.py"
    seen = {(i.module, i.lazy) for i in imports_of(sample)}
    assert ("simulators.bank", True) in seen
    assert ("terminal.errors", False) in seen


def core_modules() -> list[str]:
    """Every module of `terminal` outside the Textual UI (found on disk, so a new or renamed
    module is checked too)."""
    names = []
    for path in sources("terminal"):
        where = path.relative_to(REPO).parts
        if where[:2] == ("terminal", "ui") or path.name == "__main__.py":
            continue
        names.append(module_name(path))
    return names


def loaded_while_importing(modules: list[str], prefixes: tuple[str, ...]) -> dict[str, str]:
    """In a fresh interpreter, import each module in turn; {module: first unwanted module}."""
    code = (
        "import importlib, json, sys\n"
        f"prefixes = {prefixes!r}\n"
        "found = {}\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    before = set(sys.modules)\n"
        "    importlib.import_module(name)\n"
        "    new = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in prefixes)\n"
        "    if new:\n"
        "        found[name] = new[0]\n"
        "print(json.dumps(found))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(modules)],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    found: dict[str, str] = json.loads(done.stdout)
    return found


def test_core_modules_import_without_the_ui() -> None:
    modules = core_modules()
    assert "terminal.payment.engine" in modules and "terminal.cli" in modules
    assert loaded_while_importing(modules, ("textual",)) == {}


def test_no_terminal_module_loads_a_simulator_or_pyemv_when_imported() -> None:
    modules = [*core_modules(), "terminal.ui.app"]
    assert loaded_while_importing(modules, ("simulators", "pyemv")) == {}


def test_sale_on_a_real_reader_loads_no_simulator(tmp_path: Path) -> None:
    """`posterm pay` with a USB reader path (none plugged in): the operator's sentence, and
    neither the simulated card, the test cards nor pyemv were loaded on the way."""
    config = tmp_path / "posterm.toml"
    config.write_text(
        '[terminal]\nterminal_id = "REAL0001"\nmerchant_id = "MERCHANT0000001"\n'
        f'data_dir = "{tmp_path / "data"}"\n'
        '[gateway]\nurl = "https://127.0.0.1:9"\n'
        '[devices]\nnfc = "usb:072f:2200"\nprinter = "none"\ncamera = "none"\n',
        encoding="utf-8",
    )
    code = (
        "import json, sys\n"
        "from terminal.cli import main\n"
        "status = main(['--config', sys.argv[1], 'pay', '--amount', '1.00', '--json'])\n"
        "unwanted = sorted(m for m in sys.modules if m.split('.')[0] in ('simulators', 'pyemv'))\n"
        "print(json.dumps({'status': status, 'unwanted': unwanted}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stdout.splitlines()[-1])
    assert report == {"status": 3, "unwanted": []}, done.stderr
    assert "No NFC reader found at 'usb:072f:2200'" in done.stderr


@pytest.mark.parametrize(
    "folder",
    [
        "terminal/payment",
        "terminal/ecr",
        "terminal/security",
        "terminal/gateway",
        "terminal/iso8583",
    ],
)
def test_the_core_and_the_doors_never_import_the_fleet(folder: str) -> None:
    """They raise security alarms through `terminal.security.alarms`; the fleet listens."""
    assert offenders(folder, ("terminal.fleet", "paho")) == []
