"""`make bench` keeps working: every benchmark runs its quick pass and reports its rows.

The figures themselves are judged by `make bench` on a quiet machine, never here; this only
proves that no benchmark broke when the code under it changed (one did: a removed attribute)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AREAS = ("fleet", "gateway", "iso8583", "nexo", "nfc", "payment", "qr", "tech", "ui")


def test_every_benchmark_runs_its_quick_pass() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench"],
        cwd=REPO,
        env={**os.environ, "QUICK": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    areas = {line.split("|")[0].strip() for line in done.stdout.splitlines() if "|" in line}
    assert set(AREAS) <= areas, done.stdout
    modules = sorted(p.stem.removeprefix("bench_") for p in (REPO / "bench").glob("bench_*.py"))
    assert modules == sorted(AREAS), "a new benchmark: add its area here"
