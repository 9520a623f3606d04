"""The terminal's side of signed remote configuration: a bundle arrives on
`.../config/set`; the terminal verifies it (terminal/fleet/bundles.py), validates the merged
configuration, has the engine take it between two sales, writes the site file atomically,
audits it, and answers `applied` or `refused` with the sentence on `.../config/result`.
Right after applying it checks the devices the change touches (terminal/wiring/after_change.py);
if one fails, the engine and the site file get the previous settings back, the roll-back is
audited and the answer is `refused` with the failure.

Taking new limits while running is the engine's job (`reconfigure(settings)`, awaited: it
waits for the sale in progress). An engine without it cannot take a bundle, and the terminal
says so in a `refused` answer rather than claim a change it did not make.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from terminal.fleet.bundles import Bundle, BundleRefused, merged_settings, trusted_keys
from terminal.fleet.bundles import verify_bundle as verify
from terminal.fleet.status import iso
from terminal.settings import Settings

log = logging.getLogger(__name__)

AfterChangeProbe = Callable[
    [Settings, Settings, Mapping[str, str], Callable[[], dict[str, str]] | None], str
]
"""(settings before, settings after, devices looked before, the look) -> the failure or ""."""

STATE_FILE = "fleet-config.json"
"""In the data folder: the version last applied (the replay guard survives a restart)."""


def site_file_of(settings: Settings) -> Path | None:
    """The site file the configuration was read from (None: defaults and environment only)."""
    files = [s for s in settings.sources if not s.startswith("environment ")]
    return Path(files[-1]) if len(files) > 1 else None


class RemoteConfig:
    """Takes signed bundles for one running terminal, one at a time."""

    def __init__(
        self,
        settings: Settings,
        engine: Any,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        devices: Callable[[], dict[str, str]] | None = None,
        probe: AfterChangeProbe | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.devices = devices
        """The reporter's look at the devices (terminal/wiring/presence.py), if any."""
        self.probe = probe
        """The checks after applying (default: terminal/wiring/after_change.py)."""
        self.site_file = site_file_of(settings)
        self.state_file = settings.data_dir / STATE_FILE
        self._one_at_a_time = asyncio.Lock()

    @property
    def applied_version(self) -> int:
        try:
            version = json.loads(self.state_file.read_text(encoding="utf-8"))["version"]
        except (OSError, ValueError, KeyError, TypeError):
            return 0
        return version if isinstance(version, int) else 0

    async def take(self, token: bytes) -> dict[str, Any]:
        """The answer to one bundle (never raises: a refusal is an answer)."""
        async with self._one_at_a_time:
            digest = "sha256:" + hashlib.sha256(token).hexdigest()
            version: int | None = None
            try:
                bundle = self._verified(token)
                version = bundle.version
                await self._apply(bundle, digest)
            except BundleRefused as refused:
                self._audit("fleet.config.refused", digest, version, refused.sentence)
                return self._answer("refused", refused.sentence, digest, version)
            except Exception:
                log.exception("fleet: applying configuration bundle %s failed", digest)
                sentence = "The terminal failed to apply the bundle; nothing changed."
                return self._answer("refused", sentence, digest, version)
            sentence = f"Version {bundle.version} applied between sales."
            return self._answer("applied", sentence, digest, bundle.version)

    def _verified(self, token: bytes) -> Bundle:
        terminal = self.settings.terminal
        return verify(
            token,
            trusted_keys(self.settings.fleet.operator_keys),
            terminal_id=terminal.terminal_id,
            merchant_id=terminal.merchant_id,
            applied_version=self.applied_version,
            now=self.clock(),
        )

    async def _apply(self, bundle: Bundle, digest: str) -> None:
        if self.site_file is None:
            raise BundleRefused("This terminal runs without a site file; nothing changed.")
        new_settings = merged_settings(self.site_file, bundle.settings)
        reconfigure = getattr(self.engine, "reconfigure", None)
        if reconfigure is None:
            raise BundleRefused(
                "This terminal's payment engine cannot take new settings while running; "
                "nothing changed (change them with `posterm config set` and restart)."
            )
        new_text = _merged_text(self.site_file, bundle.settings)
        old_settings = self.settings
        looked = await asyncio.to_thread(self.devices) if self.devices is not None else {}
        # Audited before anything changes: no change reaches the terminal unaudited.
        self._audit("fleet.config.apply", digest, bundle.version, "", bundle=bundle)
        old_text = self.site_file.read_bytes()
        replace_file(self.site_file, new_text.encode("utf-8"))
        try:
            await reconfigure(new_settings)  # waits for the sale in progress, if any
        except Exception as error:
            replace_file(self.site_file, old_text)
            raise BundleRefused(  # audited as the refusal, after the apply record
                f"The engine refused the new settings ({error}); rolled back, nothing changed."
            ) from None
        problem = await asyncio.to_thread(
            self._probe(), old_settings, new_settings, looked, self.devices
        )
        if problem:
            await self._roll_back(reconfigure, old_settings, self.site_file, old_text)
            sentence = (
                f"After applying version {bundle.version}, {problem}; rolled back to the "
                "previous settings, nothing changed."
            )
            self._audit("fleet.config.rolled_back", digest, bundle.version, sentence, bundle=bundle)
            raise BundleRefused(sentence)
        self.settings = new_settings
        replace_file(self.state_file, json.dumps({"version": bundle.version}).encode())

    def _probe(self) -> AfterChangeProbe:
        if self.probe is None:
            from terminal.wiring.after_change import probe_after_change

            self.probe = probe_after_change
        return self.probe

    async def _roll_back(
        self,
        reconfigure: Callable[[Settings], Awaitable[None]],
        old: Settings,
        site_file: Path,
        old_text: bytes,
    ) -> None:
        """The previous settings back in the engine and the site file (the file even if the
        engine fails: a restart then runs the old settings)."""
        try:
            await reconfigure(old)
        except Exception:
            log.exception("fleet: the engine did not take the previous settings back")
        finally:
            replace_file(site_file, old_text)

    def _audit(
        self,
        action: str,
        digest: str,
        version: int | None,
        sentence: str,
        *,
        bundle: Bundle | None = None,
    ) -> None:
        from terminal.security.audit import AuditLog
        from terminal.security.key_hierarchy import RootPlace

        details: dict[str, Any] = {"bundle": digest, "version": version}
        if sentence:
            details["sentence"] = sentence
        if bundle is not None:
            details["kid"] = bundle.kid
            details["settings"] = bundle.settings  # only allowed keys: no secret among them
        try:
            AuditLog(self.settings.data_dir, RootPlace.of(self.settings)).append(
                action,
                details,
                role="fleet",
                actor=f"fleet operator {bundle.kid if bundle else '?'}",
            )
        except Exception as error:
            if action == "fleet.config.apply":
                raise BundleRefused(
                    f"The audit log cannot be written ({error}); nothing changed."
                ) from None
            log.warning("fleet: refusal not audited: %s", error)

    def _answer(
        self, result: str, sentence: str, digest: str, version: int | None
    ) -> dict[str, Any]:
        terminal = self.settings.terminal
        return {
            "terminal_id": terminal.terminal_id,
            "merchant_id": terminal.merchant_id,
            "result": result,
            "sentence": sentence,
            "version": version,
            "bundle": digest,
            "at": iso(self.clock()),
        }


def _merged_text(site_file: Path, fragment: dict[str, dict[str, Any]]) -> str:
    import tomlkit

    document = tomlkit.parse(site_file.read_text(encoding="utf-8"))
    for section, values in fragment.items():
        table = document.setdefault(section, tomlkit.table())
        for key, value in values.items():
            table[key] = value
    return tomlkit.dumps(document)


def replace_file(path: Path, data: bytes) -> None:
    """Write-then-rename in the same folder, fsync'd: readers see the old or the new file."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            os.chmod(name, path.stat().st_mode & 0o777)
        os.replace(name, path)
    except BaseException:
        if os.path.exists(name):
            os.unlink(name)
        raise
