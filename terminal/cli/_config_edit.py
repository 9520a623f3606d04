"""Change one key of the site file safely: validate first, keep the layout, write atomically.

`change_setting` edits the TOML document (`terminal.settings.toml_text.edited_text`: comments,
order and spacing survive), writes the result to a temporary file in the same folder, validates
that file exactly as the service will load it (defaults + site file), and only then keeps a
backup of the old file (`NAME.bak`) and renames the new one into place. A crash at any point
leaves either the old or the new file, whole: rename is atomic on POSIX file systems, and every
file is fsync'd before it is renamed (and the folder after). A lock file serialises concurrent
edits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import os
import tempfile
import tomllib
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terminal.errors import UsageError

if TYPE_CHECKING:
    from terminal.settings import Settings

NEW_FILE_HEADER = (
    "# posterm site configuration: only the keys that differ from config/default.toml.\n"
    "# Change it with `posterm config set SECTION.KEY VALUE`; check it with `posterm config "
    "check`.\n"
)
REDACTED = "<redacted>"


@dataclass(frozen=True, slots=True)
class Change:
    """What `change_setting` did."""

    path: Path
    key: str
    old: Any
    new: Any
    backup: Path | None
    settings: Settings
    sha256: str
    """Digest of the new file: the audit record names the exact content it approved."""

    def shown(self) -> tuple[str, str]:
        """Old and new value as a technician may see them (secrets redacted)."""
        section, _, name = self.key.partition(".")
        return show_value(section, name, self.old), show_value(section, name, self.new)


def target_file(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """The site file `config set` edits: --config, $POSTERM_CONFIG, else /etc/posterm."""
    from terminal.settings import SYSTEM_FILE, site_file

    chosen = site_file(explicit, os.environ if environ is None else environ)
    return chosen if chosen is not None else SYSTEM_FILE


def parse_key(dotted: str) -> tuple[str, str]:
    """`section.key` checked against the settings model (UsageError with a suggestion)."""
    from pydantic import BaseModel

    from terminal.settings import Settings

    section, dot, key = dotted.partition(".")
    sections = {n: f for n, f in Settings.model_fields.items() if n != "sources"}
    if not dot or not key or section not in sections:
        raise UsageError(
            f"{dotted!r} is not SECTION.KEY with a known section ({', '.join(sections)})"
        )
    model = sections[section].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    if key not in model.model_fields:
        import difflib

        close = difflib.get_close_matches(key, list(model.model_fields), n=1)
        hint = f" (did you mean {section}.{close[0]}?)" if close else ""
        raise UsageError(f"{dotted} is not a setting{hint}; `posterm config show --docs` lists all")
    return section, key


def parse_value(section: str, key: str, raw: str) -> Any:
    """The command-line text as the TOML value the key takes (text keys take text as is)."""
    from pydantic import BaseModel

    from terminal.settings import Settings

    model = Settings.model_fields[section].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    annotation = model.model_fields[key].annotation
    if _is_text(annotation) and not (raw.startswith('"') and raw.endswith('"') and len(raw) > 1):
        return raw
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if _is_text(annotation):
            return raw
        raise UsageError(
            f"{raw!r} is not a value for {section}.{key} (numbers as 15.0, true/false, "
            "lists as [5, 10], text in quotes)"
        ) from None


def _is_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    if typing.get_origin(annotation) is typing.Literal:
        return all(isinstance(arg, str) for arg in typing.get_args(annotation))
    return False


def show_value(section: str, key: str, value: Any) -> str:
    """A value for output and the audit log: secrets redacted, absent shown as the default."""
    from terminal.settings import is_secret
    from terminal.settings.toml_text import ABSENT, toml_value

    if value is ABSENT:
        return "(default)"
    if is_secret(section, key) and value not in ("", None):
        return REDACTED
    return toml_value(value)


@contextlib.contextmanager
def _edit_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_name(f".{path.name}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files a crashed edit left behind (we hold the lock: none is in use)."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


def _write_temporary(path: Path, data: bytes, like: Path | None) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if like is not None and like.exists():
            info = like.stat()
            # The site file may hold secrets (ECR token, PIN hashes): never world-readable.
            os.chmod(tmp, info.st_mode & 0o7770)
            if os.geteuid() == 0:
                os.chown(tmp, info.st_uid, info.st_gid)
        else:
            os.chmod(tmp, 0o640)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def validate_file(candidate: Path, shown_as: str) -> Settings:
    """Load defaults + `candidate` as the service would; problems name `shown_as`."""
    from terminal.settings import ConfigError, load_settings

    try:
        return load_settings(candidate, environ={})
    except ConfigError as error:
        problems = [
            dataclasses.replace(p, origin=shown_as)
            if p.origin in (candidate.name, str(candidate))
            else p
            for p in error.problems
        ]
        raise ConfigError(problems) from None


def change_setting(
    path: Path,
    dotted: str,
    raw: str,
    *,
    before_commit: typing.Callable[[Change], None] | None = None,
) -> Change:
    """Set `dotted` to `raw` in the site file at `path`, validated, atomically, with a backup.

    `before_commit` runs after validation and before the rename (the audit record is written
    there, so no change reaches the file unaudited); if it raises, nothing changes.
    """
    section, key = parse_key(dotted)
    value = parse_value(section, key, raw)
    path = path.absolute()
    if not path.parent.is_dir():
        raise UsageError(f"the folder {path.parent} does not exist (create it first)")
    return _change(path, section, key, value, before_commit)


def permission_denied(error: PermissionError, path: Path) -> UsageError:
    """The sentence for a technician who ran a config-changing command without root."""
    return UsageError(
        f"cannot write {error.filename or path} (permission denied): run it as root, "
        "e.g. `sudo posterm config set ...`"
    )


def _change(
    path: Path,
    section: str,
    key: str,
    value: Any,
    before_commit: typing.Callable[[Change], None] | None,
) -> Change:
    from terminal.settings.toml_text import edited_text

    with _edit_lock(path):
        _remove_stale_temporaries(path)
        try:
            old_bytes: bytes | None = path.read_bytes()
        except FileNotFoundError:
            old_bytes = None
        old_text = old_bytes.decode("utf-8") if old_bytes is not None else NEW_FILE_HEADER
        new_text, old_value = edited_text(old_text, section, key, value, file=str(path))
        tmp = _write_temporary(path, new_text.encode("utf-8"), path)
        try:
            settings = validate_file(tmp, path.name)
            backup = None
            if old_bytes is not None:
                backup = path.with_name(path.name + ".bak")
                bak_tmp = _write_temporary(backup, old_bytes, path)
                os.replace(bak_tmp, backup)
            digest = hashlib.sha256(new_text.encode("utf-8")).hexdigest()
            change = Change(path, f"{section}.{key}", old_value, value, backup, settings, digest)
            if before_commit is not None:
                before_commit(change)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_folder(path.parent)
    return change
