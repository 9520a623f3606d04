"""With `[gateway] protocol = "iso8583"` and no `[gateway] url` no link carries QR payments:
both QR methods, the terminal's own code (MPM) included, are refused before anything starts,
with the same sentence, at every door: the CLI (exit 2), the ECR API (400) and the screen."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from terminal.ecr.server import EcrServer
from terminal.settings import Settings, load_settings
from terminal.ui.app import build_app
from tests.conftest import free_port
from tests.ui.helpers import text_of, type_keys
from tests.ui.memory_engine import MemoryEngine

REPO = Path(__file__).resolve().parents[3]
SAYS = "QR payments are not available"
TOKEN = "till-token-0123456789"
ISO_ONLY = {
    "gateway": {"protocol": "iso8583", "url": ""},
    "iso8583": {"host": "127.0.0.1:9", "tls": False},
}


def site_file(tmp_path: Path) -> Path:
    path = tmp_path / "posterm.toml"
    path.write_text(
        f"""
[terminal]
data_dir = "{tmp_path / "data"}"
[gateway]
protocol = "iso8583"
url = ""
[iso8583]
host = "127.0.0.1:9"
tls = false
[devices]
nfc = "none"
""",
        encoding="utf-8",
    )
    return path


def posterm(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "terminal", "--config", str(config), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(config.parent)},
    )


@pytest.mark.parametrize(("method", "entry"), [("qr-show", "qr_mpm"), ("qr-scan", "qr_cpm")])
def test_cli_refuses_qr_up_front_with_exit_2(tmp_path: Path, method: str, entry: str) -> None:
    config = site_file(tmp_path)
    done = posterm(config, "pay", "--amount", "4.00", "--method", method, "--json")
    assert done.returncode == 2, done.stderr
    answer = json.loads(done.stdout)
    assert answer["result"] == "error" and answer["id"] == ""
    assert answer["entry"] == entry
    assert answer["amount"] == {"value": 400, "currency": "EUR"}
    assert answer["message"].startswith(SAYS) and "[gateway] url is empty" in answer["message"]
    assert SAYS in done.stderr
    assert not (tmp_path / "data" / "journal.db").exists()  # nothing journaled, nothing opened


def test_config_check_says_qr_will_be_refused(tmp_path: Path) -> None:
    done = posterm(site_file(tmp_path), "config", "check")
    assert done.returncode == 0, done.stderr
    assert "configuration OK" in done.stderr and SAYS in done.stderr


async def test_ecr_refuses_qr_up_front_with_400(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings.model_validate(
        {
            **ISO_ONLY,
            "terminal": {"data_dir": str(tmp_path / "data")},
            "ecr": {"enabled": True, "listen": f"127.0.0.1:{port}", "token": TOKEN},
        }
    )
    engine = MemoryEngine()
    server = EcrServer(settings, engine)
    await server.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        ) as http:
            for method in ("qr-show", "qr-scan"):
                body = {"amount": {"value": 400, "currency": "EUR"}, "method": method}
                answer = await http.post("/ecr/v1/payments", json=body)
                assert answer.status_code == 400
                error = answer.json()
                assert error["error"] == "method_unavailable", error
                assert SAYS in error["message"]
            assert engine.requests == []  # nothing started
    finally:
        engine.tap()
        await server.stop()


@pytest.mark.parametrize("key", ["q", "s"])
async def test_screen_refuses_qr_up_front(key: str) -> None:
    engine = MemoryEngine()
    app = build_app(Settings.model_validate(ISO_ONLY), engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await type_keys(pilot, "400")
        await pilot.press(key)
        await pilot.pause()
        assert SAYS in text_of(pilot, "#stage")
        assert engine.requests == []


def test_with_a_gateway_url_qr_stays_available(tmp_path: Path) -> None:
    from terminal.payment.api import EntryMethod
    from terminal.payment.qr_link import method_refusal

    config = site_file(tmp_path)
    iso_only = load_settings(config, environ={})
    both = load_settings(config, environ={"POSTERM_GATEWAY__URL": "https://127.0.0.1:8443"})
    v1 = load_settings(None, environ={})
    for method in EntryMethod:
        assert method_refusal(both, method) == "" and method_refusal(v1, method) == ""
    assert method_refusal(iso_only, EntryMethod.NFC) == ""
    assert method_refusal(iso_only, EntryMethod.QR_SHOW).startswith(SAYS)
