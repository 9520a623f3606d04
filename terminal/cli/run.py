"""`posterm run`: the operator screen on the configured devices."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terminal.cli._common import settings_from
from terminal.cli._devices import build_engine_for, printer_and_display
from terminal.security.private import create_private, private_folder
from terminal.service.notify import ServiceNotifier, screen_supervisor

if TYPE_CHECKING:
    from terminal.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run", help="the operator screen (sale, history, end of day) on the configured devices"
    )
    parser.set_defaults(handler=run_command)


def screen_logging(settings: Settings) -> None:
    """Keep log lines off the screen: under systemd they go to the journal already; otherwise
    to `<data_dir>/posterm-screen.log` (PAN-masked like every posterm log)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and getattr(handler, "_posterm", False):
            path = Path(settings.data_dir) / "posterm-screen.log"
            try:
                private_folder(path.parent)
                create_private(path)
                handler.setStream(path.open("a", encoding="utf-8"))
            except OSError:
                handler.setLevel(logging.CRITICAL + 1)


def run_command(args: argparse.Namespace) -> int:
    from terminal.fleet.service import screen_reporting

    settings = settings_from(args)
    screen_logging(settings)
    app = assemble(settings)
    notifier = ServiceNotifier()
    supervisor = None
    if notifier.enabled:  # posterm-kiosk.service: Type=notify with a watchdog
        ready = f"operator screen of terminal {settings.terminal.terminal_id} ready"
        supervisor = screen_supervisor(notifier, ready)
    pilot = screen_reporting(settings, supervisor)  # [fleet] enabled: status to the broker
    status = app.run(auto_pilot=pilot) if pilot is not None else app.run()
    return status if isinstance(status, int) else 0


def assemble(settings: Settings, demo_actions: Any = None, presenter: Any = None) -> Any:
    """The operator screen with the engine, printer, display and ECR API of `settings`."""
    from terminal.receipts.printing import ReceiptPrinting
    from terminal.ui.app import build_app
    from terminal.ui.presenter import ScreenCodePresenter

    presenter = presenter or ScreenCodePresenter()
    engine = build_engine_for(settings, presenter)
    printer, display = printer_and_display(settings)
    ecr = None
    nexo = None
    printing = ReceiptPrinting(settings, printer, columns=settings.ui.receipt_columns)
    if settings.ecr.enabled or settings.nexo.enabled:  # aiohttp only with a till link on
        from terminal.cli.serve import start_nexo
        from terminal.ecr.payments import EcrPayments
        from terminal.ecr.server import EcrServer
        from terminal.ui.customer_display import CustomerDisplay

        payments = EcrPayments(engine)
        if settings.ecr.enabled:
            ecr = EcrServer(settings, engine, payments)
        if settings.nexo.enabled:
            nexo = start_nexo(settings, engine, payments, printing, CustomerDisplay(display))
    return build_app(
        settings,
        engine,
        demo_actions=demo_actions,
        printing=printing,
        display=display,
        presenter=presenter,
        ecr=ecr,
        nexo=nexo,
    )
