"""The engine's decisions, with a scripted bank link (the real simulator is in integration)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from scripted_bank import ScriptedBank, answer

from drivers.base import DeviceNotFound
from terminal.emv.card_data import CardData
from terminal.errors import UsageError
from terminal.money import Amount
from terminal.payment.api import EntryMethod, Progress, Result, SaleRequest, Stage
from terminal.payment.bank import NoAnswer, NotSent, Refused
from terminal.payment.engine import Engine
from terminal.payment.errors import RefundNotAllowed, UnknownTransaction, VoidNotAllowed
from terminal.payment.fingerprint import CardFingerprint
from terminal.payment.journal import Change, Journal
from terminal.payment.recovery import OwnerLock
from terminal.payment.states import Event, State
from terminal.settings import Settings

PAN = "4761739001010010"
FINGERPRINT = CardFingerprint(b"k" * 32)


def eur(text: str) -> Amount:
    return Amount.parse(text, "EUR")


class PlainCard:
    """Hands the engine a card (the scripted bank does not check cryptograms)."""

    def __init__(
        self,
        pan: str = PAN,
        expiry: str = "301231",
        *,
        error: Exception | None = None,
        never: bool = False,
        cdcvm: bool = False,
    ) -> None:
        self.pan, self.expiry, self.error, self.never, self.cdcvm = pan, expiry, error, never, cdcvm
        self.reads = 0

    async def read_card(self, amount: Amount, cancel: asyncio.Event, progress: Any) -> CardData:
        self.reads += 1
        if self.never:
            await asyncio.sleep(3600)
        if self.error is not None:
            raise self.error
        return CardData(
            scheme="visa",
            aid="A0000000031010",
            pan=self.pan,
            expiry=self.expiry,
            emv={"9F26": "00" * 8},
            label="VISA CREDIT",
            cdcvm=self.cdcvm,
        )


class Steps(list[Progress]):
    def __call__(self, step: Progress) -> None:
        self.append(step)

    @property
    def stages(self) -> list[Stage]:
        return [s.stage for s in self]


def settings_for(tmp_path: Path, **sections: dict[str, Any]) -> Settings:
    data: dict[str, Any] = {"terminal": {"data_dir": str(tmp_path / "data")}}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Settings.model_validate(data)


@pytest.fixture
def bank() -> ScriptedBank:
    return ScriptedBank()


@pytest.fixture
async def engine(tmp_path: Path, bank: ScriptedBank) -> AsyncIterator[Engine]:
    settings = settings_for(tmp_path)
    journal = Journal.open(settings.data_dir)
    engine = Engine(settings, journal, bank, fingerprint=FINGERPRINT, card_capture=PlainCard())
    await engine.start(forward=False)
    yield engine
    await engine.stop()


async def sale(engine: Engine, amount: str = "10.00", **kwargs: Any) -> tuple[Any, Steps]:
    steps = Steps()
    outcome = await engine.sale(SaleRequest(eur(amount), **kwargs), steps, asyncio.Event())
    return outcome, steps


async def test_online_approval_commits_the_signed_message_before_sending(
    engine: Engine, bank: ScriptedBank
) -> None:
    seen: list[tuple[State, bytes | None]] = []

    def check_journal(message_id: str, payload: dict[str, Any]) -> None:
        txn = engine.journal.get(message_id)
        seen.append((txn.state, txn.request))

    bank.on_deliver = check_journal
    bank.add(answer("approved", "00", "A1B2C3"))
    outcome, steps = await sale(engine)
    assert (outcome.result, outcome.code, outcome.auth_code) == (Result.APPROVED, "00", "A1B2C3")
    assert outcome.masked_pan == "476173******0010"
    assert seen[0][0] is State.AUTHORISING and seen[0][1] is not None
    assert bank.sent[0]["type"] == "authorize" and bank.sent[0]["id"] == outcome.id
    assert steps.stages == [
        Stage.CHECKING,
        Stage.WAITING_FOR_CARD,
        Stage.CARD_READ,
        Stage.AUTHORISING,
        Stage.RESULT,
    ]
    assert engine.transaction(outcome.id).state == "approved"


async def test_an_online_sale_waits_for_two_fsyncs_its_request_and_its_result(
    engine: Engine, bank: ScriptedBank
) -> None:
    bank.add(answer("approved", "00", "A1B2C3"))
    syncs, commits = engine.journal.syncs, engine.journal.commits
    outcome, _ = await sale(engine)
    assert outcome.result is Result.APPROVED
    assert engine.journal.commits - commits == 3  # row, request, result
    assert engine.journal.syncs - syncs == 2  # the row rides on the request's fsync


async def test_online_decline_names_the_code(engine: Engine, bank: ScriptedBank) -> None:
    bank.add(answer("declined", "51", reason=""))
    outcome, _ = await sale(engine)
    assert (outcome.result, outcome.code) == (Result.DECLINED, "51")
    assert outcome.message == "Declined by the bank: insufficient funds (code 51)."


async def test_gateway_down_approves_offline_and_queues_the_advice_with_the_sale_id(
    engine: Engine, bank: ScriptedBank
) -> None:
    bank.add(NotSent("connection refused"))
    outcome, _ = await sale(engine, "12.00")
    assert outcome.result is Result.APPROVED_OFFLINE
    assert "floor limit of EUR 50.00" in outcome.message
    queued = engine.journal.pending()
    assert [(q.kind, q.message_id) for q in queued] == [("advice", outcome.id)]
    status = engine.queue_status()
    assert (status.count, status.total, status.reversals) == (1, eur("12.00"), 0)


async def test_gateway_down_above_the_floor_limit_declines_naming_it(
    engine: Engine, bank: ScriptedBank
) -> None:
    engine.card_capture = PlainCard(cdcvm=True)  # a phone: above the CVM limit is fine
    bank.add(NotSent())
    outcome, _ = await sale(engine, "50.01")
    assert (outcome.result, outcome.code) == (Result.DECLINED, "61")
    assert "above the offline floor limit of EUR 50.00" in outcome.message
    assert engine.journal.pending() == []


async def test_offline_velocity_stops_the_fourth_sale_on_one_card(
    engine: Engine, bank: ScriptedBank
) -> None:
    results = []
    for _ in range(4):
        bank.add(NotSent())
        outcome, _ = await sale(engine, "5.00")
        results.append(outcome.result)
    assert results[:3] == [Result.APPROVED_OFFLINE] * 3
    assert results[3] is Result.DECLINED
    assert engine.journal.get(outcome.id).rule == "velocity_count"
    assert "(limit 3)" in outcome.message


async def test_no_answer_queues_a_reversal_before_the_operator_is_told(
    engine: Engine, bank: ScriptedBank
) -> None:
    bank.add(NoAnswer("read timeout"), answer("reversed"))
    outcome, steps = await sale(engine)
    assert outcome.result is Result.ERROR and outcome.code == "68"
    assert [p["type"] for p in bank.sent] == ["authorize", "reverse"]
    assert bank.sent[1]["ref"] == outcome.id
    assert engine.journal.get(outcome.id).state is State.REVERSED
    assert "payment was reversed: nothing is charged" in outcome.message
    assert Stage.REVERSING in steps.stages
    states = [h[2] for h in engine.journal.history_of(outcome.id)]
    assert states[-3:] == ["unknown", "reversing", "reversed"]


async def test_reversal_stays_queued_while_the_gateway_is_silent(
    engine: Engine, bank: ScriptedBank
) -> None:
    bank.add(NoAnswer(), NotSent())
    outcome, _ = await sale(engine)
    assert engine.journal.get(outcome.id).state is State.REVERSING
    assert "A reversal is stored" in outcome.message
    assert engine.queue_status().reversals == 1


async def test_a_refused_message_fails_without_money_moving(
    engine: Engine, bank: ScriptedBank
) -> None:
    bank.add(Refused("401 unknown_key"))
    outcome, _ = await sale(engine)
    assert outcome.result is Result.ERROR
    assert "401 unknown_key" in outcome.message
    assert engine.journal.get(outcome.id).state is State.FAILED


async def test_unwritable_journal_refuses_the_sale_before_the_card_is_read(
    engine: Engine, bank: ScriptedBank
) -> None:
    engine.journal._conn.execute("PRAGMA query_only = 1")
    capture = engine.card_capture
    assert isinstance(capture, PlainCard)
    outcome, steps = await sale(engine)
    assert outcome.result is Result.ERROR and outcome.id == ""
    assert "cannot be written" in outcome.message
    assert capture.reads == 0 and bank.sent == []
    assert Stage.WAITING_FOR_CARD not in steps.stages


async def test_operator_cancel_while_waiting_for_the_card(
    engine: Engine, bank: ScriptedBank
) -> None:
    engine.card_capture = PlainCard(never=True)
    cancel = asyncio.Event()
    task = asyncio.create_task(engine.sale(SaleRequest(eur("3.00")), Steps(), cancel))
    await asyncio.sleep(0.05)
    cancel.set()
    outcome = await task
    assert outcome.result is Result.CANCELLED
    assert engine.journal.get(outcome.id).state is State.CANCELLED
    assert bank.sent == []


async def test_no_card_within_the_timeout_cancels(engine: Engine, bank: ScriptedBank) -> None:
    engine.card_capture = PlainCard(never=True)
    outcome, _ = await sale(engine, timeout_s=0.05)
    assert outcome.result is Result.CANCELLED
    assert "within 0 s" in outcome.message or "within" in outcome.message


async def test_a_reader_error_ends_the_sale_with_its_sentence(engine: Engine) -> None:
    engine.card_capture = PlainCard(error=DeviceNotFound("The card reader is unplugged."))
    outcome, _ = await sale(engine)
    assert (outcome.result, outcome.message) == (Result.ERROR, "The card reader is unplugged.")


async def test_no_reader_configured_is_a_device_error(engine: Engine) -> None:
    engine.card_capture = None
    outcome, _ = await sale(engine)
    assert outcome.result is Result.ERROR and "No card reader" in outcome.message
    assert outcome.result.exit_code == 3


async def test_a_plain_card_above_the_cvm_limit_is_declined_before_sending(
    engine: Engine, bank: ScriptedBank
) -> None:
    outcome, _ = await sale(engine, "60.00")
    assert outcome.result is Result.DECLINED and "phone or watch" in outcome.message
    assert bank.sent == []
    engine.card_capture = PlainCard(cdcvm=True)
    bank.add(answer("approved"))
    outcome, _ = await sale(engine, "60.00")
    assert outcome.result is Result.APPROVED


async def test_above_the_contactless_limit_nothing_starts(
    engine: Engine, bank: ScriptedBank
) -> None:
    outcome, _ = await sale(engine, "500.01")
    assert outcome.result is Result.DECLINED and outcome.id == ""
    assert engine.history() == []


async def test_wrong_currency_is_a_usage_error_before_the_engine(engine: Engine) -> None:
    request = SaleRequest(Amount.parse("1.00", "USD"))
    with pytest.raises(UsageError) as raised:
        request.check(engine.currency)
    assert raised.value.sentence == "This terminal takes EUR, not USD."
    assert raised.value.exit_code == 2
    # A door that forgot to check still gets an outcome, and nothing starts.
    outcome = await engine.sale(request, Steps(), asyncio.Event())
    assert (outcome.result, outcome.id) == (Result.ERROR, "")
    assert outcome.message == "This terminal takes EUR, not USD."
    assert engine.history() == []


async def test_qr_scan_without_a_camera_is_a_device_error(engine: Engine) -> None:
    outcome, _ = await sale(engine, method=EntryMethod.QR_SCAN)
    assert outcome.result is Result.ERROR and "No camera" in outcome.message


async def approved_sale(engine: Engine, bank: ScriptedBank, amount: str = "20.00") -> str:
    bank.add(answer("approved", "00", "AUTH01"))
    outcome, _ = await sale(engine, amount)
    assert outcome.result is Result.APPROVED
    return str(outcome.id)


async def test_refunds_up_to_the_sale_amount_then_refuse(
    engine: Engine, bank: ScriptedBank
) -> None:
    sale_id = await approved_sale(engine, bank)
    bank.add(answer("approved"))
    first = await engine.refund(sale_id, eur("5.00"), Steps())
    assert first.result is Result.APPROVED
    assert engine.journal.get(sale_id).state is State.PARTIALLY_REFUNDED
    sent_before = len(bank.sent)
    with pytest.raises(RefundNotAllowed) as raised:
        await engine.refund(sale_id, eur("15.01"), Steps())
    assert raised.value.sentence == (
        f"Refund of EUR 15.01 refused: only EUR 15.00 of sale {sale_id} (EUR 20.00) is left "
        "to refund. Nothing was sent."
    )
    assert raised.value.exit_code == 2 and len(bank.sent) == sent_before
    bank.add(answer("approved"))
    rest = await engine.refund(sale_id, None, Steps())
    assert rest.amount == eur("15.00")
    sale_row = engine.journal.get(sale_id)
    assert (sale_row.state, sale_row.refunded) == (State.REFUNDED, eur("20.00"))
    assert [p["type"] for p in bank.sent].count("refund") == 2
    with pytest.raises(RefundNotAllowed):
        await engine.refund(sale_id, eur("0.01"), Steps())


async def test_refund_void_of_unknown_id_sends_nothing(engine: Engine, bank: ScriptedBank) -> None:
    with pytest.raises(UnknownTransaction):
        await engine.refund("no-such-id", None, Steps())
    with pytest.raises(UnknownTransaction):
        await engine.void("no-such-id", Steps())
    assert bank.sent == []


async def test_void_of_a_settled_sale_is_refused(engine: Engine, bank: ScriptedBank) -> None:
    sale_id = await approved_sale(engine, bank)
    engine.journal.close_batch("balanced", "{}")
    with pytest.raises(VoidNotAllowed) as raised:
        await engine.void(sale_id, Steps())
    assert (
        "settled in batch 1" in raised.value.sentence
        and "refund it instead" in raised.value.sentence
    )
    assert [p["type"] for p in bank.sent] == ["authorize"]


async def test_void_of_an_open_sale_and_then_a_second_void_is_refused(
    engine: Engine, bank: ScriptedBank
) -> None:
    sale_id = await approved_sale(engine, bank)
    bank.add(answer("approved"))
    outcome = await engine.void(sale_id, Steps())
    assert outcome.result is Result.APPROVED
    assert engine.journal.get(sale_id).state is State.VOIDED
    with pytest.raises(VoidNotAllowed):
        await engine.void(sale_id, Steps())
    with pytest.raises(RefundNotAllowed):
        await engine.refund(sale_id, None, Steps())


async def test_an_offline_sale_cannot_be_refunded_before_it_is_forwarded(
    engine: Engine, bank: ScriptedBank
) -> None:
    bank.add(NotSent())
    outcome, _ = await sale(engine)
    with pytest.raises(RefundNotAllowed) as raised:
        await engine.refund(outcome.id, None, Steps())
    assert "has not reached the bank yet" in raised.value.sentence


async def test_forwarder_records_a_declined_advice_and_parks_a_refused_one(
    engine: Engine, bank: ScriptedBank
) -> None:
    ids = []
    for _ in range(3):
        bank.add(NotSent())
        outcome, _ = await sale(
            engine,
            "4.00",
        )
        ids.append(outcome.id)
        engine.card_capture = PlainCard(pan=f"47617390010100{len(ids)}8")
    bank.add(
        Refused("409 id_conflict"),
        answer("declined", "51"),
        answer("approved", "00", "OFF001"),
    )
    report = await engine.flush()
    assert (report.sent, report.declined, report.parked, report.left) == (2, 1, 1, 1)
    assert [p["id"] for p in bank.sent[-3:]] == ids
    states = [engine.journal.get(i).state for i in ids]
    assert states == [State.APPROVED_OFFLINE, State.DECLINED_AFTER_FORWARD, State.FORWARDED]
    assert "409 id_conflict" in engine.queue_status().last_error
    assert engine.queue_status().declined_offline == 1  # the merchant's loss, on the screen
    engine.journal.close_batch("balanced", "{}")
    assert engine.queue_status().declined_offline == 0  # counted per open batch


async def test_forwarded_answers_share_journal_commits_and_a_stale_one_is_parked(
    engine: Engine, bank: ScriptedBank
) -> None:
    ids = []
    for n in range(6):
        bank.add(NotSent())
        engine.card_capture = PlainCard(pan=f"47617390010100{n}8")
        ids.append((await sale(engine, "4.00"))[0].id)
    bank.add(*(answer("approved", "00", f"OFF00{n}") for n in range(6)))
    # The last sale moves on its own before its answer is recorded (another process did it).
    engine.journal.apply(Change(ids[-1], Event.FORWARD_ACCEPTED, {"code": "00"}))
    commits = engine.journal.commits
    report = await engine.flush()
    assert (report.sent, report.parked) == (5, 1)
    assert engine.journal.commits - commits < 5  # five answers, fewer commits
    assert all(engine.journal.get(i).state is State.FORWARDED for i in ids)
    assert "not recorded" in engine.queue_status().last_error


async def test_forwarding_stops_at_the_head_when_the_gateway_is_down(
    engine: Engine, bank: ScriptedBank
) -> None:
    for n in range(2):
        bank.add(NotSent())
        engine.card_capture = PlainCard(pan=f"47617390010100{n}8")
        await sale(engine, "4.00")
    bank.add(NotSent("connection refused"))
    engine.forwarder.window = 1  # strictly one at a time
    report = await engine.flush()
    assert report.blocked and (report.sent, report.left) == (0, 2)
    assert len(bank.sent) == 3  # two authorize attempts and one advice: the second waited
    assert engine.queue_status().last_error == "gateway unreachable (connection refused)"


async def test_recovery_reverses_what_a_dead_process_left_in_flight(
    tmp_path: Path, bank: ScriptedBank
) -> None:
    settings = settings_for(tmp_path)
    journal = Journal.open(settings.data_dir)
    dead = OwnerLock(settings.data_dir)
    alive = OwnerLock(settings.data_dir)
    alive.acquire()
    for txn_id, owner, step in (("a", dead, 0), ("b", dead, 1), ("c", alive, 1), ("d", dead, 2)):
        journal.create(txn_id, "sale", eur("7.00"), entry="nfc", fields={"owner": owner.token})
        if step >= 1:
            journal.sign_and_apply(Change(txn_id, Event.SEND), lambda seq, at: b"authorize")
        if step == 2:
            journal.apply(Change(txn_id, Event.NO_ANSWER))
    engine = Engine(settings, journal, bank, fingerprint=FINGERPRINT, card_capture=PlainCard())
    bank.add(answer("reversed"), answer("reversed"))
    await engine.start(forward=False)
    try:
        assert journal.get("a").state is State.CANCELLED
        assert journal.get("b").state is State.REVERSING
        assert journal.get("c").state is State.AUTHORISING  # its process still runs
        assert journal.get("d").state is State.REVERSING
        await engine.flush()
        assert [p["ref"] for p in bank.sent] == ["b", "d"]
        assert journal.get("b").state is State.REVERSED
    finally:
        await engine.stop()
        alive.release()


async def test_history_and_totals_show_what_happened(engine: Engine, bank: ScriptedBank) -> None:
    sale_id = await approved_sale(engine, bank, "20.00")
    bank.add(NotSent())
    offline, _ = await sale(engine, "5.00")
    bank.add(answer("declined", "51"))
    await sale(engine, "6.00")
    bank.add(answer("approved"))
    await engine.refund(sale_id, eur("2.00"), Steps())
    rows = engine.history()
    assert [(r.type, r.result) for r in rows] == [
        ("refund", "approved"),
        ("sale", "declined"),
        ("sale", "approved_offline"),
        ("sale", "approved"),
    ]
    assert rows[-1].refunded == eur("2.00")
    assert engine.history(search=offline.id[:8])[0].id == offline.id
    lines = {(ln.type, ln.result): (ln.count, ln.total) for ln in engine.totals().lines}
    assert lines[("sale", "approved")] == (1, eur("20.00"))
    assert lines[("sale", "approved_offline")] == (1, eur("5.00"))
    assert lines[("refund", "approved")] == (1, eur("2.00"))
