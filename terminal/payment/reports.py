"""Read-only views of the journal: history, totals since the last batch close, queue status.

`result` in these views is what the operator was told (approved, approved_offline, declined,
cancelled, error, or pending while in flight); `state` is where the transaction is now, so a
sale approved offline and later declined by the bank reads result `declined`, state
`declined_after_forward`, and a voided sale reads result `approved`, state `voided`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from terminal.money import Amount, Currency
from terminal.payment.api import QueueStatus, Totals, TotalsLine, TransactionView
from terminal.payment.cross_border import debit_of_text
from terminal.payment.journal import Journal, Rows, Transaction, iso, parse_iso
from terminal.payment.risk import OfflineFacts
from terminal.payment.states import State

_APPROVED = frozenset(
    {State.APPROVED, State.PARTIALLY_REFUNDED, State.REFUNDED, State.VOIDED, State.FORWARDED}
)


_HOLD_APPROVED = frozenset(
    {State.HELD, State.INCREMENTED, State.CAPTURED, State.RELEASED, State.EXPIRED}
)
"""A pre-authorisation the bank approved, whatever became of its hold."""


def result_of(txn: Transaction) -> str:
    """The outcome as the operator saw it (see the module docstring)."""
    state = txn.state
    if state is State.APPROVED_OFFLINE or (state in _APPROVED and txn.offline):
        return "approved_offline"
    if state in _APPROVED:
        return "approved"
    if state in (State.DECLINED, State.DECLINED_AFTER_FORWARD):
        return "declined"
    if txn.rule == "partial_not_allowed":  # a partial approval reversed: declined for the user
        return "declined"
    if state in _HOLD_APPROVED:
        return "approved"
    if state is State.CANCELLED:
        return "cancelled"
    if state is State.SUBMITTED:
        return "pending"
    if state in (State.CREATED, State.CARD_READ, State.AUTHORISING):
        return "pending"
    return "error"


def view(txn: Transaction) -> TransactionView:
    return TransactionView(
        id=txn.id,
        type=txn.type,
        state=txn.state.value,
        result=result_of(txn),
        amount=txn.amount,
        entry=txn.entry,
        masked_pan=txn.masked_pan,
        created_at=txn.created_at,
        code=txn.code,
        auth_code=txn.auth_code,
        ref=txn.ref,
        refunded=txn.refunded if txn.type == "sale" else None,
        scheme=txn.scheme,
        aid=txn.aid,
        reference=txn.reference,
        tip=txn.tip,
        message=txn.message,
        label=txn.label,
        cryptogram_type=txn.cryptogram_type,
        cvm=txn.cvm,
        requested=txn.requested,
        held=txn.held if txn.type == "preauth" else None,
        captured=_captured(txn) if txn.type == "preauth" else None,
        expires_at=txn.expires_at,
        paid_with=debit.sentence() if (debit := debit_of_text(txn.wallet_debit)) else "",
    )


def _captured(txn: Transaction) -> Amount:
    return txn.captured if txn.captured is not None else Amount.zero(txn.amount.currency)


def open_holds(journal: Journal) -> list[TransactionView]:
    """Pre-authorisations still held, newest first (the screen's "Open tabs")."""
    return [view(t) for t in journal.find("type = 'preauth' AND state IN ('held', 'incremented')")]


def history(journal: Journal, *, limit: int = 100, search: str = "") -> list[TransactionView]:
    """Newest first; `search` matches the id, the masked PAN's digits or the reference."""
    if search:
        like = f"%{search.strip()}%"
        rows = journal.find(
            "id LIKE ? OR masked_pan LIKE ? OR reference LIKE ?", (like, like, like), limit=limit
        )
    else:
        rows = journal.find(limit=limit)
    return [view(txn) for txn in rows]


def _totals_result(txn: Transaction) -> str:
    if txn.state is State.VOIDED:
        return "voided"
    if txn.state is State.REVERSED:
        return "reversed"
    return result_of(txn)


def batch_transactions(journal: Journal, batch: int | None = None) -> list[Transaction]:
    """Every finished (or queued) transaction of a batch, oldest first; in-flight excluded."""
    number = journal.batch_no if batch is None else batch
    rows = journal.find(
        "batch = ? AND state NOT IN ('created', 'card_read', 'authorising')", (number,)
    )
    return list(reversed(rows))


def totals(journal: Journal, currency: Currency) -> Totals:
    """Count and sum per (type, entry, result) since the last batch close."""
    groups: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    by_hour: dict[int, int] = defaultdict(int)
    for txn in batch_transactions(journal):
        result = _totals_result(txn)
        key = (txn.type, txn.entry, result, txn.amount.currency.code)
        groups[key][0] += 1
        groups[key][1] += txn.amount.minor
        if txn.type == "sale" and result in ("approved", "approved_offline"):
            by_hour[txn.created_at.astimezone().hour] += txn.amount.minor
    lines = [
        TotalsLine(type=k[0], entry=k[1], result=k[2], count=v[0], total=Amount.of(v[1], k[3]))
        for k, v in sorted(groups.items())
    ]
    return Totals(
        since=journal.batch_opened_at(),
        lines=lines,
        by_hour={hour: Amount.of(value, currency) for hour, value in sorted(by_hour.items())},
    )


def queue_status(journal: Journal, currency: Currency) -> QueueStatus:
    """Pending advices and reversals (count, total, oldest, last error) and the open batch's
    offline sales the bank declined."""
    row = journal.rows(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN kind = 'advice' THEN amount END), 0), "
        "MIN(created_at), SUM(kind = 'reverse'), SUM(kind IN ('capture', 'preauth_cancel')) "
        "FROM outbox WHERE done_at IS NULL"
    )[0]
    error = journal.scalar(
        "SELECT last_error FROM outbox WHERE done_at IS NULL AND last_error != '' "
        "ORDER BY last_attempt_at DESC LIMIT 1"
    )
    declined = journal.scalar(
        "SELECT COUNT(*) FROM transactions WHERE state = 'declined_after_forward' "
        "AND batch = (SELECT value FROM meta WHERE key = 'batch')"
    )
    oldest: datetime | None = parse_iso(row[2]) if row[2] else None
    return QueueStatus(
        count=int(row[0]),
        total=Amount.of(int(row[1]), currency),
        oldest=oldest,
        last_error=error or "",
        reversals=int(row[3] or 0),
        declined_offline=int(declined or 0),
        holds=int(row[4] or 0),
    )


def parked_count(journal: Journal) -> int:
    """Queued messages the gateway refused outright; they wait for a technician."""
    return int(journal.scalar("SELECT COUNT(*) FROM outbox WHERE done_at IS NULL AND parked = 1"))


def offline_declined(journal: Journal) -> list[TransactionView]:
    """Offline sales the bank declined when they were forwarded (the merchant's loss)."""
    return [view(t) for t in journal.find("state = 'declined_after_forward'")]


def offline_facts(
    rows: Rows,
    now: datetime,
    velocity_window: timedelta,
    fingerprint: str,
    amount: Amount,
    entry: str,
    expiry: str,
) -> OfflineFacts:
    """What the journal says about pending offline sales and this card's recent offline use,
    for the offline rules (risk.decide_offline). `rows` reads inside the commit that approves
    (`Journal.enqueue_unless`), so the caps are checked and taken in one commit."""
    pending = rows(
        "SELECT COUNT(*), COALESCE(SUM(amount), 0), MIN(created_at) FROM transactions "
        "WHERE state = 'approved_offline'",
        (),
    )[0]
    card = rows(
        "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM transactions "
        "WHERE fingerprint = ? AND offline = 1 AND created_at >= ?",
        (fingerprint, iso(now - velocity_window)),
    )[0]
    return OfflineFacts(
        amount=amount,
        entry=entry,
        card_expiry=expiry,
        now=now,
        pending_count=int(pending[0]),
        pending_total=Amount.of(int(pending[1]), amount.currency),
        oldest_pending=parse_iso(pending[2]) if pending[2] else None,
        card_count=int(card[0]) if fingerprint else 0,
        card_total=Amount.of(int(card[1]) if fingerprint else 0, amount.currency),
    )
