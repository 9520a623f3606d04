"""The till and the operator cannot tell which acquirer link is used: `posterm pay --json`,
`history --json`, `saf status --json` and the ECR API answer with the same keys, the same
types and the same exit codes on `protocol = "posterm-v1"` and `"iso8583"`, for a sale
approved, declined, approved offline and left without an answer.

One simulator process serves both links (its HTTPS port and `--iso8583-listen`), so the
issuer rules, the faults and the ledger behind either link are the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.bank.local import GatewaySim
from simulators.card.tap import TappedCard
from simulators.loopback import free_port
from terminal.cli import main
from terminal.payment.factory import build_engine
from terminal.settings import load_settings

LINKS = ("posterm-v1", "iso8583")
TOKEN = "till-token-0123456789"
CASES: list[tuple[str, str, str, dict[str, Any], int, str, str]] = [
    # (case, card, amount, faults, exit code, result, code)
    ("approved", "visa-credit", "5.00", {}, 0, "approved", "00"),
    ("declined", "blocked", "3.00", {}, 1, "declined", "05"),
    ("no answer", "visa-credit", "6.00", {"drop_after": 1.0}, 3, "error", "68"),
    ("approved offline", "visa-credit", "4.00", {"down": True}, 0, "approved_offline", "00"),
]


def shape(value: Any) -> Any:
    """Keys (in order) and JSON types, not values: what a till's parser depends on."""
    if isinstance(value, dict):
        return [(key, shape(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewaySim, int]]:
    port = free_port()
    folder = tmp_path_factory.mktemp("both-links")
    simulator = GatewaySim(folder / "sim", extra_args=("--iso8583-listen", f"127.0.0.1:{port}"))
    try:
        yield simulator, port
    finally:
        simulator.stop()


def site_file(sim: tuple[GatewaySim, int], folder: Path, link: str, terminal_id: str) -> Path:
    simulator, port = sim
    gateway: dict[str, Any] = {"protocol": link, "timeout_s": 2.0, "connect_timeout_s": 1.0}
    if link == "iso8583":
        gateway["url"] = ""  # card payments only: nothing can go over posterm-v1
    return simulator.terminal_config(
        folder,
        terminal_id=terminal_id,
        devices={"nfc": "none"},
        gateway=gateway,
        iso8583={"host": f"127.0.0.1:{port}", "ca_file": str(simulator.ca_file), "timeout_s": 2},
        ecr={"enabled": True, "listen": f"127.0.0.1:{free_port()}", "token": TOKEN},
    )


def posterm(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    """The CLI in this process (the same `main` as the console script): exit code, JSON."""
    capsys.readouterr()
    status = main(["--config", str(config), *args])
    out = capsys.readouterr().out
    return status, json.loads(out)


def test_cli_answers_have_the_same_shapes_and_exit_codes_on_both_links(
    sim: tuple[GatewaySim, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    simulator, _ = sim
    seen: dict[str, dict[str, Any]] = {}
    for n, link in enumerate(LINKS):
        config = site_file(sim, tmp_path / link, link, f"SHAPECL{n}")
        answers: dict[str, Any] = {}
        for case, card, amount, faults, status, result, code in CASES:
            monkeypatch.setattr(
                "terminal.cli.pay.devices_for",
                lambda method, settings, card=card: (TappedCard(card), None, None),
            )
            simulator.faults(**faults)
            try:
                exit_code, answer = posterm(config, capsys, "pay", "--amount", amount, "--json")
            finally:
                simulator.faults()
            assert (exit_code, answer["result"], answer["code"]) == (status, result, code), (
                link,
                case,
                answer,
            )
            answers[case] = (exit_code, shape(answer))
        answers["history"] = posterm(config, capsys, "history", "--json")
        answers["saf"] = posterm(config, capsys, "saf", "status", "--json")
        seen[link] = answers
    v1, iso = seen["posterm-v1"], seen["iso8583"]
    for case, *_ in CASES:
        assert v1[case] == iso[case], case
    for name in ("history", "saf"):
        (v1_status, v1_json), (iso_status, iso_json) = v1[name], iso[name]
        assert v1_status == iso_status == 0
        assert shape(v1_json) == shape(iso_json), name
    rows = {link: seen[link]["history"][1] for link in LINKS}
    facts = {
        link: [(r["type"], r["result"], r["state"], r["code"]) for r in rows[link]]
        for link in LINKS
    }
    assert facts["posterm-v1"] == facts["iso8583"]
    assert len(rows["iso8583"]) == len(CASES)
    queues = {link: seen[link]["saf"][1] for link in LINKS}
    for link in LINKS:  # the advice of the offline sale and the reversal wait in both
        assert (queues[link]["advices"], queues[link]["reversals"]) == (1, 1), queues[link]


async def ecr_answers(config: Path) -> dict[str, Any]:
    """Three till payments through the ECR API on a real engine: approved, declined, no
    answer (the simulator's faults are set by the caller through `faults_for`)."""
    from terminal.ecr.server import EcrServer

    settings = load_settings(config, environ={})
    engine = build_engine(settings, card_capture=TappedCard("visa-credit"))
    await engine.start()
    await engine.link_checked()
    server = EcrServer(settings, engine)
    await server.start()
    answers: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(
            base_url=f"http://{settings.ecr.listen}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        ) as http:
            answers["status"] = (await http.get("/ecr/v1/status")).json()
            for case, card, amount, _, _, result, code in CASES[:2]:
                engine.card_capture = TappedCard(card)
                value = int(amount.replace(".", ""))
                body = {"amount": {"value": value, "currency": "EUR"}, "method": "nfc"}
                created = await http.post("/ecr/v1/payments", json=body)
                assert created.status_code == 202, created.text
                payment_id = created.json()["id"]
                done = await http.get(f"/ecr/v1/payments/{payment_id}?wait=20")
                answer = done.json()
                assert (answer["result"], answer["code"]) == (result, code), answer
                answers[case] = (created.status_code, shape(created.json()), shape(answer))
                refund = await http.post(f"/ecr/v1/payments/{payment_id}/refund", json={})
                answers[f"{case} refund"] = (refund.status_code, shape(refund.json()))
            answers["totals"] = shape((await http.get("/ecr/v1/totals")).json())
            answers["status"] = shape(answers["status"])
    finally:
        await server.stop()
        await engine.stop()
    return answers


async def test_ecr_answers_have_the_same_shapes_on_both_links(
    sim: tuple[GatewaySim, int], tmp_path: Path
) -> None:
    seen = {}
    for n, link in enumerate(LINKS):
        config = site_file(sim, tmp_path / link, link, f"SHAPEEC{n}")
        seen[link] = await ecr_answers(config)
    assert seen["posterm-v1"] == seen["iso8583"]
    assert seen["iso8583"]["approved refund"][0] == 200
    assert seen["iso8583"]["declined refund"][0] == 409
