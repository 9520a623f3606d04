"""requirements.lock (what scripts/install.sh installs, `--require-hashes`) is in step with
pyproject.toml, checked offline: a dependency added, dropped or re-specified in pyproject.toml
without `make lock` fails here, as does a lock that pins something nothing needs or that lacks a
hash. Finding 18: a terminal installs exactly the bytes the lock names."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements.lock"
SIMULATOR_ONLY = {"pyemv"}
"""Needed by the simulators only (moving to the `sim` extra): never installed on a terminal."""
PYPROJECT = "-r pyproject.toml"


@dataclass
class Pin:
    version: Version
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def parse_lock(text: str) -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in text.splitlines():
        entry = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)\s*\\?$", line)
        if entry:
            current = pins.setdefault(canonicalize_name(entry[1]), Pin(Version(entry[2])))
        elif current is not None and (digest := re.match(r"^\s+--hash=(\w+):(\S+)", line)):
            current.hashes.append(f"{digest[1]}:{digest[2]}")
        elif current is not None and (via := re.match(r"^\s+# via (.+)$", line)):
            current.via.extend(part.strip() for part in via[1].split(","))
        elif line and not line.startswith(" "):
            current = None
    return pins


def header(name: str) -> str:
    found = re.search(rf"^# {re.escape(name)}: (.*)$", LOCK.read_text(), re.M)
    assert found, f"requirements.lock has no '# {name}:' line: run `make lock`"
    return found[1].strip()


def locked_inputs() -> list[Requirement]:
    """pyproject's production dependencies and build requirements, as `make lock` reads them."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    runtime = [Requirement(r) for r in project["project"]["dependencies"]]
    build = [Requirement(r) for r in project["build-system"]["requires"]]
    return [r for r in runtime + build if canonicalize_name(r.name) not in SIMULATOR_ONLY]


def test_the_lock_was_made_from_this_pyprojects_dependencies() -> None:
    lines = sorted(str(r) for r in locked_inputs())
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    assert header("pyproject-digest") == f"sha256:{digest}", (
        "pyproject.toml's dependencies changed since requirements.lock was made: run `make lock`"
    )
    assert set(header("simulator-only, not locked").split()) == SIMULATOR_ONLY


def test_every_dependency_is_pinned_with_hashes_within_pyprojects_range() -> None:
    pins = parse_lock(LOCK.read_text())
    for requirement in locked_inputs():
        pin = pins.get(canonicalize_name(requirement.name))
        assert pin is not None, f"{requirement.name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pin.version, prereleases=True), (
            f"{requirement.name}=={pin.version} is outside pyproject's {requirement}"
        )
    for name, pin in pins.items():
        assert pin.hashes, f"{name} has no hash: pip --require-hashes would refuse the lock"
        for digest in pin.hashes:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), (name, digest)


def unreachable(pins: dict[str, Pin], inputs: set[str]) -> set[str]:
    """Pinned packages that no chain of `# via` annotations links to pyproject.toml."""
    reached = {name for name, pin in pins.items() if PYPROJECT in pin.via and name in inputs}
    frontier = set(reached)
    while frontier:
        frontier = {
            name
            for name, pin in pins.items()
            if name not in reached and reached & {canonicalize_name(v) for v in pin.via}
        }
        reached |= frontier
    return set(pins) - reached


def test_the_lock_holds_nothing_pyprojects_dependency_tree_does_not_reach() -> None:
    pins = parse_lock(LOCK.read_text())
    inputs = {canonicalize_name(r.name) for r in locked_inputs()}
    top = {name for name, pin in pins.items() if PYPROJECT in pin.via}
    assert top == inputs  # no dev tool, no simulator package, nothing dropped from pyproject
    assert unreachable(pins, inputs) == set()
    assert not SIMULATOR_ONLY & set(pins)


def test_a_pin_nothing_needs_is_noticed() -> None:
    text = LOCK.read_text()
    inputs = {canonicalize_name(r.name) for r in locked_inputs()}
    stray = "\nleftpad==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n    # via nothing-here\n"
    assert unreachable(parse_lock(text + stray), inputs) == {"leftpad"}
    # a top-level pin whose pyproject entry is gone takes its own dependencies with it
    assert "aiohappyeyeballs" in unreachable(parse_lock(text), inputs - {"aiohttp"})
