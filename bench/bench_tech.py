"""Technician paths: audit log appends and verification, PIN checks, `config set`.

Each figure has a baseline measured in the same run: a raw fsync'd append of the same line for
the audit log, a bare argon2 verify for the PIN guard, a bare tomlkit edit-and-write for
`config set`, so the ratios show what sealing, locking, rate limiting, validation and atomicity
cost on top of the unavoidable work.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import tomlkit
from argon2 import PasswordHasher

from bench.harness import Row, measure, timed
from terminal.cli._config_edit import change_setting
from terminal.security.audit import AuditLog
from terminal.security.key_hierarchy import KeyHierarchy
from terminal.security.pins import PinGuard, PinRejected, hash_pin

AREA = "tech"


def _audit_rows(folder: Path, runs: int, batch: int) -> list[Row]:
    log = AuditLog(folder / "audit")
    details = {"key": "offline.floor_limit", "old": '"50.00"', "new": '"30.00"'}

    def appends() -> float:
        return batch / timed(lambda: [log.append("config.set", details) for _ in range(batch)])

    raw_path = folder / "raw.log"
    line = b'{"action":"config.set","details":{"key":"offline.floor_limit"}}\n' * 3

    def raw() -> float:
        def write() -> None:
            for _ in range(batch):
                with raw_path.open("ab") as out:
                    out.write(line)
                    out.flush()
                    os.fsync(out.fileno())

        return batch / timed(write)

    base, _, _ = measure(raw, runs)
    median, low, high = measure(appends, runs)
    records = log.verify().records

    def verify() -> float:
        return records / timed(log.verify)

    v_median, v_low, v_high = measure(verify, runs)
    return [
        Row(
            AREA,
            "audit append (sealed, locked, fsync'd)",
            median,
            "records/s",
            low,
            high,
            runs,
            ratio=f"{median / base:.2f} x raw fsync'd append",
            note="two fsyncs per record: the log and its sealed head",
        ),
        Row(AREA, f"audit verify ({records} records)", v_median, "records/s", v_low, v_high, runs),
    ]


def _pin_rows(folder: Path, runs: int) -> list[Row]:
    keys = KeyHierarchy.open(folder / "pins")
    pin_hash = hash_pin("246813", keys.pin_pepper())
    hasher = PasswordHasher()

    def bare() -> float:
        def check() -> None:
            try:
                hasher.verify(pin_hash, "135791")
            except Exception:  # the mismatch is the point
                return

        return timed(check) * 1000

    guard = PinGuard(folder / "pins", keys=keys)
    clock = [time.time()]
    guard.clock = lambda: clock[0]

    def guarded() -> float:
        clock[0] += 10_000  # past any lockout: every attempt is a full check
        try:
            started = time.perf_counter()
            guard.check("technician", "135791", pin_hash, purpose="bench")
        except PinRejected:
            pass
        except Exception:  # a lockout also ends a full check
            pass
        return (time.perf_counter() - started) * 1000

    base, _, _ = measure(bare, runs)
    median, low, high = measure(guarded, runs)
    return [
        Row(
            AREA,
            "wrong technician PIN (argon2id, counted, audited)",
            median,
            "ms",
            low,
            high,
            runs,
            ratio=f"{median / base:.2f} x bare argon2 verify",
            note=f"bare verify {base:.0f} ms",
        )
    ]


def _config_rows(folder: Path, runs: int) -> list[Row]:
    site = folder / "posterm.toml"
    site.write_text(
        f'# bench\n[terminal]\ndata_dir = "{folder / "data"}"\n\n[offline]\nfloor_limit = "50.00"\n'
    )
    values = iter(f"{n % 90 + 10}.00" for n in range(10_000))

    def bare() -> float:
        def edit() -> None:
            document = tomlkit.parse(site.read_text())
            document["offline"]["floor_limit"] = next(values)  # type: ignore[index]
            (folder / "bare.toml").write_text(tomlkit.dumps(document))

        return timed(edit) * 1000

    def full() -> float:
        return timed(lambda: change_setting(site, "offline.floor_limit", next(values))) * 1000

    base, _, _ = measure(bare, runs)
    median, low, high = measure(full, runs)
    return [
        Row(
            AREA,
            "config set (validate, backup, fsync, rename)",
            median,
            "ms",
            low,
            high,
            runs,
            ratio=f"{median / base:.1f} x bare tomlkit edit",
        )
    ]


def run(quick: bool) -> list[Row]:
    runs = 3 if quick else 7
    with tempfile.TemporaryDirectory(prefix="bench-tech-") as name:
        folder = Path(name)
        return [
            *_audit_rows(folder, runs, 20 if quick else 100),
            *_pin_rows(folder, runs),
            *_config_rows(folder, runs),
        ]
