"""Private files under `data_dir`: the folder posterm creates is 0700, files holding card or
audit data are created 0600, and a file found looser (a journal from an older posterm, a copy
restored with the wrong umask) is tightened when opened, with one warning naming it.

The journal holds masked PANs, keyed card fingerprints and gateway-encrypted card blobs: none is
a full PAN, but none is for other local users either. The key store keeps its own stricter rule
(it refuses a loose machine secret instead of fixing it) in keystore.py.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("terminal.security.private")

FOLDER_MODE = 0o700
FILE_MODE = 0o600

_warned: set[Path] = set()
"""Files already reported as tightened in this process (one warning each, not one per open)."""


def private_folder(path: Path | str) -> Path:
    """Create `path` as 0700 if it does not exist yet (its parents as the system makes them).

    An existing folder keeps its mode: an installer or systemd's StateDirectory may have made
    it group-readable on purpose, and the files inside are private on their own."""
    folder = Path(path)
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            pass  # created meanwhile by a parallel process: its mode is its creator's
    return folder


def create_private(path: Path | str) -> None:
    """Make sure `path` exists as a file readable by its owner only, without truncating it:
    created 0600 if new (so a program like SQLite that opens it next never makes it 0644),
    tightened (see `tighten`) if it was there already."""
    file = Path(path)
    try:
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        tighten(file)


def tighten(path: Path | str, mode: int = FILE_MODE) -> bool:
    """Remove permission bits beyond `mode` from an existing file; True if it did.

    A missing file is fine (nothing to protect); a file of another account (e.g. `posterm
    history` run by a member of the journal's group) is left as it is. Logs a warning once per
    file per process."""
    file = Path(path)
    try:
        current = stat.S_IMODE(file.stat().st_mode)
    except FileNotFoundError:
        return False
    if not current & ~mode:
        return False
    try:
        os.chmod(file, current & mode)
    except PermissionError:  # another account's file (a reader in its group): say so, go on
        if file not in _warned:
            _warned.add(file)
            log.warning(
                "%s is readable by others (mode %o) and not ours to change; its owner should "
                "run `chmod %o %s`",
                file,
                current,
                current & mode,
                file,
            )
        return False
    if file not in _warned:
        _warned.add(file)
        log.warning(
            "%s was readable by others (mode %o); changed to %o", file, current, current & mode
        )
    return True


def shred(path: Path | str) -> bool:
    """Overwrite a small secret file with random bytes, fsync, then unlink it; True if it was
    there. Best effort: a copy-on-write or journaling file system or an SSD may keep the old
    blocks, which is why secrets are moved out of the data folder rather than trusted to this."""
    file = Path(path)
    try:
        size = file.stat().st_size
    except FileNotFoundError:
        return False
    fd = os.open(file, os.O_WRONLY)
    try:
        os.write(fd, os.urandom(max(size, 1)))
        os.fsync(fd)
    finally:
        os.close(fd)
    file.unlink()
    return True
