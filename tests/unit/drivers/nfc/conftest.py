"""A simulated card on the far side of nfcpy's UDP driver, or a real reader (--nfc-device)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from drivers.nfc import NfcReader
from simulators.card.applet import SimulatedCard
from simulators.card.emulator import CardEmulator
from simulators.card.isodep import IsoDepParameters
from simulators.card.testcards import load_test_cards
from tests.conftest import free_port
from tests.unit.drivers.nfc.udp_field import wait_listening

CARDS = load_test_cards()


@dataclass
class PresentedCard:
    """A simulated card serving taps in a thread until the test ends."""

    path: str
    applet: SimulatedCard
    emulator: CardEmulator
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    taps: list[int] = field(default_factory=list)

    def start(self) -> None:
        def serve() -> None:
            self.taps.append(self.emulator.serve(stop=self.stop))

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()


@pytest.fixture
def hardware(request: pytest.FixtureRequest) -> str | None:
    path: str | None = request.config.getoption("--nfc-device")
    return path


@pytest.fixture
def present(hardware: str | None) -> Iterator[Callable[..., PresentedCard]]:
    """present(profile, **emulator options) -> a card in the field of `udp:localhost:PORT`."""
    started: list[PresentedCard] = []

    def start(
        profile: str = "visa-credit",
        params: IsoDepParameters | None = None,
        slow_s: float = 0.3,
    ) -> PresentedCard:
        if hardware:
            pytest.skip("needs a simulated card profile; a real reader gets real cards")
        path = f"udp:localhost:{free_port()}"
        applet = SimulatedCard(CARDS[profile], CARDS, slow_s=slow_s)
        emulator = CardEmulator(
            path, applet.handle, technology=applet.technology, params=params, on_tap=applet.reset
        )
        emulator.listen_slice_s = 0.3
        card = PresentedCard(path, applet, emulator)
        card.start()
        wait_listening(path)
        started.append(card)
        return card

    yield start
    for card in started:
        card.stop.set()
        if card.thread is not None:
            card.thread.join(5)
        card.emulator.close()


@pytest.fixture
def open_reader() -> Iterator[Callable[[str], NfcReader]]:
    readers: list[NfcReader] = []

    def opener(path: str) -> NfcReader:
        reader = NfcReader(path)
        readers.append(reader)
        return reader

    yield opener
    for reader in readers:
        reader.close()
