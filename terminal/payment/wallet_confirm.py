"""A wallet pay code whose wallet answered "the customer is confirming" (WeChat Pay USERPAYING,
Alipay WAIT_BUYER_PAY): wait for the payer's password or biometrics on the phone.

The wallets' acquirer APIs describe the flow (WeChat Pay Quick Pay API: on USERPAYING, query
the order at an interval until paid or a timeout of about 30 s, then reverse; Alipay
alipay.trade.pay: on 10003, poll alipay.trade.query, then alipay.trade.cancel). Here the sale's
`authorize` is already committed and answered `pending`; the terminal asks `qr_status` (ref =
the sale's id) at the pace the wallet gave (`poll_s`), for at most
`qr.wallet_confirm_timeout_s`. Approved or declined ends the sale by the settlement table.
When the time is up, or the operator cancels between two questions, a reversal of the sale's id
is committed before anything is said (`Settlement.cancel_unconfirmed`): the wallet closes the
unpaid attempt, or refunds it if the customer confirmed at the last moment. A kill during the
wait leaves the sale `authorising`; start-up recovery asks the wallet first
(`recover_wallet_sales`), then reverses what is still open.
"""

from __future__ import annotations

import asyncio
import logging
import time

from terminal.payment.api import Outcome, Progress, ProgressCallback, Stage
from terminal.payment.bank import Operation, Reply
from terminal.payment.cancel import CancelToken, pass_point_of_no_return
from terminal.payment.context import Core
from terminal.payment.settlement import Settlement, Subject
from terminal.payment.states import State
from terminal.qr.wallet_code import WalletScheme

log = logging.getLogger("terminal.payment.wallet_confirm")

WAITING = "Waiting for the customer to confirm on their phone"
MIN_POLL_S = 0.2
MAX_POLL_S = 10.0
"""The wallet's pace is honoured within these bounds (a broken answer cannot make the
terminal spin or sleep past its own deadline)."""


def wallet_pace(reply: Reply | None, default_s: float) -> float:
    """Seconds between status questions, as the wallet asked (`poll_s`), bounded."""
    value = reply.payload.get("poll_s") if reply is not None else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default_s
    return min(max(float(value), MIN_POLL_S), MAX_POLL_S)


async def await_confirmation(
    core: Core,
    settlement: Settlement,
    subject: Subject,
    first: Reply | None,
    wallet: str,
    progress: ProgressCallback,
    cancel: asyncio.Event,
) -> Outcome:
    """The sale's end once its wallet answered `pending`."""
    limit = core.settings.qr.wallet_confirm_timeout_s
    interval = wallet_pace(first, core.settings.qr.poll_interval_s)
    deadline = time.monotonic() + limit
    progress(
        Progress(
            Stage.CONFIRMING,
            f"{WAITING} ({wallet}).",
            subject.txn_id,
            {"wallet": wallet, "timeout_s": limit},
        )
    )
    if isinstance(cancel, CancelToken):
        cancel.release()  # the operator may stop the wait: the reversal guarantees the money
    while True:
        wait = min(interval, max(0.0, deadline - time.monotonic()))
        try:
            async with asyncio.timeout(wait):
                await cancel.wait()
        except TimeoutError:
            pass
        # While the wallet is asked, a cancel is refused (its answer may be "paid"); between
        # questions it is honoured by cancelling the payment with the wallet.
        if not pass_point_of_no_return(cancel, "authorising"):
            return await settlement.cancel_unconfirmed(
                subject, progress, "Cancelled by the operator."
            )
        if time.monotonic() >= deadline:
            return await settlement.cancel_unconfirmed(
                subject,
                progress,
                f"The customer did not confirm on their phone within {limit:.0f} s.",
            )
        status = Operation("qr_status", core.bank.new_id(), ref=subject.txn_id)
        settled = await settlement.send(
            "qr_status",
            status,
            subject,
            progress,
            stored=False,
            deadline_s=max(interval * 3, 5.0),
        )
        if settled.outcome is not None:
            return settled.outcome
        interval = wallet_pace(settled.reply, interval)
        if isinstance(cancel, CancelToken):
            cancel.release()


async def recover_wallet_sales(core: Core, settlement: Settlement) -> list[str]:
    """Before start-up recovery reverses what a crash left `authorising`: a wallet pay code
    sale asks the wallet once how it ended (the customer may have confirmed while the terminal
    was down). Paid or refused settles the sale as the wallet says; anything else (still
    confirming, no answer) is left to the ordinary recovery, whose reversal closes or refunds
    it. Returns the ids settled here."""
    settled_ids: list[str] = []
    schemes = {scheme.value for scheme in WalletScheme}
    for txn in await asyncio.to_thread(core.journal.in_flight):
        if txn.state is not State.AUTHORISING or txn.scheme not in schemes:
            continue
        if txn.entry != "qr_cpm" or core.owner.alive(txn.owner):
            continue
        subject = Subject(txn.id, txn.amount, txn.entry, scheme=txn.scheme)
        status = Operation("qr_status", core.bank.new_id(), ref=txn.id)
        try:
            settled = await settlement.send(
                "qr_status",
                status,
                subject,
                _quiet,
                stored=False,
                deadline_s=core.settings.gateway.timeout_s,
            )
        except Exception:  # recovery must go on: the reversal below still protects the money
            log.exception("wallet status of %s could not be asked; reversing it", txn.id)
            continue
        if settled.outcome is not None:
            log.warning("recovery: wallet sale %s ended %s", txn.id, settled.outcome.result)
            settled_ids.append(txn.id)
    return settled_ids


def _quiet(step: Progress) -> None:
    """Recovery has no operator watching: the journal keeps the story."""
