"""`posterm demo`: the operator screen on simulated hardware with the gateway simulator.

Starts the bundled gateway simulator in the background (state in var/demo/), enrols the demo
terminal's key, starts a fake receipt printer, then the real operator screen with extra keys
that play the customer: tap a card or a phone, show a wallet code to the camera, pay the
merchant code on the screen, cut the link to the bank.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from terminal.cli._common import settings_from
from terminal.cli._simulators import simulators_installed
from terminal.money import Amount


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the terminal on simulated hardware with the bundled gateway simulator",
    )
    parser.set_defaults(handler=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    from terminal.cli.run import assemble, screen_logging
    from terminal.fleet.service import screen_reporting
    from terminal.ui.app import DemoAction
    from terminal.ui.presenter import ScreenCodePresenter

    with simulators_installed("The demo"):
        import simulators.card.cryptogram  # noqa: F401  (its cards and bank need pyemv)
        from simulators.demo import DEMO_CONFIG, DemoStack

    print("posterm demo: starting the gateway simulator and simulated devices ...", flush=True)
    stack = DemoStack()
    try:
        stack.start()
        if stack.root_warning:
            print(stack.root_warning, flush=True)
        args.config = str(DEMO_CONFIG)
        settings = settings_from(args)
        if stack.fleet_off:
            print(f"posterm demo: fleet is off: {stack.fleet_off}.", flush=True)
            settings = settings.model_copy(
                update={"fleet": settings.fleet.model_copy(update={"enabled": False})}
            )
        else:
            print(
                "posterm demo: fleet broker on 127.0.0.1; see the terminal with "
                "`posterm --config config/demo-operator.toml fleet status`",
                flush=True,
            )
        screen_logging(settings)

        class DemoPresenter(ScreenCodePresenter):
            """Remembers the merchant code shown, so the demo wallet can pay it."""

            def show(self, payload: str, amount: Amount, expires_at: datetime) -> None:
                stack.code_shown(payload, amount)
                super().show(payload, amount, expires_at)

        actions = [
            DemoAction("f6", "Customer taps a Visa card", lambda: stack.tap("visa-credit")),
            DemoAction("f7", "Customer taps a phone wallet", lambda: stack.tap("wallet-token")),
            DemoAction("f8", "Customer taps a blocked card", lambda: stack.tap("blocked")),
            DemoAction("f9", "Customer shows a wallet code", stack.show_wallet_code),
            DemoAction("f10", "Customer's wallet pays the code", stack.wallet_pays_shown_code),
            DemoAction("f11", "Cut / restore the bank link", stack.toggle_gateway),
            DemoAction(
                "f2",
                "Customer shows a WeChat Pay code (approved at once)",
                lambda: stack.show_pay_code("wechatpay"),
            ),
            DemoAction(
                "f3",
                "Customer shows an Alipay barcode (confirms on the phone after 4 s)",
                lambda: stack.show_pay_code("alipay", confirm_after_s=4.0, symbology="code128"),
            ),
        ]
        app = assemble(settings, demo_actions=actions, presenter=DemoPresenter())
        if stack.root_warning:
            app.status_note = "WARNING: demo keys from a plain root-secret file, not sealed"
        pilot = screen_reporting(settings, None)  # [fleet] on: status to the demo's broker
        status = app.run(auto_pilot=pilot) if pilot is not None else app.run()
        return status if isinstance(status, int) else 0
    finally:
        stack.stop()
