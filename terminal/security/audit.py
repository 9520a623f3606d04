"""Tamper-evident, append-only audit log of technician actions (config changes, PIN attempts).

One JSON record per line in `{data_dir}/audit.log`. Each record carries a sequence number and
a seal: HMAC-SHA256 over its own content and the previous record's seal, keyed with the audit
key of the key hierarchy (derived from the root secret, which is never in the data folder).
Editing a record breaks its seal; deleting one breaks the sequence and the next record's link;
recomputing the chain needs the root. Deleting records at the end is caught by `audit.head`, a
sealed note of the last sequence number written with every append, and by the anchors each
append leaves in the system journal (audit_anchor.py), which catch even a rewrite by someone
holding the root.

Logs from older versions were sealed with `audit.key` in the data folder. The first append with
the hierarchy seals an `audit.key_moved` record that carries the SHA-256 of every line before
it, then shreds `audit.key`: from then on the old lines are vouched for by that digest (their
own seals can no longer be checked, and no longer be forged with a key from the folder).

Errors:
    AuditError              the log cannot be written or read (exit 3)
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from terminal.errors import PostermError
from terminal.security.audit_anchor import (
    AnchorJournal,
    SystemJournal,
    compare_with_anchors,
)
from terminal.security.key_hierarchy import KeyHierarchy, RootPlace
from terminal.security.pan import redact_text
from terminal.security.private import private_folder, shred
from terminal.security.root_secret import RootSecretError

log = logging.getLogger("terminal.audit")

LOG_FILE = "audit.log"
HEAD_FILE = "audit.head"
KEY_FILE = "audit.key"  # the legacy key file, moved into the hierarchy on the next append
KEY_MOVED = "audit.key_moved"
GENESIS = "0" * 64
MAX_TEXT = 500  # longer values are cut: the log records what changed, not whole documents


class AuditError(PostermError):
    """The audit log cannot be written or read."""

    exit_code = 3


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One sealed entry: who did what, when."""

    seq: int
    at: str
    actor: str
    role: str
    action: str
    details: dict[str, Any]
    prev: str
    seal: str

    def body(self) -> dict[str, Any]:
        """The sealed content (everything but the seal)."""
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "details": self.details,
            "prev": self.prev,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.body(), "seal": self.seal}


@dataclass(slots=True)
class Verification:
    """The outcome of checking the whole chain."""

    records: int = 0
    last_at: str = ""
    problems: list[str] = field(default_factory=list)
    anchors: int | None = None
    """Journal anchors compared, or None when no journal could be read (`anchor_note` says
    why)."""
    anchor_note: str = ""

    @property
    def intact(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "records": self.records,
            "last_at": self.last_at,
            "problems": self.problems,
        }


def current_actor() -> str:
    """The person behind this process: the sudo caller if any, else the login name."""
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user:
        return f"{sudo_user} (sudo)"
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def _canonical(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _clean(value: Any) -> Any:
    """Details as plain JSON with anything PAN-shaped masked and long text cut."""
    if isinstance(value, str):
        text = redact_text(value)
        return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _clean(str(value))


class AuditLog:
    """The audit log under a data directory; safe to append from several processes.

    `keys` is the key hierarchy, or where its root is (`RootPlace.of(settings)`), opened when
    the key is first needed; None: where the default configuration puts the root.
    `anchors` is where anchors go (the system journal unless a test passes its own)."""

    def __init__(
        self,
        data_dir: Path | str,
        keys: KeyHierarchy | RootPlace | None = None,
        *,
        anchors: AnchorJournal | None = None,
    ) -> None:
        self.folder = Path(data_dir)
        self.path = self.folder / LOG_FILE
        self.head_path = self.folder / HEAD_FILE
        self.key_path = self.folder / KEY_FILE
        self._keys = keys
        self.anchors: AnchorJournal = anchors if anchors is not None else SystemJournal()

    def _hierarchy(self) -> KeyHierarchy:
        if not isinstance(self._keys, KeyHierarchy):
            try:
                self._keys = (self._keys or RootPlace()).open(self.folder)
            except RootSecretError as error:
                raise AuditError(f"the audit log cannot be sealed: {error.sentence}") from None
        return self._keys

    # -- writing -------------------------------------------------------------------------
    def append(
        self,
        action: str,
        details: Mapping[str, Any] | None = None,
        *,
        role: str = "technician",
        actor: str | None = None,
    ) -> AuditRecord:
        """Seal and append one record; returns it once it is on disk (fsync'd)."""
        try:
            private_folder(self.folder)
            with self._locked() as handle:
                key = self._key(handle)
                last = self._last_record(handle)
                seq, prev = (last.seq + 1, last.seal) if last else (1, GENESIS)
                at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                body = {
                    "seq": seq,
                    "at": at,
                    "actor": actor or current_actor(),
                    "role": role,
                    "action": action,
                    "details": _clean(dict(details or {})),
                    "prev": prev,
                }
                seal = hmac.new(key, _canonical(body), hashlib.sha256).hexdigest()
                record = AuditRecord(**body, seal=seal)
                handle.seek(0, os.SEEK_END)
                handle.write(_canonical(record.as_dict()) + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
                self._write_head(key, seq, seal)
        except OSError as error:
            raise AuditError(
                f"the audit log {self.path} cannot be written ({error.strerror or error}); "
                "the change was not made: check that the data folder is writable"
            ) from error
        log.info(
            "audit %s by %s",
            action,
            record.actor,
            extra={"audit_seq": seq, "audit_action": action, "audit_seal": seal[:16]},
        )
        self.anchors.write(self.path, seq, seal)
        return record

    @contextlib.contextmanager
    def _locked(self) -> Iterator[Any]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        with os.fdopen(fd, "a+b") as handle:
            self._match_owner(self.path)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield handle
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _key(self, handle: Any) -> bytes:
        """The hierarchy's audit key, after moving a legacy `audit.key` chain under it."""
        key = self._hierarchy().audit_key()
        if self.key_path.exists():
            self._move_key(handle, key)
            return key
        last = self._last_record(handle)
        if last is not None and not _sealed_by(key, last):
            raise AuditError(
                f"the audit records in {self.path} were sealed with a key that is gone (the "
                f"audit key {self.key_path} is missing, or the root secret changed): restore it "
                "from the backup; a new key would make the old records unverifiable"
            )
        return key

    def _move_key(self, handle: Any, key: bytes) -> None:
        """Seal `audit.key_moved` over the legacy lines with the hierarchy key, then shred
        `audit.key`; its records stay vouched for by their digest."""
        legacy = bytes.fromhex(self.key_path.read_text(encoding="ascii").strip())
        last = self._last_record(handle)
        if last is not None and not _sealed_by(legacy, last):
            raise AuditError(
                f"the last audit record does not match {self.key_path}; run `posterm audit "
                "verify` and keep the files as evidence before anything else is written"
            )
        digest, count = _digest_of(self.path.read_bytes().splitlines())
        if last is not None:
            at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            body = {
                "seq": last.seq + 1,
                "at": at,
                "actor": "posterm",
                "role": "system",
                "action": KEY_MOVED,
                "details": {
                    "records": count,
                    "sha256": digest,
                    "from": KEY_FILE,
                    "to": "key hierarchy",
                },
                "prev": last.seal,
            }
            seal = hmac.new(key, _canonical(body), hashlib.sha256).hexdigest()
            handle.seek(0, os.SEEK_END)
            handle.write(_canonical({**body, "seal": seal}) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
            self._write_head(key, last.seq + 1, seal)
            self.anchors.write(self.path, last.seq + 1, seal)
        shred(self.key_path)
        log.warning("the audit key moved from %s into the key hierarchy", self.key_path)

    def _write_head(self, key: bytes, seq: int, seal: str) -> None:
        head = {"seq": seq, "seal": seal}
        head["mac"] = hmac.new(key, _canonical(head), hashlib.sha256).hexdigest()
        tmp = self.head_path.with_name(f".{HEAD_FILE}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)  # as the log itself
        os.fchmod(fd, 0o640)  # a stale temp file keeps its old mode otherwise
        with os.fdopen(fd, "wb") as out:
            out.write(_canonical(head) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        self._match_owner(tmp)
        os.replace(tmp, self.head_path)

    def _match_owner(self, path: Path) -> None:
        match_owner(path, self.folder)

    @staticmethod
    def _last_record(handle: Any) -> AuditRecord | None:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return None
        chunk = min(size, 65536)
        handle.seek(size - chunk)
        lines = handle.read(chunk).splitlines()
        for line in reversed(lines):
            if line.strip():
                try:
                    return _parse(line)
                except ValueError as error:
                    raise AuditError(
                        "the last audit record is damaged; run `posterm audit verify`"
                    ) from error
        return None

    # -- reading -------------------------------------------------------------------------
    def records(self) -> list[AuditRecord]:
        """Every well-formed record, oldest first (damaged lines are skipped here)."""
        found = []
        for _, line in self._lines():
            with contextlib.suppress(ValueError):
                found.append(_parse(line))
        return found

    def _lines(self) -> Iterator[tuple[int, bytes]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as error:
            raise AuditError(
                f"the audit log {self.path} cannot be read ({error.strerror})"
            ) from error
        for number, line in enumerate(data.splitlines(), start=1):
            if line.strip():
                yield number, line

    def verify(self, *, anchors: bool = True) -> Verification:
        """Check every seal, the sequence, the links, the head and (`anchors`) the journal's
        anchors; list what is wrong."""
        result = Verification()
        if not self.path.exists():
            if self.head_path.exists():
                result.problems.append(f"{self.path} is missing but {HEAD_FILE} says records exist")
            return result
        try:
            key = self._verifying_key()
        except (RootSecretError, AuditError, OSError, ValueError) as error:
            sentence = getattr(error, "sentence", str(error))
            result.problems.append(f"the records cannot be checked: {sentence}")
            return result
        lines = list(self._lines())
        moved_at = _key_moved_line(key, lines)
        expected_seq, prev = 1, GENESIS
        for index, (number, line) in enumerate(lines):
            try:
                record = _parse(line)
            except ValueError:
                result.problems.append(f"line {number} is not a valid record (edited or damaged)")
                continue
            result.records += 1
            result.last_at = record.at
            if index == moved_at:
                digest, count = _digest_of([raw for _, raw in lines[:index]])
                if record.details.get("sha256") != digest or record.details.get("records") != count:
                    result.problems.append(
                        f"records before {record.seq} were edited or deleted after the audit key "
                        "moved to the key hierarchy: their digest no longer matches"
                    )
            if index >= moved_at:
                good_seal = hmac.new(key, _canonical(record.body()), hashlib.sha256).hexdigest()
                if not hmac.compare_digest(good_seal, record.seal):
                    result.problems.append(
                        f"record {record.seq} (line {number}) was edited: its seal does not "
                        "match its content"
                    )
            if record.seq > expected_seq:
                missing = _span(expected_seq, record.seq - 1)
                result.problems.append(f"{missing} deleted (the log jumps to {record.seq})")
            elif record.seq < expected_seq:
                result.problems.append(
                    f"record {record.seq} (line {number}) is out of order or repeated"
                )
            elif record.prev != prev:
                result.problems.append(
                    f"record {record.seq} (line {number}) does not link to the record before "
                    "it: that one was edited or replaced"
                )
            expected_seq, prev = record.seq + 1, record.seal
        self._check_head(key, expected_seq - 1, prev, result)
        if anchors:
            self._check_anchors(result)
        return result

    def _verifying_key(self) -> bytes:
        """The legacy key while `audit.key` is still there (not moved yet), else the
        hierarchy's."""
        if self.key_path.exists():
            return bytes.fromhex(self.key_path.read_text(encoding="ascii").strip())
        return self._hierarchy().audit_key()

    def _check_anchors(self, result: Verification) -> None:
        reading = self.anchors.read(self.path)
        if not reading.available:
            result.anchor_note = (
                f"no system journal to compare with ({reading.note}): a deleted tail or "
                "re-sealed records cannot be ruled out beyond the seals and the head"
            )
            return
        result.anchors = len(reading.anchors)
        result.problems.extend(compare_with_anchors(self.records(), reading.anchors))

    def _check_head(self, key: bytes, last_seq: int, last_seal: str, result: Verification) -> None:
        try:
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
            mac = head.pop("mac")
            good = hmac.new(key, _canonical(head), hashlib.sha256).hexdigest()
            seq, seal = int(head["seq"]), str(head["seal"])
        except FileNotFoundError:
            if last_seq:
                result.problems.append(
                    f"{HEAD_FILE} is missing: deletions at the end cannot be ruled out"
                )
            return
        except (ValueError, KeyError, TypeError, AttributeError):
            result.problems.append(f"{HEAD_FILE} is damaged")
            return
        if not hmac.compare_digest(mac, good):
            result.problems.append(f"{HEAD_FILE} was edited")
        elif seq > last_seq:
            result.problems.append(
                f"{_span(last_seq + 1, seq)} deleted from the end (the log stops at {last_seq})"
            )
        elif seq == last_seq and seal != last_seal:
            result.problems.append(f"the last record ({seq}) was replaced")


def match_owner(path: Path, folder: Path) -> None:
    """Run as root (sudo), keep a new file owned like the data folder so the service can
    still write it."""
    if os.geteuid() != 0:
        return
    info = folder.stat()
    if info.st_uid != 0:
        os.chown(path, info.st_uid, info.st_gid)


def _sealed_by(key: bytes, record: AuditRecord) -> bool:
    good = hmac.new(key, _canonical(record.body()), hashlib.sha256).hexdigest()
    return hmac.compare_digest(good, record.seal)


def _digest_of(lines: list[bytes]) -> tuple[str, int]:
    """SHA-256 over the non-blank lines (each with its newline) and how many there are."""
    kept = [line for line in lines if line.strip()]
    digest = hashlib.sha256(b"".join(line + b"\n" for line in kept)).hexdigest()
    return digest, len(kept)


def _key_moved_line(key: bytes, lines: list[tuple[int, bytes]]) -> int:
    """Index of the record that moved the key into the hierarchy (-1: none, all sealed by
    `key`). Only a record sealed by `key` counts, so one cannot be forged into the log."""
    for index, (_, line) in enumerate(lines):
        try:
            record = _parse(line)
        except ValueError:
            continue
        if record.action == KEY_MOVED and _sealed_by(key, record):
            return index
    return -1


def _span(first: int, last: int) -> str:
    return f"record {first} was" if first == last else f"records {first} to {last} were"


def _parse(line: bytes) -> AuditRecord:
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    try:
        return AuditRecord(
            seq=int(data["seq"]),
            at=str(data["at"]),
            actor=str(data["actor"]),
            role=str(data["role"]),
            action=str(data["action"]),
            details=dict(data["details"]),
            prev=str(data["prev"]),
            seal=str(data["seal"]),
        )
    except (KeyError, TypeError) as error:
        raise ValueError(f"missing field {error}") from None
