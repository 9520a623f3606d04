"""The gateway simulator (`posterm gateway-sim`): a real HTTPS server that speaks protocol v1
and behaves like an acquirer and its card issuers. See server.py (protocol and faults), admin.py
(the /sim/ admin API), processor.py (what each message does), wallet.py (QR wallet and the
one-time consumer-presented code format) and setup.py (the files it writes into its folder).

Where PROTOCOL.md is silent, the simulator decides as follows (a second implementation of either
side can rely on these):

- Replay window: `created_at` older than 7 days, or more than 5 minutes ahead, is 422 stale.
  The payload's `terminal_id` must be the one the `kid` was enrolled for (else 401
  bad_signature). Idempotency compares the payload (canonical JSON), not the signature bytes.
- `seq` gaps are logged, never refused (advices arrive late by design).
- Declines, in order of checking: 14 unknown/unreadable card, 54 expired, 05 blocked, 59 lost,
  05 cryptogram or signed amount/currency mismatch, 13 amount or currency, 59 fraud rule,
  51 balance. An `authorize` with entry `qr_mpm` is 400 (use `qr_intent`); an `advice` must be
  NFC.
- `ref` of `refund`, `void`, `reverse` and `qr_status` may be the message id of the sale or, for
  merchant-presented QR sales, the `intent_id`. Unknown or unsuitable refs are declined 12;
  a refund above what is left of the sale is declined 13; a void after the batch closed is 12.
- `reverse` always answers `reversed`; reversing an id never seen remembers it, and the
  original, should it arrive later, is declined 05.
- `qr_intent` answers `pending` with code "" and `intent_id` ("PI" + 20 hex digits, 22 chars:
  fits reference label 62/05) and `expires_at`. `qr_status` answers pending/expired with code
  "", approved with 00 and the auth code, declined (also for voided intents) with a code.
- `close_batch` totals: see terminal/gateway/messages.py; totals it cannot read close the batch
  `out_of_balance` (never 400), and the answer always carries the gateway's own `totals`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from simulators.card.testcards import CARDS_FILE

log = logging.getLogger("simulators.bank")


def split_listen(text: str) -> tuple[str, int]:
    """ "host:port" -> (host, port); ValueError when it is not one."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{text!r} is not host:port (e.g. 127.0.0.1:8443)")
    return host, int(port)


async def serve(
    listen: str,
    data_dir: Path,
    *,
    admin_listen: str | None = None,
    plain_http: bool = False,
    cards_file: Path = CARDS_FILE,
    intent_ttl_s: float = 120.0,
    ready: asyncio.Event | None = None,
    iso8583_listen: str | None = None,
    iso8583_mac_key: bytes | None = None,
    hold_rules: dict[str, float | int] | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or cancellation). `hold_rules`: {"expiry_s",
    "tolerance_percent"} of pre-authorisations (holds.py), else the defaults."""
    from simulators.bank.server import Service, Simulator
    from simulators.bank.setup import server_context, write_terminal_toml
    from terminal.runtime import tune_for_commit_threads

    tune_for_commit_threads()
    host, port = split_listen(listen)
    admin = split_listen(admin_listen) if admin_listen else ("127.0.0.1", 0)
    sim = Simulator(data_dir, cards_file=cards_file, intent_ttl_s=intent_ttl_s)
    if hold_rules:
        from simulators.bank.holds import hold_rules as rules_of

        sim.processor.rules = rules_of(dict(hold_rules))
    tls = None if plain_http else server_context(sim.files, host)
    token = sim.files.admin_token.read_text(encoding="ascii").strip()
    service = Service(sim, host, port, tls=tls, admin=admin, admin_token=token)
    await service.start()
    iso = None
    if iso8583_listen:
        from simulators.bank.iso8583_listener import IsoListener

        iso_host, iso_port = split_listen(iso8583_listen)
        iso = IsoListener(sim, mac_key=iso8583_mac_key)
        iso_tls = None if plain_http else server_context(sim.files, iso_host)
        iso_port = await iso.start(iso_host, iso_port, iso_tls)
        service.also_down.append(iso)
        log.warning(
            "ISO 8583 listener on %s:%d (%s)",
            iso_host,
            iso_port,
            "MAC checked" if iso8583_mac_key else "no MAC",
        )
    scheme = "http" if plain_http else "https"
    shown = f"[{host}]" if ":" in host else host
    write_terminal_toml(sim.files, f"{scheme}://{shown}:{port}")
    admin_host = f"[{admin[0]}]" if ":" in admin[0] else admin[0]
    admin_url = f"{scheme}://{admin_host}:{service.admin_port}"
    sim.files.admin_url.write_text(admin_url + "\n", encoding="utf-8")
    log.warning(
        "gateway simulator listening on %s://%s:%d, admin API on %s (bearer token in %s; "
        "data in %s)",
        scheme,
        shown,
        port,
        admin_url,
        sim.files.admin_token,
        sim.files.root,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        if iso is not None:
            await iso.stop()
        await service.stop()
