"""A terminal process for pre-authorisation crash tests.

    python hold_process.py CONFIG capture HOLD_ID AMOUNT [TIP]
    python hold_process.py CONFIG preauth AMOUNT PROFILE

Prints one line per progress step ("STAGE <stage> <txn id>") and flushes, so a test can kill
it with SIGKILL at any step; "RESULT <result> <id>" at the end.
"""

from __future__ import annotations

import asyncio
import sys

from simulators.card.tap import TappedCard
from terminal.money import Amount
from terminal.payment.api import Progress, SaleRequest
from terminal.payment.factory import build_engine
from terminal.settings import Settings, load_settings


def show(step: Progress) -> None:
    print(f"STAGE {step.stage.value} {step.transaction_id or '-'}", flush=True)


async def main(argv: list[str]) -> int:
    settings = load_settings(argv[0], environ={})
    currency = settings.terminal.currency
    if argv[1] == "preauth":
        return await preauth(settings, Amount.parse(argv[2], currency), argv[3])
    hold_id, amount = argv[2], Amount.parse(argv[3], currency)
    tip = Amount.parse(argv[4], currency) if len(argv) > 4 else None
    engine = build_engine(settings)
    await engine.start(forward=False)
    try:
        action = await engine.check_hold("capture", hold_id, amount, tip)
        outcome = await engine.act_on_hold(action, show)
        print(f"RESULT {outcome.result.value} {outcome.id}", flush=True)
    finally:
        await engine.stop()
    return 0


async def preauth(settings: Settings, amount: Amount, profile: str) -> int:
    engine = build_engine(settings, card_capture=TappedCard(profile, delay_s=0.05))
    await engine.start(forward=False)
    try:
        outcome = await engine.preauth(SaleRequest(amount), show, asyncio.Event())
        print(f"RESULT {outcome.result.value} {outcome.id}", flush=True)
    finally:
        await engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
