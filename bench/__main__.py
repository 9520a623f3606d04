"""`make bench`: run every bench/bench_*.py and print one table."""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import traceback
from pathlib import Path

from bench.harness import Row, render


def main() -> int:
    quick = os.environ.get("QUICK", "") not in ("", "0")
    only = sys.argv[1:]
    rows: list[Row] = []
    failed = []
    for module in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if not module.name.startswith("bench_"):
            continue
        if only and module.name.removeprefix("bench_") not in only:
            continue
        print(f"bench: {module.name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(importlib.import_module(f"bench.{module.name}").run(quick))
        except Exception:
            traceback.print_exc()
            failed.append(module.name)
    print(render(rows))
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


sys.exit(main())
