"""Shows payments the till started through the ECR API on the operator screen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from terminal.ecr.payments import EcrPayment
from terminal.payment.api import Outcome, Progress
from terminal.ui.messages import EcrSaleStarted, SaleEnded, SaleProgress

if TYPE_CHECKING:
    from terminal.ui.app import PostermApp


class ScreenFollowsTill:
    """`terminal.ecr.payments.PaymentListener` posting to the sale screen."""

    def __init__(self, app: PostermApp) -> None:
        self.app = app

    def _target(self) -> object | None:
        screen: object | None = self.app.sale_screen
        return screen

    def payment_started(self, payment: EcrPayment) -> None:
        self.app.sale_running = True
        self.app.ecr_payment = payment
        target = self._target()
        if target is not None:
            self.app.deliver(
                EcrSaleStarted(
                    payment.id, payment.request.amount.format_plain(), payment.request.method.value
                ),
                target,
            )

    def payment_progress(self, payment: EcrPayment, step: Progress) -> None:
        target = self._target()
        if target is not None:
            self.app.deliver(SaleProgress(step), target)

    def payment_ended(self, payment: EcrPayment, outcome: Outcome) -> None:
        self.app.ecr_payment = None
        target = self._target()
        if target is not None:
            self.app.deliver(SaleEnded(outcome, source="ecr"), target)
        else:
            self.app.sale_running = False
