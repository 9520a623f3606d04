"""A production install (posterm without its `sim` extra) takes payments and never loads a
simulator or pyemv.

The wheel is built from this checkout (offline: no build isolation) and installed with
`--no-deps` into a fresh venv. Its third-party dependencies are the dev venv's, linked in one
by one except pyemv (the only package of the `sim` extra) and this checkout's editable-install
hooks, so `terminal` comes from the wheel and `import pyemv` fails there as on a terminal.
`posterm pay` then runs in that venv against the gateway simulator (a dev-venv process on
loopback) with real-device configurations, and a small wrapper writes `sys.modules` at exit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest

from simulators.bank.local import GatewaySim

REPO = Path(__file__).resolve().parents[2]
SIM_EXTRA_ONLY = ("pyemv",)
"""The packages only the `sim` extra brings (pyproject.toml)."""

WRAPPER = """\
import json, sys
from pathlib import Path

status = None
try:
    from terminal.cli import main

    status = main(sys.argv[2:])
except SystemExit as exit:
    status = exit.code
finally:
    Path(sys.argv[1]).write_text(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def _copy_checkout(target: Path) -> None:
    """The files git would ship (tracked and new, not ignored): no stale build/ folder."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            check=True,
            capture_output=True,
        ).stdout.split(b"\0")
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (a source archive)
        skip = shutil.ignore_patterns(".*", "build", "var", "__pycache__", "*.egg-info")
        shutil.copytree(REPO, target, ignore=skip, dirs_exist_ok=True)
        return
    for name in filter(None, (entry.decode() for entry in listed)):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _purelib(python: Path) -> Path:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return Path(
        subprocess.run(
            [python, "-c", code], check=True, capture_output=True, text=True
        ).stdout.strip()
    )


def _link_dependencies(site_packages: Path) -> None:
    """The dev venv's packages, less pyemv and this checkout's own editable install."""
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        name = entry.name
        if name.startswith((*SIM_EXTRA_ONLY, "__editable__", "posterm-", "__pycache__")):
            continue
        if not (site_packages / name).exists():
            (site_packages / name).symlink_to(entry)


@pytest.fixture(scope="session")
def production(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A fresh venv with posterm's wheel and no `sim` extra: its python, the wheel, a workdir."""
    root = tmp_path_factory.mktemp("production-install")
    checkout, wheels, venv = root / "checkout", root / "wheels", root / "venv"
    _copy_checkout(checkout)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", wheels, checkout],
        check=True,
        capture_output=True,
    )
    wheel = next(wheels.glob("posterm-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", python, "install", "--no-deps", "--no-index", wheel],
        check=True,
        capture_output=True,
    )
    _link_dependencies(_purelib(python))
    (root / "wrap.py").write_text(WRAPPER, encoding="utf-8")
    return {"python": python, "wheel": wheel, "root": root}


def _run(production: dict[str, Path], *argv: str, **popen: Any) -> subprocess.Popen[str]:
    """`posterm ARGV` in the production venv, away from the checkout (cwd is not on the path)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "POSTERM_"))}
    (production["root"] / "modules.json").unlink(missing_ok=True)
    return subprocess.Popen(
        [str(production["python"]), "wrap.py", "modules.json", *argv],
        cwd=production["root"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def _loaded(production: dict[str, Path]) -> tuple[int, list[str]]:
    """The CLI's exit status and the simulator or pyemv modules loaded in the child."""
    data = json.loads((production["root"] / "modules.json").read_text(encoding="utf-8"))
    unwanted = [m for m in data["modules"] if m.split(".")[0] in ("simulators", *SIM_EXTRA_ONLY)]
    return data["status"], unwanted


def test_the_wheel_needs_pyemv_only_for_the_sim_extra(production: dict[str, Path]) -> None:
    with zipfile.ZipFile(production["wheel"]) as wheel:
        metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        requires = [
            line.split(":", 1)[1].strip()
            for line in wheel.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
    pyemv = [line for line in requires if line.startswith("pyemv")]
    assert pyemv and all('extra == "sim"' in line for line in pyemv), requires


def test_production_venv_runs_the_wheel_without_pyemv(production: dict[str, Path]) -> None:
    code = (
        "import importlib.util, terminal; "
        "print(terminal.__file__); print(importlib.util.find_spec('pyemv') is None)"
    )
    shown = subprocess.run(
        [production["python"], "-c", code],
        cwd=production["root"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert shown[0].startswith(str(production["root"] / "venv")), shown
    assert shown[1] == "True"


def test_a_simulator_command_names_the_sim_extra(production: dict[str, Path]) -> None:
    child = _run(production, "gateway-sim", "--listen", "127.0.0.1:1", "--data", "gw")
    _out, err = child.communicate(timeout=60)
    assert child.returncode == 0  # the wrapper's own exit; the CLI's status is in the dump
    status, _ = _loaded(production)
    assert status == 2
    assert "pip install 'posterm[sim]'" in err
    assert "Traceback" not in err
    assert not (production["root"] / "gw").exists()  # nothing started, nothing written


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Any:
    sim = GatewaySim(tmp_path_factory.mktemp("production-bank") / "sim")
    try:
        yield sim
    finally:
        sim.stop()


def test_card_sale_on_a_missing_usb_reader_loads_no_simulator(
    production: dict[str, Path], bank: GatewaySim, tmp_path: Path
) -> None:
    config = bank.terminal_config(
        tmp_path, terminal_id="PRODNFC1", devices={"nfc": "usb:072f:2200", "printer": "none"}
    )
    child = _run(production, "--config", str(config), "pay", "--amount", "1.00", "--json")
    out, err = child.communicate(timeout=120)
    status, unwanted = _loaded(production)
    assert unwanted == []
    assert status == 3
    answer = json.loads(out)
    assert answer["result"] == "error"
    assert answer["message"].startswith("No NFC reader found at 'usb:072f:2200'")
    assert "Traceback" not in err
    assert bank.ledger("PRODNFC1") == []  # nothing was sent, nothing charged


def test_qr_sale_approved_by_the_bank_loads_no_simulator(
    production: dict[str, Path], bank: GatewaySim, tmp_path: Path
) -> None:
    """The terminal shows its code; the customer's wallet (the simulator's admin API) pays it."""
    config = bank.terminal_config(
        tmp_path, terminal_id="PRODQR01", devices={"nfc": "none", "printer": "none"}
    )
    child = _run(
        production,
        "--config",
        str(config),
        "pay",
        "--amount",
        "2.50",
        "--method",
        "qr-show",
        "--json",
    )
    assert child.stderr is not None
    paid = None
    for line in child.stderr:
        if line.startswith("Payment code: "):
            paid = bank.wallet_pay(payload=line.removeprefix("Payment code: ").strip())
            break
    out, err = child.communicate(timeout=120)
    status, unwanted = _loaded(production)
    assert unwanted == []
    assert paid is not None and paid["result"] == "approved", err
    assert status == 0
    answer = json.loads(out)
    assert (answer["result"], answer["amount"]) == ("approved", {"value": 250, "currency": "EUR"})
    booked = [e for e in bank.ledger("PRODQR01") if e["result"] == "approved"]
    assert [e["amount"] for e in booked] == [{"value": 250, "currency": "EUR"}]
