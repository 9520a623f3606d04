"""`posterm serve`: the engine, the store-and-forward forwarder and the ECR API, no screen.

For unattended kiosks and vending, and the systemd service when no screen is attached. Stops
cleanly on SIGTERM / Ctrl-C: a payment waiting for a card is cancelled, one with the bank is
allowed to finish.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from datetime import datetime
from typing import TYPE_CHECKING, Any

from terminal.cli._common import settings_from
from terminal.cli._devices import build_engine_for, printer_and_display
from terminal.money import Amount
from terminal.payment.api import Outcome, PaymentEngine, Progress, Result
from terminal.service.notify import ServiceNotifier, watchdog_task

if TYPE_CHECKING:
    from terminal.ecr.payments import EcrPayment
    from terminal.receipts.printing import ReceiptPrinting
    from terminal.settings import Settings
    from terminal.ui.customer_display import CustomerDisplay

log = logging.getLogger("terminal.serve")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve", help="run headless: engine, store-and-forward and the ECR API (no screen)"
    )
    parser.set_defaults(handler=serve_command)


class LogPresenter:
    """Headless `CodePresenter`: the code goes to the log and the customer display."""

    def __init__(self, display: CustomerDisplay) -> None:
        self.display = display

    def show(self, payload: str, amount: Amount, expires_at: datetime) -> None:
        log.info("merchant code for %s until %s: %s", amount, expires_at.isoformat(), payload)
        self.display.amount(amount, "Scan the code")

    def clear(self) -> None:
        self.display.idle()


class ReceiptsAndDisplay:
    """Prints the receipt and updates the customer display when a till payment ends."""

    def __init__(
        self, engine: PaymentEngine, printing: ReceiptPrinting, display: CustomerDisplay
    ) -> None:
        self.engine = engine
        self.printing = printing
        self.display = display

    def payment_started(self, payment: EcrPayment) -> None:
        self.display.amount(payment.request.amount)

    def payment_progress(self, payment: EcrPayment, step: Progress) -> None:
        return None

    def payment_ended(self, payment: EcrPayment, outcome: Outcome) -> None:
        self.display.result(outcome.result.value, outcome.amount)
        if not self.printing.configured or not outcome.id:
            return
        if outcome.result not in (Result.APPROVED, Result.APPROVED_OFFLINE, Result.DECLINED):
            return
        try:
            view = self.engine.transaction(outcome.id)
        except Exception as error:
            log.warning("no receipt for %s: %s", outcome.id, error)
            return

        def job() -> None:
            report = self.printing.print_receipt(view)
            if not report.printed:
                log.warning("receipt for %s not printed: %s", outcome.id, report.sentence)

        asyncio.get_running_loop().run_in_executor(None, job)


async def serve(
    settings: Settings,
    engine: Any,
    printing: ReceiptPrinting,
    display: CustomerDisplay,
    stop: asyncio.Event,
) -> None:
    """Run until `stop` is set. The engine's own context (recovery, forwarder) wraps it all."""
    from terminal.ecr.payments import EcrPayments
    from terminal.ecr.server import EcrServer  # aiohttp: only the commands that serve load it
    from terminal.fleet.service import start_reporting

    opened = hasattr(engine, "__aenter__")
    if opened:
        await engine.__aenter__()
    server: Any = None
    nexo: Any = None
    payments = EcrPayments(engine)
    payments.listeners.append(ReceiptsAndDisplay(engine, printing, display))
    try:
        if settings.ecr.enabled:
            server = EcrServer(settings, engine, payments)
            await server.start()
            log.info("serving the ECR API on %s", settings.ecr.listen)
        elif not settings.nexo.enabled:
            log.warning("the ECR API is off (ecr.enabled = false): only store-and-forward runs")
        if settings.nexo.enabled:
            nexo = start_nexo(settings, engine, payments, printing, display)
            await nexo.start()
        display.idle()
        # Type=notify: systemd counts the service as started now, and restarts it when the
        # watchdog, fed from this event loop, stops arriving (terminal/service/notify.py).
        notifier = ServiceNotifier()
        ecr = f"ECR API on {settings.ecr.listen}" if server is not None else "ECR API off"
        if nexo is not None:
            ecr += f"; nexo on {settings.nexo.listen}"
        notifier.ready(f"terminal {settings.terminal.terminal_id} ready; {ecr}")
        watchdog = asyncio.create_task(watchdog_task(notifier))
        fleet = start_reporting(
            settings,
            engine,
            stop,
            printer_opened=printing.configured,
            display_opened=display.display is not None,
        )
        try:
            await stop.wait()
        finally:
            watchdog.cancel()
            if fleet is not None:
                await fleet  # leaves "online": false on the broker
            notifier.stopping()
    finally:
        if nexo is not None:
            await payments.close()
            await nexo.stop()
        if server is not None:
            await server.stop()
        if opened:
            await engine.__aexit__(None, None, None)


def start_nexo(
    settings: Settings,
    engine: Any,
    payments: Any,
    printing: ReceiptPrinting,
    display: CustomerDisplay,
) -> Any:
    """The nexo Terminal API door over the same payments as the ECR API (not started yet)."""
    from terminal.nexo.door import Devices, NexoDoor
    from terminal.nexo.server import NexoServer
    from terminal.nexo.store import ServiceStore

    devices = Devices(
        print_lines=printing.print_text if printing.configured else None,
        show_lines=display.text if display.display is not None else None,
        printer_state=printing.check if printing.configured else None,
    )
    store = ServiceStore(settings.data_dir / "nexo.sqlite")
    return NexoServer(settings, NexoDoor(settings, engine, payments, store, devices))


def serve_command(args: argparse.Namespace) -> int:
    from terminal.receipts.printing import ReceiptPrinting
    from terminal.ui.customer_display import CustomerDisplay

    settings = settings_from(args)
    printer, line_display = printer_and_display(settings)
    display = CustomerDisplay(line_display)
    engine = build_engine_for(settings, LogPresenter(display))
    printing = ReceiptPrinting(settings, printer, columns=settings.ui.receipt_columns)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await serve(settings, engine, printing, display, stop)

    asyncio.run(main())
    printing.close()
    return 0
