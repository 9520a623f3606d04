"""The table every benchmark reports into: medians, spread, and a ratio to a baseline.

A benchmark module `bench/bench_NAME.py` defines `run(quick: bool) -> list[Row]`; `quick` is
set by `make bench QUICK=1` for a smoke run. Machines are shared and noisy: report medians over
several runs and ratios measured in the same run, never a single number.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Row:
    """One figure: `median` in `unit`, spread as (min, max) over `runs`."""

    area: str
    figure: str
    median: float
    unit: str
    low: float
    high: float
    runs: int
    ratio: str = ""
    """e.g. "0.04 x raw HTTP", "7.1 x faster than pyzbar"."""
    target: str = ""
    note: str = ""


def measure(func: Callable[[], float], runs: int) -> tuple[float, float, float]:
    """Call `func` (which returns one measurement) `runs` times: (median, low, high)."""
    values = [func() for _ in range(runs)]
    return statistics.median(values), min(values), max(values)


def timed(func: Callable[[], object]) -> float:
    """Seconds one call takes."""
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def render(rows: list[Row]) -> str:
    headers = ("area", "figure", "median", "unit", "min", "max", "runs", "ratio", "target", "note")
    table = [headers] + [
        (
            r.area,
            r.figure,
            f"{r.median:.4g}",
            r.unit,
            f"{r.low:.4g}",
            f"{r.high:.4g}",
            str(r.runs),
            r.ratio,
            r.target,
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = [
        " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
