"""The operator application, built by `build_app` so `posterm run`, `posterm demo` and the tests
assemble it from the same parts: settings, an engine, an optional printer and customer display,
and (for the demo) keys that make a simulated card or phone pay."""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import App
from textual.binding import Binding
from textual.message import Message

from drivers.base import LineDisplay
from terminal.errors import PostermError
from terminal.gateway.trust import link_alarm
from terminal.i18n import N_, _, set_language
from terminal.payment.api import PaymentEngine, QueueStatus
from terminal.receipts.printing import ReceiptPrinting
from terminal.security.key_hierarchy import RootPlace
from terminal.security.pins import PinGuard
from terminal.settings import Settings
from terminal.ui.customer_display import CustomerDisplay
from terminal.ui.presenter import ScreenCodePresenter

if TYPE_CHECKING:
    from terminal.ecr.server import EcrServer  # aiohttp loads only when the till link is on

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DemoAction:
    """A key the demo operator presses to act as the customer (tap the simulated card...)."""

    key: str
    description: str
    run: Callable[[], Awaitable[None] | None]
    """Called from a worker thread if it is a plain function, on the loop if a coroutine."""


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """What the status bar shows."""

    gateway_online: bool
    queue: QueueStatus | None
    devices: dict[str, str]
    terminal_id: str
    note: str = ""
    link_alarm: str = ""
    """Set while the bank's TLS certificate fails verification (a security alarm)."""


class PostermApp(App[int]):
    """The terminal's screen: sale first, history, end of day and help a key away."""

    CSS_PATH = Path(__file__).with_name("posterm.tcss")
    TITLE = "posterm"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("f1,question_mark", "help", N_("Help"), show=False),
        Binding("ctrl+q", "quit", N_("Quit"), show=False, priority=True),
    ]

    def __init__(
        self,
        settings: Settings,
        engine: PaymentEngine,
        *,
        demo_actions: Sequence[DemoAction] = (),
        printing: ReceiptPrinting | None = None,
        display: LineDisplay | None = None,
        presenter: ScreenCodePresenter | None = None,
        ecr: EcrServer | None = None,
        manage_engine: bool = True,
        nexo: Any = None,
    ) -> None:
        super().__init__()
        self.manage_engine = manage_engine
        self._errors: list[float] = []
        self._engine_open = False
        self.settings = settings
        self.engine = engine
        self.demo_actions = tuple(demo_actions)
        self.printing = printing or ReceiptPrinting(settings, None)
        self.customer_display = CustomerDisplay(display)
        self.presenter = presenter or ScreenCodePresenter()
        self.devices: dict[str, str] = {
            "reader": "ready" if settings.devices.nfc != "none" else "none",
            "camera": "ready" if settings.devices.camera != "none" else "none",
            "printer": self.printing.state,
        }
        self.status_note = ""
        self._declined_warned = 0
        self._link_warned = False
        """Offline sales declined later that the merchant was already warned about."""
        self.pin_guard = PinGuard(settings.data_dir, keys=RootPlace.of(settings))
        self.sale_screen: Any = None
        self.ecr = ecr
        self.nexo = nexo
        """The nexo Terminal API server (terminal.nexo.server), sharing the ECR payments."""
        self.ecr_payment: Any = None
        payments = ecr.payments if ecr is not None else None
        if payments is None and nexo is not None:
            payments = nexo.door.payments
        if nexo is not None:
            nexo.door.operator_listeners.append(self._operator)
        if payments is not None:
            from terminal.ui.ecr_follow import ScreenFollowsTill

            payments.listeners.append(ScreenFollowsTill(self))
            payments.busy = lambda: self.sale_running and self.ecr_payment is None
        self._loop_thread: int | None = None
        self.sale_running = False

    async def on_mount(self) -> None:
        from terminal.ui.screens.sale import SaleScreen

        self._loop_thread = threading.get_ident()
        self.presenter.attach(self)
        if self.manage_engine and hasattr(self.engine, "__aenter__"):
            try:
                await self.engine.__aenter__()  # recovery, then the store-and-forward task
            except PostermError as error:
                self.exit(error.exit_code, message=error.sentence)
                return
            self._engine_open = True
        self.push_screen(SaleScreen())
        if self.ecr is not None:
            self.run_worker(self._start_ecr(), group="ecr")
        if self.nexo is not None:
            self.run_worker(self._start_nexo(), group="nexo")
        if self.printing.configured:
            self.set_interval(30, self._check_printer)
            self._check_printer()

    async def _start_ecr(self) -> None:
        assert self.ecr is not None
        try:
            await self.ecr.start()
        except PostermError as error:
            self.status_note = _("Till link off")
            self.notify(error.sentence, severity="error", timeout=15)

    def _operator(self, operator: str) -> None:
        """A till logged an operator in or out over nexo: the status bar names them."""
        self.status_note = _("Operator {operator}").format(operator=operator) if operator else ""

    async def _start_nexo(self) -> None:
        try:
            await self.nexo.start()
        except PostermError as error:
            self.nexo = None
            self.notify(error.sentence, severity="error", timeout=15)

    async def action_quit(self) -> None:
        await self.shutdown()
        self.exit(0)

    async def shutdown(self) -> None:
        """Stop the ECR API (letting a payment with the bank finish) and close the engine."""
        if self.nexo is not None:
            await self.nexo.door.payments.close()
            await self.nexo.stop()
        if self.ecr is not None:
            await self.ecr.stop()
        if self._engine_open:
            self._engine_open = False
            await self.engine.__aexit__(None, None, None)  # type: ignore[attr-defined]

    # -- things screens share -------------------------------------------------------------
    def status(self) -> StatusSnapshot:
        """The status bar's content; never raises (a broken journal shows as a note)."""
        try:
            queue: QueueStatus | None = self.engine.queue_status()
            online = self.engine.gateway_online
            note = self.status_note
        except Exception as error:  # the bar must keep drawing whatever the engine does
            log.warning("status not available: %s", error)
            queue, online, note = None, False, _("Status not available.")
        self.devices["printer"] = self.printing.state
        if queue is not None:
            self._warn_about_declined(queue.declined_offline)
        alarm = link_alarm(self.settings.data_dir)
        self._warn_about_link(alarm)
        return StatusSnapshot(
            online, queue, dict(self.devices), self.settings.terminal.terminal_id, note, alarm
        )

    def _warn_about_link(self, alarm: str) -> None:
        """A toast once each time the link stops verifying (the bar keeps showing it)."""
        if alarm and not self._link_warned:
            self.notify(
                _(
                    "SECURITY ALARM: the bank's certificate could not be verified. Offline "
                    "approvals are suspended. Call the technician."
                ),
                severity="error",
                timeout=120,
            )
        self._link_warned = bool(alarm)

    def _warn_about_declined(self, declined: int) -> None:
        """Tell the merchant, once per sale, that the bank declined a sale approved offline:
        the goods are gone and the money will not come (also after a restart)."""
        if declined > self._declined_warned:
            self.notify(
                _(
                    "The bank declined {count} sale(s) approved offline: those customers have "
                    "not paid. See History."
                ).format(count=declined - self._declined_warned),
                severity="error",
                timeout=120,
            )
        self._declined_warned = declined

    def deliver(self, message: Message, target: Any | None = None) -> None:
        """Post `message` to `target` (default: the active screen) from any thread."""

        def post() -> None:
            (target or self.screen).post_message(message)

        if self._loop_thread is None or threading.get_ident() == self._loop_thread:
            post()
        else:
            self.call_from_thread(post)

    def on_key(self, event: events.Key) -> None:
        """Demo keys work on every screen (the merchant code is shown on its own screen)."""
        for action in self.demo_actions:
            if event.key == action.key:
                event.stop()
                self.run_demo_action(action)
                return

    def run_demo_action(self, action: DemoAction) -> None:
        """Run a demo key's action without blocking the screen."""
        if inspect.iscoroutinefunction(action.run):
            self.run_worker(action.run(), group="demo", exit_on_error=False)
        else:
            self.run_worker(partial(self._demo_in_thread, action), thread=True, group="demo")

    def _demo_in_thread(self, action: DemoAction) -> None:
        """A demo action's failure is a notice on the screen, never the end of the demo."""
        try:
            action.run()
        except PostermError as error:
            self.call_from_thread(self.notify, error.sentence, severity="warning")
        except Exception as error:  # the demo keeps running whatever the simulators do
            log.exception("demo action %s failed", action.key)
            self.call_from_thread(self.notify, f"{action.description}: {error}", severity="error")

    def _check_printer(self) -> None:
        self.run_worker(self.printing.check, thread=True, group="printer", exclusive=True)

    def _handle_exception(self, error: Exception) -> None:
        """An unexpected error becomes a sentence on the screen and a log record, never a
        traceback; only a storm of them stops the screen (payments are in the journal).
        Headless (tests) keeps Textual's behaviour so a bug fails the test that found it."""
        if self.is_headless:
            super()._handle_exception(error)
            return
        now = time.monotonic()
        self._errors = [t for t in self._errors if now - t < 10] + [now]
        log.error("unexpected error in the operator screen", exc_info=error)
        if len(self._errors) > 5:
            self.exit(
                3,
                message="posterm: the screen stopped after repeated internal errors (details "
                "are in the log). Payments already taken are safe in the journal.",
            )
            return
        sentence = getattr(error, "sentence", "") or _(
            "The screen had an internal problem (details are in the log). Check history "
            "before repeating a payment."
        )
        self.notify(sentence, severity="error", timeout=15)

    # -- actions --------------------------------------------------------------------------
    def action_help(self) -> None:
        from terminal.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def build_app(
    settings: Settings,
    engine: PaymentEngine,
    *,
    demo_actions: Sequence[DemoAction] | None = None,
    printing: ReceiptPrinting | None = None,
    display: LineDisplay | None = None,
    presenter: ScreenCodePresenter | None = None,
    ecr: EcrServer | None = None,
    manage_engine: bool = True,
    nexo: Any = None,
) -> PostermApp:
    """The operator screen for `engine`, in the configured language.

    `presenter` is the `CodePresenter` given to the engine's factory, so merchant-presented
    codes appear on this screen; `demo_actions` add keys that play the customer's part; `ecr`
    serves the cash-register API from the screen's event loop, and its payments show here.
    Unless `manage_engine` is False, the app enters the engine's async context when it starts
    (recovery, store-and-forward task) and leaves it on Ctrl+Q.
    """
    set_language(settings.ui.language)
    return PostermApp(
        settings,
        engine,
        demo_actions=demo_actions or (),
        printing=printing,
        display=display,
        presenter=presenter,
        ecr=ecr,
        manage_engine=manage_engine,
        nexo=nexo,
    )


__all__ = ["DemoAction", "PostermApp", "StatusSnapshot", "build_app"]
