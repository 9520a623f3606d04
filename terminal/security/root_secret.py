"""Where the terminal's root secret comes from: never from the data directory.

Every key that protects card data, the signing keys, the audit log and the PINs is derived from
one root secret (key_hierarchy.py). It is looked for, in this order:

1. `$CREDENTIALS_DIRECTORY/posterm-root`: the systemd credential the service unit loads with
   `LoadCredentialEncrypted=posterm-root:...` (sealed to the TPM, else the host key).
2. `$CREDENTIALS_DIRECTORY/posterm-keystore`: the credential name older posterm units passed
   for the key store; accepted as the root so such a unit keeps working until it is updated.
3. `security.root_credential_file`, the same encrypted credential decrypted with
   `systemd-creds decrypt` when the command runs as root outside the service (`sudo posterm
   audit verify`, `sudo posterm keys rotate`).
4. `security.root_key_file`, a plain file for development, the demo and machines without
   systemd; empty means `<data_dir>.root-secret`, next to the data folder. A missing file is
   created (32 random bytes as 64 hex digits, mode 0600) with a loud warning, but only while
   the data folder holds nothing sealed by a root yet: a second root would orphan the keys
   made with the first.

A file inside `data_dir` is refused: a copy of the data folder must never carry its own key.

Errors:
    RootSecretError     no usable root secret (exit 2: the fix is in configuration)
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from terminal.errors import PostermError

log = logging.getLogger("terminal.security.root")

CREDENTIAL_NAME = "posterm-root"
LEGACY_CREDENTIAL_NAME = "posterm-keystore"
DEFAULT_CREDENTIAL_FILE = "/etc/posterm/credentials/posterm-root.cred"
ROOT_FILE_SUFFIX = ".root-secret"
ROOT_BYTES = 32
MIN_BYTES = 16
ENV_ROOT_FILE = "POSTERM_SECURITY__ROOT_KEY_FILE"
ENV_CREDENTIAL_FILE = "POSTERM_SECURITY__ROOT_CREDENTIAL_FILE"


class RootSecretError(PostermError):
    """No usable root secret; the sentence says where it was looked for and what to do."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class RootSecret:
    """The root secret and where it came from (the bytes never appear in a repr)."""

    value: bytes = field(repr=False)
    source: str
    warning: str = ""
    """Set when the root is a plain file: who can read that file can open every key."""
    created: bool = False


def default_root_file(data_dir: Path | str) -> Path:
    """`<data_dir>.root-secret`: beside the data folder, so a copy of the folder lacks it."""
    folder = Path(os.path.abspath(data_dir))
    return folder.with_name(folder.name + ROOT_FILE_SUFFIX)


def root_file_for(data_dir: Path | str, configured: str = "") -> Path:
    """The plain root file to use: the configured one, else the default beside `data_dir`.

    Raises RootSecretError when it lies inside the data folder."""
    path = Path(os.path.abspath(configured)) if configured else default_root_file(data_dir)
    folder = Path(os.path.abspath(data_dir))
    if path == folder or folder in path.parents:
        raise RootSecretError(
            f"security.root_key_file = {str(path)!r} is inside terminal.data_dir "
            f"({folder}): a copy of the data folder would carry its own key. Move the file "
            f"outside it (e.g. /etc/posterm/root-secret, or {default_root_file(folder)}) and "
            "set security.root_key_file to the new place."
        )
    return path


def load_root_secret(
    data_dir: Path | str,
    *,
    root_key_file: str = "",
    root_credential_file: str = DEFAULT_CREDENTIAL_FILE,
    may_create: bool = True,
    environ: Mapping[str, str] | None = None,
) -> RootSecret:
    """Find the root secret (see the module docstring for the order).

    `may_create` False (the data folder already holds keys sealed by a root) turns a missing
    root file into an error instead of a new root."""
    env = os.environ if environ is None else environ
    credentials = env.get("CREDENTIALS_DIRECTORY")
    if credentials:
        for name in (CREDENTIAL_NAME, LEGACY_CREDENTIAL_NAME):
            candidate = Path(credentials) / name
            if candidate.is_file():
                return RootSecret(
                    _checked(candidate.read_bytes(), f"the systemd credential {candidate}"),
                    f"systemd credential {name}",
                )
    credential_file = env.get(ENV_CREDENTIAL_FILE, root_credential_file)
    if credential_file and os.geteuid() == 0 and Path(credential_file).is_file():
        return RootSecret(
            _decrypt_credential(Path(credential_file)), f"credential {credential_file}"
        )
    path = root_file_for(data_dir, env.get(ENV_ROOT_FILE, root_key_file))
    if path.exists():
        return _read_root_file(path)
    if not may_create:
        raise RootSecretError(
            f"The root secret is missing: no systemd credential {CREDENTIAL_NAME} and no file "
            f"{path}, yet the keys in {data_dir} were sealed with one. Restore the root secret "
            f"from its backup to {path} (or run under the posterm service, or with sudo so "
            f"{credential_file or DEFAULT_CREDENTIAL_FILE} can be decrypted); without it the key "
            "store, the audit key and the PIN pepper cannot be opened."
        )
    return _create_root_file(path)


def _checked(raw: bytes, what: str) -> bytes:
    value = raw.strip()
    if len(value) < MIN_BYTES:
        raise RootSecretError(
            f"{what} is shorter than {MIN_BYTES} bytes; make one with "
            "`head -c 32 /dev/urandom > FILE`."
        )
    return value


def _read_root_file(path: Path) -> RootSecret:
    try:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise RootSecretError(
                f"The root secret file {path} is readable by others (mode {mode:o}); run "
                f"`chmod 600 {path}`."
            )
        value = _checked(path.read_bytes(), f"The root secret file {path}")
    except OSError as error:
        raise RootSecretError(
            f"The root secret file {path} cannot be read ({error.strerror}); it must belong to "
            "the posterm user, mode 0600."
        ) from None
    return RootSecret(value, f"file {path}", warning=_file_warning(path))


def _create_root_file(path: Path) -> RootSecret:
    """A new 32-byte root as 64 hex digits (text survives editors and the whitespace trim),
    published atomically so parallel first starts agree on one."""
    value = secrets.token_hex(ROOT_BYTES).encode("ascii")
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, value + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temp, path)  # fails if another process published first: use theirs
        except FileExistsError:
            return _read_root_file(path)
        finally:
            temp.unlink(missing_ok=True)
    except OSError as error:
        raise RootSecretError(
            f"The root secret file {path} cannot be created ({error.strerror}). Under systemd "
            f"pass the credential {CREDENTIAL_NAME} (LoadCredentialEncrypted=); otherwise set "
            "security.root_key_file to a writable place outside terminal.data_dir."
        ) from None
    warning = _file_warning(path)
    log.warning("created a new root secret in %s. %s", path, warning)
    return RootSecret(value, f"file {path}", warning=warning, created=True)


def _file_warning(path: Path) -> str:
    return (
        f"WARNING: the root secret is a plain file ({path}), not a sealed systemd credential: "
        "whoever can read it and the data folder can open the keys. Fine for development and "
        "the demo; on a shop terminal install the service with its posterm-root credential."
    )


def _decrypt_credential(path: Path) -> bytes:
    tool = shutil.which("systemd-creds")
    if tool is None:
        raise RootSecretError(
            f"The encrypted root credential {path} needs `systemd-creds` to be decrypted, and "
            "it is not installed here."
        )
    try:
        done = subprocess.run(
            [tool, "decrypt", f"--name={CREDENTIAL_NAME}", str(path), "-"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RootSecretError(f"`systemd-creds decrypt {path}` failed ({error}).") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RootSecretError(
            f"The root credential {path} cannot be decrypted on this machine "
            f"({reason[-1] if reason else 'systemd-creds exit ' + str(done.returncode)}); it "
            "is sealed to the TPM or host key of the machine it was made on."
        )
    return _checked(done.stdout, f"The decrypted credential {path}")
