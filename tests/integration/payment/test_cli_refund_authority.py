"""`posterm refund` / `posterm void` ask the supervisor PIN when one is set (as the screen
does) and every one is audited with the person and the door (the assessor's finding 10)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from payment_terminal import REPO, Terminal, pay

from simulators.card.tap import TappedCard
from terminal.payment.api import Result
from terminal.security.audit import AuditLog
from terminal.security.key_hierarchy import KeyHierarchy
from terminal.security.pins import hash_pin

PIN = "135790"


def cli(term: Terminal, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The command with stdin from a pipe (never a TTY)."""
    return subprocess.run(
        [sys.executable, "-m", "terminal", "--config", str(term.config), *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(term.settings.data_dir)},
    )


async def test_void_needs_the_supervisor_pin_when_one_is_set_and_is_audited(
    terminal: Callable[..., Terminal], tmp_path: Path
) -> None:
    # The PIN is peppered with this terminal's root (terminal/security/key_hierarchy.py).
    pepper = KeyHierarchy.open(tmp_path / "data-PAYPIN01").pin_pepper()
    term = terminal(terminal_id="PAYPIN01", ui={"supervisor_pin_hash": hash_pin(PIN, pepper)})
    engine = term.engine(TappedCard("visa-credit"))
    await engine.start(forward=False)
    try:
        sale = await pay(engine, "15.00")
        assert sale.result is Result.APPROVED
    finally:
        await engine.stop()

    before = term.ledger()
    no_tty = cli(term, "void", sale.id, "--json")
    assert no_tty.returncode == 2
    assert "--pin-stdin" in json.loads(no_tty.stdout)["message"]
    wrong = cli(term, "void", sale.id, "--pin-stdin", "--json", stdin="000000\n")
    assert wrong.returncode != 0
    assert "wrong supervisor PIN" in json.loads(wrong.stdout)["message"]
    assert term.ledger() == before  # nothing reached the bank
    right = cli(term, "void", sale.id, "--pin-stdin", "--json", stdin=f"{PIN}\n")
    assert right.returncode == 0, right.stderr
    assert json.loads(right.stdout)["result"] == "approved"

    records = AuditLog(term.settings.data_dir).records()
    voids = [r for r in records if r.action == "payment.void"]
    assert [v.details["result"] for v in voids] == ["refused", "refused", "approved"]
    assert all(v.details["door"] == "cli" and v.details["sale_id"] == sale.id for v in voids)
    assert voids[-1].role == "supervisor" and voids[-1].actor.endswith("via cli")
    assert voids[-1].details["amount"] == {"value": 1500, "currency": "EUR"}
    assert [r.action for r in records].count("pin.rejected") == 1
    assert AuditLog(term.settings.data_dir).verify().intact
