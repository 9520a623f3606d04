"""The technician's screen: the effective configuration (secrets redacted) and the device
probes, after the technician PIN (issue 8: "the config screen in the operator UI requires the
technician PIN"). The probes are the ones `posterm devices probe` runs, in a worker thread so
the screen stays responsive while a reader senses for 2 s or the gateway is slow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Static

from terminal.i18n import N_, _
from terminal.ui.screens.base import PostermModalScreen
from terminal.ui.screens.pin_check import pin_refusal
from terminal.ui.widgets.keys_bar import KeysBar

if TYPE_CHECKING:
    from terminal.wiring.probes import ProbeResult

NO_PIN_SET = N_(
    "No technician PIN is set. Set one first with `posterm pin set technician`, "
    "then open this screen again."
)


def probe_lines(results: list[ProbeResult]) -> Text:
    """One line per device (✔/✘, kind, what the self-test saw), and the fix under a failure."""
    text = Text()
    for result in results:
        if result.found is None and result.healthy:
            mark, state = "·", _("not configured")
        elif result.healthy:
            mark, state = "✔", result.self_test
        else:
            mark, state = "✘", result.problem or result.self_test
        text.append(f"{mark} {result.kind:<8} ", style="bold")
        text.append(state + "\n")
        if not result.healthy and result.fix:
            text.append(f"    {_('Fix')}: {result.fix}\n")
    return text


class TechnicianScreen(PostermModalScreen[None]):
    """PIN first; then configuration and probes. F5 runs the probes again, Esc leaves."""

    BINDINGS = [
        Binding("escape", "close", N_("Back"), show=False),
        Binding("f5", "probe", N_("Probe again"), show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self.unlocked = False
        self.probing = False

    def compose(self) -> ComposeResult:
        with Vertical(id="technician-dialog", classes="dialog"):
            yield Static(_("Technician"), classes="heading")
            if not self.papp.settings.ui.technician_pin_hash:
                yield Static(_(NO_PIN_SET), id="pin-result", classes="declined", markup=False)
                yield KeysBar([("Esc", N_("Back"))])
                return
            with Vertical(id="technician-pin"):
                yield Static(_("Technician PIN"))
                yield Input(password=True, id="pin", placeholder="••••")
                yield Static("", id="pin-result")
            with VerticalScroll(id="technician-body"):
                yield Static(_("Devices"), classes="heading")
                yield Static("", id="probes", markup=False)
                yield Static(_("Configuration (secrets redacted)"), classes="heading")
                yield Static("", id="config", markup=False)
            yield KeysBar([("Enter", N_("Confirm")), ("Esc", N_("Back"))], id="pin-keys")
            yield KeysBar(
                [("↑↓", N_("Scroll")), ("F5", N_("Probe again")), ("Esc", N_("Back"))],
                id="technician-keys",
            )

    def on_mount(self) -> None:
        body = self.query("#technician-body")
        if body:
            body.first().display = False
            self.query_one("#technician-keys").display = False
            self.query_one("#pin", Input).focus()

    def _say(self, text: str, style: str = "") -> None:
        result = self.query_one("#pin-result", Static)
        result.update(text)
        result.set_classes(style)

    @on(Input.Submitted, "#pin")
    def submitted(self, event: Input.Submitted) -> None:
        if self.busy or self.unlocked:
            return
        pin = event.input.value
        event.input.value = ""
        self.busy = True
        self.run_worker(self._check(pin), exclusive=True, group="pin")

    async def _check(self, pin: str) -> None:
        refusal = await pin_refusal(
            self.papp,
            "technician",
            pin,
            self.papp.settings.ui.technician_pin_hash,
            purpose="technician screen",
            wrong=_("Wrong technician PIN."),
        )
        self.busy = False
        if refusal is not None:
            self._say(refusal, "declined")
            return
        self.unlocked = True
        self._unlock()

    def _unlock(self) -> None:
        from terminal.settings.toml_text import settings_text

        self.query_one("#technician-pin").display = False
        self.query_one("#pin-keys").display = False
        self.query_one("#technician-keys").display = True
        body = self.query_one("#technician-body", VerticalScroll)
        body.display = True
        body.focus()
        self.query_one("#config", Static).update(settings_text(self.papp.settings, docs=False))
        self.action_probe()

    def action_probe(self) -> None:
        if not self.unlocked or self.probing:
            return
        self.probing = True
        self.query_one("#probes", Static).update(_("Probing the devices and the bank link…"))
        self.run_worker(self._probe, thread=True, group="probe", exclusive=True)

    def _probe(self) -> None:
        from terminal.wiring.probes import probe_all

        try:
            shown: Text | str = probe_lines(probe_all(self.papp.settings))
        except Exception as error:  # a probe bug must not take the screen down
            shown = _("The device check failed: {reason}").format(reason=error)
        self.app.call_from_thread(self._show_probes, shown)

    def _show_probes(self, shown: Text | str) -> None:
        self.probing = False
        self.query_one("#probes", Static).update(shown)

    def action_close(self) -> None:
        if not self.busy:
            self.dismiss()
