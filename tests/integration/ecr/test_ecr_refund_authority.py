"""Refunds and voids from the till follow `[ecr] refunds` and are audited whoever asks (the
assessor: the ECR API needed no supervisor authority and left no audit record)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from terminal.ecr.server import EcrServer
from terminal.security.audit import AuditLog
from terminal.security.key_hierarchy import KeyHierarchy
from terminal.security.pins import hash_pin
from terminal.settings import Settings
from tests.conftest import free_port
from tests.ui.memory_engine import MemoryEngine

TOKEN = "till-token-0123456789"
PIN = "246810"


@asynccontextmanager
async def till(
    tmp_path: Path, refunds: str, pin_hash: str = ""
) -> AsyncIterator[tuple[httpx.AsyncClient, MemoryEngine, str]]:
    port = free_port()
    settings = Settings.model_validate(
        {
            "terminal": {"data_dir": str(tmp_path / "data")},
            "ui": {"supervisor_pin_hash": pin_hash},
            "ecr": {
                "enabled": True,
                "listen": f"127.0.0.1:{port}",
                "token": TOKEN,
                "refunds": refunds,
            },
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
            created = (
                await http.post(
                    "/ecr/v1/payments",
                    json={"amount": {"value": 2000, "currency": "EUR"}, "method": "nfc"},
                )
            ).json()
            engine.tap()
            done = (await http.get(f"/ecr/v1/payments/{created['id']}?wait=10")).json()
            assert done["result"] == "approved"
            yield http, engine, created["id"]
    finally:
        engine.tap()
        await server.stop()


def audited(tmp_path: Path, action: str) -> list[dict[str, Any]]:
    records = AuditLog(tmp_path / "data").records()
    return [{"role": r.role, "actor": r.actor, **r.details} for r in records if r.action == action]


async def test_allowed_refunds_are_audited_with_the_door_and_outcome(tmp_path: Path) -> None:
    async with till(tmp_path, "allowed") as (http, _engine, payment_id):
        answer = await http.post(
            f"/ecr/v1/payments/{payment_id}/refund",
            json={"amount": {"value": 500, "currency": "EUR"}},
        )
        assert answer.status_code == 200 and answer.json()["result"] == "approved"
    [record] = audited(tmp_path, "payment.refund")
    assert record["door"] == "ecr" and record["actor"].endswith("via ecr")
    assert record["amount"] == {"value": 500, "currency": "EUR"}
    assert record["result"] == "approved" and record["sale_id"]
    assert AuditLog(tmp_path / "data").verify().intact


async def test_refused_setting_answers_403_and_sends_nothing(tmp_path: Path) -> None:
    async with till(tmp_path, "refused") as (http, engine, payment_id):
        before = len(engine.rows)
        answer = await http.post(f"/ecr/v1/payments/{payment_id}/void")
        assert answer.status_code == 403
        assert answer.json()["error"] == "forbidden"
        assert "switched off" in answer.json()["message"]
        assert len(engine.rows) == before and engine.rows[-1].state != "voided"
    [record] = audited(tmp_path, "payment.void")
    assert record["result"] == "refused" and "switched off" in record["message"]


async def test_supervisor_pin_is_required_and_checked_with_the_lockout(tmp_path: Path) -> None:
    pin_hash = hash_pin(PIN, KeyHierarchy.open(tmp_path / "data").pin_pepper())
    async with till(tmp_path, "supervisor_pin", pin_hash) as (http, engine, payment_id):
        url = f"/ecr/v1/payments/{payment_id}/void"
        missing = await http.post(url)
        assert missing.status_code == 403 and "supervisor_pin" in missing.json()["message"]
        wrong = await http.post(url, json={"supervisor_pin": "000000"})
        assert wrong.status_code == 403
        assert "Wrong supervisor PIN" in wrong.json()["message"]
        assert engine.rows[-1].state != "voided"
        right = await http.post(url, json={"supervisor_pin": PIN})
        assert right.status_code == 200, right.text
        assert right.json()["result"] == "approved"
        assert any(row.state == "voided" for row in engine.rows)
    voids = audited(tmp_path, "payment.void")
    assert [v["result"] for v in voids] == ["refused", "refused", "approved"]
    assert voids[-1]["role"] == "supervisor"
    assert [r.action for r in AuditLog(tmp_path / "data").records()].count("pin.rejected") == 1
