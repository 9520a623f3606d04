"""A terminal process for crash tests: runs sales or recovery against a site config.

    python terminal_process.py CONFIG sale AMOUNT PROFILE [COUNT]

Prints one line per progress step ("STAGE <stage> <txn id>") and flushes, so a test can kill
it with SIGKILL at any step; "RESULT <result> <id>" at the end of each sale.
"""

from __future__ import annotations

import asyncio
import sys

from simulators.card.tap import TappedCard
from terminal.money import Amount
from terminal.payment.api import Progress, SaleRequest
from terminal.payment.factory import build_engine
from terminal.settings import load_settings


def show(step: Progress) -> None:
    print(f"STAGE {step.stage.value} {step.transaction_id or '-'}", flush=True)


async def main(argv: list[str]) -> int:
    settings = load_settings(argv[0], environ={})
    amount = Amount.parse(argv[2], settings.terminal.currency)
    count = int(argv[4]) if len(argv) > 4 else 1
    engine = build_engine(settings, card_capture=TappedCard(argv[3], delay_s=0.05))
    await engine.start(forward=False)
    try:
        for _ in range(count):
            outcome = await engine.sale(SaleRequest(amount), show, asyncio.Event())
            print(f"RESULT {outcome.result.value} {outcome.id}", flush=True)
    finally:
        await engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
