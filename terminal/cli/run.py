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
    settings = settings_from(args)
    screen_logging(settings)
    app = assemble(settings)
    notifier = ServiceNotifier()
    if notifier.enabled:  # posterm-kiosk.service: Type=notify with a watchdog
        ready = f"operator screen of terminal {settings.terminal.terminal_id} ready"
        status = app.run(auto_pilot=screen_supervisor(notifier, ready))
    else:
        status = app.run()
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
    if settings.ecr.enabled:  # aiohttp (~0.15 s of import) only with the till link on
        from terminal.ecr.server import EcrServer

        ecr = EcrServer(settings, engine)
    return build_app(
        settings,
        engine,
        demo_actions=demo_actions,
        printing=ReceiptPrinting(settings, printer, columns=settings.ui.receipt_columns),
        display=display,
        presenter=presenter,
        ecr=ecr,
    )
