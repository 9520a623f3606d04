"""One RSS measurement of the operator app in a fresh process (run by bench_ui).

`python -m bench._sales_rss CONFIG COUNT` drives COUNT sales through the screen and the engine
(see `bench_ui.sales_on_screen`) against the bank simulator at the config's URL, in its own
process. With `--bank DATA PORT ADMIN_PORT` the bank simulator is served from a thread of this
very process on those ports (the folder of a stopped simulator), to show what it adds when it
shares the process. Prints one JSON object: RSS after warm-up and after the sales, in MiB, and
seconds per sale.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from bench.bench_ui import sales_on_screen


def bank_in_this_process(data_dir: Path, port: int, admin_port: int) -> Callable[[], None]:
    """Serve the bank simulator from a thread of this process; returns the function that stops
    it."""
    from simulators.bank import serve
    from simulators.bank.process import SimulatorProcess

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    task: list[asyncio.Task[None]] = []

    async def main() -> None:
        started = asyncio.Event()
        task.append(
            asyncio.create_task(
                serve(
                    f"127.0.0.1:{port}",
                    data_dir,
                    admin_listen=f"127.0.0.1:{admin_port}",
                    ready=started,
                )
            )
        )
        await started.wait()
        ready.set()
        try:
            await task[0]
        except asyncio.CancelledError:
            pass

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    if not ready.wait(60):
        raise RuntimeError("the in-process bank simulator did not start")
    admin = SimulatorProcess(data_dir, port=port, admin_port=admin_port)
    admin.fraud(enabled=False)  # 1,000 taps of one card in minutes is the point here
    admin.cards(name="visa-credit", balance="1000000.00")
    admin._close_admin()

    def stop() -> None:
        loop.call_soon_threadsafe(task[0].cancel)
        thread.join(30)

    return stop


def main(argv: list[str]) -> int:
    from terminal.settings import load_settings

    config, count = Path(argv[0]), int(argv[1])
    stop: Callable[[], None] | None = None
    if argv[2:3] == ["--bank"]:
        stop = bank_in_this_process(Path(argv[3]), int(argv[4]), int(argv[5]))
    try:
        settings = load_settings(config, environ={})
        before, after, per_sale = asyncio.run(sales_on_screen(settings, count))
    finally:
        if stop is not None:
            stop()
    print(json.dumps({"before": before, "after": after, "per_sale": per_sale}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
