"""Fleet figures against a real Mosquitto started here on a free loopback port, with the
password file and ACL of docs/fleet.md:

- 500 simulated terminals (light paho clients on one asyncio loop in this process, each with
  its own connection and credentials) publish a retained status every second:
  - delivery latency, terminal publish → an operator's subscriber, against the same on an
    idle broker (one message at a time) measured first;
  - freshness of what `posterm fleet status` shows (the real `read_statuses`): age of each
    listed status when the listing returns, against the age it would have if the broker
    and the listing took no time (time since that terminal's last publish);
- push-config to all 500 (the real `prepare` + `send` of `posterm fleet push-config`, each
  light terminal verifying the Ed25519 bundle with the terminal's `verify_bundle`): time until
  every result is in, against an unsigned echo exchange over the same path;
- the terminal's CPU cost of fleet reporting: the real `FleetReporter` on a real engine (gateway
  simulator, journal) sampling every second and publishing every second (heartbeat_s = 1, the
  worst case), CPU of this process over a window with the reporter minus the same window
  without it, scaled to one hour.

`make bench QUICK=1` runs 50 terminals and short windows (a smoke run).
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.harness import Row
from simulators.broker import OPERATOR, LocalBroker, mosquitto_installed
from simulators.loopback import free_port
from terminal.fleet.bundles import BundleRefused, trusted_keys, verify_bundle
from terminal.fleet.operator_keys import init_keys
from terminal.fleet.push import Push, prepare, send
from terminal.fleet.reporter import encode
from terminal.fleet.topics import TerminalTopics
from terminal.settings.sections import FleetSection

AREA = "fleet"
PREFIX = "posterm"
MERCHANT = "BENCHSHOP"
OPERATOR_PASSWORD = "bench-operator-pw"


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[round(0.95 * (len(ordered) - 1))]


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class LightFleet:
    """`count` terminals as bare paho clients driven by this asyncio loop (paho's external
    loop hooks: the loop watches each socket, paho reads and writes)."""

    def __init__(self, port: int, ids: list[str], keys_file: Path) -> None:
        self.port = port
        self.ids = ids
        self.keys = trusted_keys([str(keys_file)])
        self.loop = asyncio.get_running_loop()
        self.clients: dict[str, mqtt.Client] = {}
        self.connected = 0
        self.seq = dict.fromkeys(ids, 0)
        self.published: dict[tuple[str, int], float] = {}
        self.last_published: dict[str, float] = {}
        self.applied = dict.fromkeys(ids, 0)
        self.echo = False
        """Baseline mode: answer every bundle at once, unverified."""
        self.latencies: list[float] | None = None
        """While a list: delivery latencies seen by the dashboard are appended."""
        self._misc: asyncio.Task[None] | None = None
        self._publishing: asyncio.Task[None] | None = None
        self.dashboard = self._client("bench-dashboard", OPERATOR, OPERATOR_PASSWORD)
        self.dashboard.on_connect = lambda c, u, f, r, p: c.subscribe(f"{PREFIX}/+/+/status", 0)
        self.dashboard.on_message = self._delivered

    # -- paho on this loop -------------------------------------------------------------
    def _client(self, client_id: str, user: str, password: str) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.username_pw_set(user, password)
        loop = self.loop

        def opened(c: mqtt.Client, userdata: Any, sock: Any) -> None:
            loop.add_reader(sock, c.loop_read)

        def closed(c: mqtt.Client, userdata: Any, sock: Any) -> None:
            loop.remove_reader(sock)

        def writing(c: mqtt.Client, userdata: Any, sock: Any) -> None:
            loop.add_writer(sock, c.loop_write)

        def written(c: mqtt.Client, userdata: Any, sock: Any) -> None:
            loop.remove_writer(sock)

        client.on_socket_open = opened
        client.on_socket_close = closed
        client.on_socket_register_write = writing
        client.on_socket_unregister_write = written
        return client

    async def connect(self) -> None:
        everyone = [self.dashboard]
        for terminal_id in self.ids:
            client = self._client(f"bench-{terminal_id}", terminal_id, f"pw-{terminal_id}")
            client.user_data_set(terminal_id)
            client.on_connect = self._connected
            client.on_message = self._bundle
            self.clients[terminal_id] = client
            everyone.append(client)
        for client in everyone:
            client.connect("127.0.0.1", self.port, keepalive=60)
            await asyncio.sleep(0)
        self._misc = asyncio.create_task(self._housekeeping(everyone))
        deadline = time.monotonic() + 60
        while self.connected < len(self.ids) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.connected < len(self.ids):
            raise RuntimeError(f"only {self.connected} of {len(self.ids)} terminals connected")

    async def _housekeeping(self, clients: list[mqtt.Client]) -> None:
        while True:
            for client in clients:
                client.loop_misc()
            await asyncio.sleep(1)

    async def close(self) -> None:
        if self._publishing is not None:
            self._publishing.cancel()
        for client in [self.dashboard, *self.clients.values()]:
            client.disconnect()
        await asyncio.sleep(0.2)
        if self._misc is not None:
            self._misc.cancel()

    def _connected(self, client: mqtt.Client, tid: str, flags: Any, reason: Any, p: Any) -> None:
        if reason.is_failure:
            raise RuntimeError(f"{tid} refused by the broker: {reason}")
        client.subscribe(TerminalTopics(PREFIX, MERCHANT, tid).config_set, qos=1)
        self.connected += 1

    # -- status ------------------------------------------------------------------------
    def publish_status(self, terminal_id: str) -> None:
        self.seq[terminal_id] += 1
        seq = self.seq[terminal_id]
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        status = {
            "terminal_id": terminal_id,
            "merchant_id": MERCHANT,
            "online": True,
            "version": "bench",
            "started_at": now,
            "bank": "online",
            "queue": {"count": 0, "total": {"value": 0, "currency": "EUR"}, "oldest_age_s": 0},
            "declined_later": 0,
            "devices": {"nfc": "ok", "camera": "none", "printer": "ok", "display": "none"},
            "config_digest": "sha256:" + "0" * 64,
            "last_sale_at": now,
            "at": now,
            "bench_seq": seq,
        }
        moment = time.monotonic()
        self.published[(terminal_id, seq)] = moment
        self.last_published[terminal_id] = moment
        topic = TerminalTopics(PREFIX, MERCHANT, terminal_id).status
        self.clients[terminal_id].publish(topic, encode(status), qos=1, retain=True)

    def start_publishing(self, period_s: float = 1.0, slots: int = 50) -> None:
        """Every terminal once per `period_s`, spread over `slots` even steps."""

        async def publish() -> None:
            start = time.monotonic()
            step = 0
            while True:
                for terminal_id in self.ids[step % slots :: slots]:
                    self.publish_status(terminal_id)
                step += 1
                await asyncio.sleep(max(0.0, start + step * period_s / slots - time.monotonic()))

        self._publishing = asyncio.create_task(publish())

    def _delivered(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self.latencies is None or message.retain:
            return
        status = json.loads(message.payload)
        sent = self.published.get((status["terminal_id"], status["bench_seq"]))
        if sent is not None:
            self.latencies.append(time.monotonic() - sent)

    # -- configuration -----------------------------------------------------------------
    def _bundle(self, client: mqtt.Client, tid: str, message: mqtt.MQTTMessage) -> None:
        answer: dict[str, Any] = {"terminal_id": tid, "merchant_id": MERCHANT}
        if self.echo:
            answer.update(result="applied", version=None)
        else:
            try:
                bundle = verify_bundle(
                    bytes(message.payload),
                    self.keys,
                    terminal_id=tid,
                    merchant_id=MERCHANT,
                    applied_version=self.applied[tid],
                    now=datetime.now(UTC),
                )
            except BundleRefused as refused:
                answer.update(result="refused", sentence=refused.sentence, version=None)
            else:
                self.applied[tid] = bundle.version
                answer.update(result="applied", version=bundle.version)
        topic = TerminalTopics(PREFIX, MERCHANT, tid).config_result
        client.publish(topic, json.dumps(answer), qos=1)


def _operator(port: int) -> FleetSection:
    return FleetSection(
        enabled=True,
        broker=f"mqtt://127.0.0.1:{port}",
        username=OPERATOR,
        password=OPERATOR_PASSWORD,
        topic_prefix=PREFIX,
    )


async def _idle_latency(fleet: LightFleet, samples: int) -> list[float]:
    """One status at a time through the idle broker to the dashboard."""
    fleet.latencies = []
    terminal_id = fleet.ids[0]
    for _ in range(samples):
        before = len(fleet.latencies)
        fleet.publish_status(terminal_id)
        deadline = time.monotonic() + 5
        while len(fleet.latencies) == before and time.monotonic() < deadline:
            await asyncio.sleep(0.0005)
    found, fleet.latencies = fleet.latencies, None
    return found


async def _fleet_phase(
    port: int, ids: list[str], folder: Path, reads: int, pushes: int
) -> dict[str, Any]:
    from terminal.fleet.listing import read_statuses

    keys = init_keys(folder / "keys")
    fragment = folder / "change.toml"
    fragment.write_text('[offline]\nfloor_limit = "25.00"\n', encoding="utf-8")
    operator = _operator(port)
    loop = asyncio.get_running_loop()
    fleet = LightFleet(port, ids, keys.public)
    figures: dict[str, Any] = {"freshness": [], "ideal": [], "listing_s": [], "listed": []}
    try:
        started = time.perf_counter()
        await fleet.connect()
        figures["connect_s"] = time.perf_counter() - started
        figures["idle_latency"] = await _idle_latency(fleet, 50)
        fleet.start_publishing()
        await asyncio.sleep(3)  # every terminal has published a few times
        fleet.latencies = []
        for _ in range(reads):
            await asyncio.sleep(1)
            asked = time.monotonic()
            statuses = await loop.run_in_executor(None, read_statuses, operator)
            shown = time.monotonic()
            figures["listing_s"].append(shown - asked)
            figures["listed"].append(len(statuses))
            for status in statuses:
                sent = fleet.published[(status["terminal_id"], status["bench_seq"])]
                figures["freshness"].append(shown - sent)
                figures["ideal"].append(shown - fleet.last_published[status["terminal_id"]])
        figures["latency"], fleet.latencies = fleet.latencies, None
        figures["push_s"], figures["echo_s"], figures["prepare_s"] = [], [], []
        for version in range(1, pushes + 1):

            def push(version: int = version) -> tuple[float, float, int]:
                began = time.perf_counter()
                signed = prepare(
                    operator,
                    fragment,
                    keys.private,
                    terminals=[],
                    merchant=MERCHANT,
                    version=version,
                    expires_in_s=600,
                )
                prepared = time.perf_counter() - began
                applied = sum(a["result"] == "applied" for a in send(operator, signed, 120))
                return time.perf_counter() - began, prepared, applied

            total, prepared, applied = await loop.run_in_executor(None, push)
            if applied != len(ids):
                raise RuntimeError(f"push {version}: {applied} of {len(ids)} applied")
            figures["push_s"].append(total)
            figures["prepare_s"].append(prepared)
            fleet.echo = True
            recipients = dict.fromkeys(ids, MERCHANT)

            def echo(recipients: dict[str, str] = recipients) -> tuple[float, int]:
                began = time.perf_counter()
                baseline = Push("unsigned", 0, recipients, ())
                answered = sum(1 for _ in send(operator, baseline, 120))
                return time.perf_counter() - began, answered

            elapsed, answered = await loop.run_in_executor(None, echo)
            fleet.echo = False
            if answered != len(ids):
                raise RuntimeError(f"echo: {answered} of {len(ids)} answered")
            figures["echo_s"].append(elapsed)
    finally:
        await fleet.close()
    return figures


def _reporter_cpu(port: int, folder: Path, window_s: float, pairs: int) -> list[float]:
    """CPU seconds per hour the real reporter adds to a running engine, one value per pair
    of windows (without, then with)."""
    from simulators.bank.local import GatewaySim
    from terminal.fleet.reporter import FleetReporter
    from terminal.payment.factory import build_engine
    from terminal.settings import load_settings
    from terminal.wiring.presence import devices_look

    sim = GatewaySim(folder / "sim")
    try:
        config = sim.terminal_config(
            folder,
            terminal_id="BENCHREP",
            merchant_id=MERCHANT,
            devices={"nfc": "none"},
            fleet={
                "enabled": True,
                "broker": f"mqtt://127.0.0.1:{port}",
                "username": "BENCHREP",
                "password": "pw-BENCHREP",
                "topic_prefix": PREFIX,
                "heartbeat_s": 1,
            },
        )
        settings = load_settings(config, environ={})
        engine = build_engine(settings)
        costs: list[float] = []

        async def measure() -> None:
            await engine.start()
            await engine.link_checked()
            try:
                for _ in range(pairs):
                    before = _cpu_s()
                    await asyncio.sleep(window_s)
                    idle = _cpu_s() - before
                    look = devices_look(settings, printer_opened=False, display_opened=False)
                    reporter = FleetReporter(settings, engine, look)
                    stop = asyncio.Event()
                    task = asyncio.create_task(reporter.run(stop))
                    await asyncio.sleep(2)  # connected, first status out
                    before = _cpu_s()
                    await asyncio.sleep(window_s)
                    busy = _cpu_s() - before
                    stop.set()
                    await task
                    costs.append(max(0.0, busy - idle) / window_s * 3600)
            finally:
                await engine.stop()

        asyncio.run(measure())
        return costs
    finally:
        sim.stop()


def _row(figure: str, values: list[float], unit: str, *, scale: float = 1.0, **more: str) -> Row:
    scaled = [v * scale for v in values]
    return Row(
        AREA,
        figure,
        statistics.median(scaled),
        unit,
        min(scaled),
        max(scaled),
        len(scaled),
        **more,
    )


def run(quick: bool) -> list[Row]:
    if not mosquitto_installed():
        raise RuntimeError("the fleet benchmark needs mosquitto (make setup installs it)")
    count = 50 if quick else 500
    reads, pushes = (2, 1) if quick else (5, 3)
    window_s, pairs = (3.0, 1) if quick else (10.0, 3)
    ids = [f"BT{n:06d}" for n in range(count)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        users = {OPERATOR: OPERATOR_PASSWORD, "BENCHREP": "pw-BENCHREP"}
        users.update({tid: f"pw-{tid}" for tid in ids})
        broker = LocalBroker(folder / "broker", port, users, prefix=PREFIX)
        broker.start()
        try:
            figures = asyncio.run(_fleet_phase(port, ids, folder, reads, pushes))
            cpu = _reporter_cpu(port, folder, window_s, pairs)
        finally:
            broker.stop()
    return _rows(count, figures, cpu, window_s)


def _rows(count: int, f: dict[str, Any], cpu: list[float], window_s: float) -> list[Row]:
    def ms(values: list[float]) -> float:
        return 1000 * statistics.median(values)

    idle = ms(f["idle_latency"])
    loaded = ms(f["latency"])
    fresh, ideal = ms(f["freshness"]), ms(f["ideal"])
    push, echo = statistics.median(f["push_s"]), statistics.median(f["echo_s"])
    return [
        _row(
            f"status delivery, {count} terminals x 1/s (publish -> operator subscriber)",
            f["latency"],
            "ms",
            scale=1000,
            ratio=f"{loaded / idle:.1f} x idle broker",
            note=f"p95 {1000 * _p95(f['latency']):.1f} ms; idle median {idle:.2f} ms",
        ),
        _row(
            f"fleet status freshness, {count} terminals (age of the status shown)",
            f["freshness"],
            "ms",
            scale=1000,
            ratio=f"{fresh / ideal:.2f} x zero-delay age",
            note=(
                f"p95 {1000 * _p95(f['freshness']):.0f} ms; {min(f['listed'])}-"
                f"{max(f['listed'])} listed; listing took {statistics.median(f['listing_s']):.2f}"
                f" s; connect {f['connect_s']:.1f} s"
            ),
        ),
        _row(
            f"push-config to {count} terminals, until all results are in",
            f["push_s"],
            "s",
            ratio=f"{push / echo:.1f} x unsigned echo exchange",
            note=(
                f"listing + signing {statistics.median(f['prepare_s']):.2f} s, exchange "
                f"{push - statistics.median(f['prepare_s']):.2f} s; echo {echo:.2f} s; each "
                "terminal verifies the Ed25519 bundle"
            ),
        ),
        _row(
            "terminal CPU of fleet reporting (1 sample/s, status every 1 s)",
            cpu,
            "CPU s/hour",
            ratio=f"{statistics.median(cpu) / 36:.2f} % of one core",
            note=f"reporter window minus idle-engine window, {window_s:.0f} s each, scaled",
        ),
    ]
