"""Finding 6: a crashing posterm leaves no core dump with card data in it.

The assessor's attack: raise the core limit (`ulimit -c unlimited`), let the process hold a PAN
and track 2, crash it with SIGSEGV and read the core. Each child here is a real Python process
that holds test card data, runs `posterm` (`terminal.cli.main`, no subcommand: it prints the
usage) or not, then kills itself. The unguarded child proves the attack works on this machine
(when `core_pattern` writes a file into the working directory); the guarded one must leave
nothing, and must report the kernel's dumpable flag 0 and RLIMIT_CORE (0, 0).
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

PAN = "4761739001010010"
TRACK2 = PAN + "D25122011758928889"

CHILD = """
import json, os, resource, signal, sys
card = ({pan!r} + "|" + {track2!r} + "|") * 64   # what a sale holds in memory
if sys.argv[1] == "posterm":
    from terminal.cli import main
    main([])
from terminal.process_guard import is_dumpable
print(json.dumps({{"dumpable": is_dumpable(), "core": resource.getrlimit(resource.RLIMIT_CORE)}}))
sys.stdout.flush()
os.kill(os.getpid(), getattr(signal, sys.argv[2]))
"""


def crash(folder: Path, how: str, sig: str) -> tuple[subprocess.CompletedProcess[str], list[Path]]:
    """Run the child under `ulimit -c unlimited` in `folder`; its answer and the cores left."""
    script = folder / "child.py"
    script.write_text(CHILD.format(pan=PAN, track2=TRACK2))
    command = f"ulimit -c unlimited && exec {shlex.quote(sys.executable)} child.py {how} {sig}"
    done = subprocess.run(
        ["bash", "-c", command], cwd=folder, capture_output=True, text=True, timeout=120
    )
    if "cannot modify limit" in done.stderr:
        # An in-process `main()` earlier in this run set the runner's own hard limit to 0.
        pytest.skip("only root can raise this test run's core limit again")
    return done, sorted(p for p in folder.iterdir() if p.name.startswith("core"))


def core_pattern() -> str:
    try:
        return Path("/proc/sys/kernel/core_pattern").read_text().strip()
    except OSError:
        return ""


@pytest.mark.parametrize("sig", ["SIGSEGV", "SIGABRT"])
def test_posterm_crash_leaves_no_core_with_card_data(tmp_path: Path, sig: str) -> None:
    control_dir = tmp_path / "control"
    guarded_dir = tmp_path / "posterm"
    control_dir.mkdir()
    guarded_dir.mkdir()

    done, cores = crash(guarded_dir, "posterm", sig)
    assert done.returncode == -getattr(signal, sig), done.stderr
    state = json.loads(done.stdout.splitlines()[-1])
    assert state == {"dumpable": False, "core": [0, 0]}
    assert cores == []

    control, control_cores = crash(control_dir, "plain", sig)
    assert control.returncode == -getattr(signal, sig), control.stderr
    assert json.loads(control.stdout)["dumpable"] is True
    if not control_cores:
        pytest.skip(f"this machine writes no core files here (core_pattern {core_pattern()!r})")
    # The attack works without the guard: the core holds the card data in clear.
    assert PAN.encode() in control_cores[0].read_bytes()
