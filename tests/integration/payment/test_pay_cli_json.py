"""`posterm pay --json` as a till reads it: every way out prints exactly one object on stdout,
with every key of the contract, the requested entry method and the amount as far as it could be
read. (The cancelled and approved paths run against the simulator in tests/integration.)"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

KEYS = ["id", "result", "code", "auth_code", "amount", "entry", "masked_pan", "message"]


def pay(config: Path | str, *args: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-m", "terminal", "--config", str(config), "pay", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path(config).parent)},
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 1, f"stdout must be one JSON object, got {done.stdout!r}"
    answer = json.loads(lines[0])
    assert list(answer) == KEYS
    assert list(answer["amount"]) == ["value", "currency"]
    assert answer["result"] == "error" and answer["message"]
    return done.returncode, answer, done.stderr


@pytest.fixture
def no_devices(write_config: Callable[[str], Path], tmp_path: Path) -> Path:
    data = tmp_path / "data"
    return write_config(f'[terminal]\ndata_dir = "{data}"\n[devices]\nnfc = "none"\n')


@pytest.mark.parametrize(
    ("args", "entry", "amount", "says"),
    [
        ([], "nfc", {"value": None, "currency": "EUR"}, "--amount"),
        (["--amount", "12.345"], "nfc", {"value": None, "currency": "EUR"}, "decimal"),
        (
            ["--amount", "1.00", "--currency", "USD"],
            "nfc",
            {"value": 100, "currency": "USD"},
            "EUR",
        ),
        (
            ["--amount", "3.50", "--method", "qr-show", "--timeout", "soon"],
            "qr_mpm",
            {"value": 350, "currency": "EUR"},
            "--timeout",
        ),
        (["--amount", "3.50", "--method", "cash"], "", {"value": 350, "currency": "EUR"}, "cash"),
        (
            ["--amount", "2.00", "--method", "qr-scan", "--tip", "1"],
            "qr_cpm",
            {"value": 200, "currency": "EUR"},
            "--tip",
        ),
        (
            ["--amount", "2.00", "--reference", "x" * 65],
            "nfc",
            {"value": 200, "currency": "EUR"},
            "64",
        ),
    ],
)
def test_usage_errors_answer_with_the_request(
    no_devices: Path, args: list[str], entry: str, amount: dict[str, Any], says: str
) -> None:
    status, answer, stderr = pay(no_devices, *args, "--json")
    assert status == 2
    assert answer["entry"] == entry
    assert answer["amount"] == amount
    assert says in answer["message"]
    assert "posterm" in stderr and says in stderr  # the person still reads why, on stderr


@pytest.mark.parametrize(
    ("method", "entry"), [("nfc", "nfc"), ("qr-scan", "qr_cpm"), ("qr-show", "qr_mpm")]
)
def test_config_errors_keep_entry_and_what_could_be_read(
    write_config: Callable[[str], Path], method: str, entry: str
) -> None:
    broken = write_config('[terminal]\ncurrency = "EURO"\n')
    status, answer, _ = pay(broken, "--amount", "9.99", "--method", method, "--json")
    assert status == 2
    assert answer["entry"] == entry
    assert answer["amount"] == {"value": None, "currency": None}  # currency unknown: no value
    named = pay(broken, "--amount", "9.99", "--currency", "GBP", "--method", method, "--json")
    assert named[0] == 2 and named[1]["amount"] == {"value": 999, "currency": "GBP"}


@pytest.mark.parametrize(("method", "entry"), [("nfc", "nfc"), ("qr-scan", "qr_cpm")])
def test_a_missing_device_is_exit_3_with_entry_and_amount(
    no_devices: Path, method: str, entry: str
) -> None:
    status, answer, _ = pay(no_devices, "--amount", "12.34", "--method", method, "--json")
    assert status == 3
    assert (answer["entry"], answer["amount"]) == (entry, {"value": 1234, "currency": "EUR"})
    assert "configured" in answer["message"]
