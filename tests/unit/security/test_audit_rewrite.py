"""Finding 8: rewriting the audit log with what the data folder holds. The audit key comes from
the root secret outside the folder, so re-sealing with any guess from the folder is caught; the
journal's anchors catch a rewrite even by someone who holds the root.

journald does not run in the test sandbox, so the anchor comparison is tested against a journal
double (`RecordingJournal`) that stores what the real one would; the real writer and reader are
exercised where a journal exists, and their parsing here."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from terminal.security.audit import KEY_MOVED, AuditLog
from terminal.security.audit_anchor import (
    Anchor,
    AnchorReading,
    SystemJournal,
    parse_journal_json,
)
from terminal.security.key_hierarchy import KeyHierarchy


class RecordingJournal:
    """What journald keeps: every anchor ever written, which the data folder cannot change."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, Anchor]] = []

    def write(self, log_path: Path, seq: int, seal: str) -> None:
        self.entries.append((str(log_path), Anchor(seq, seal)))

    def read(self, log_path: Path) -> AnchorReading:
        return AnchorReading(True, [a for path, a in self.entries if path == str(log_path)])


def canonical(body: dict[str, object]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def reseal(lines: list[str], key: bytes) -> list[str]:
    """Renumber and re-seal every record with `key`, as an attacker would."""
    out, prev = [], "0" * 64
    for seq, line in enumerate(lines, start=1):
        record = json.loads(line)
        record.update(seq=seq, prev=prev)
        body = {k: v for k, v in record.items() if k != "seal"}
        record["seal"] = prev = hmac.new(key, canonical(body), hashlib.sha256).hexdigest()
        out.append(json.dumps(record))
    return out


def data_folder_guesses(folder: Path) -> list[bytes]:
    """Every key an attacker could try from the folder: each file's bytes, hex or not."""
    guesses = []
    for path in folder.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            guesses.append(raw)
            try:
                guesses.append(bytes.fromhex(raw.decode().strip()))
            except ValueError:
                pass
            try:
                guesses.append(bytes.fromhex(json.loads(raw)["check"]))
            except (ValueError, KeyError, TypeError):
                pass
    return guesses


def test_dropping_records_and_resealing_with_anything_from_the_folder_is_caught(
    tmp_path: Path,
) -> None:
    log = AuditLog(tmp_path / "data")
    for n in range(5):
        log.append("pin.rejected", {"n": n})
    lines = log.path.read_text().splitlines()
    guesses = data_folder_guesses(tmp_path / "data")
    assert guesses
    for key in guesses:
        forged = reseal([lines[0], lines[1], lines[4]], key)  # drop records 3 and 4
        log.path.write_text("".join(line + "\n" for line in forged))
        head = {"seq": 3, "seal": json.loads(forged[-1])["seal"]}
        head["mac"] = hmac.new(key, canonical(head), hashlib.sha256).hexdigest()
        log.head_path.write_text(json.dumps(head))
        problems = log.verify().problems
        assert any("was edited" in p for p in problems), problems


def test_the_journal_catches_a_dropped_tail_even_when_resealed_with_the_root(
    tmp_path: Path,
) -> None:
    journal = RecordingJournal()
    keys = KeyHierarchy.open(tmp_path / "data")
    log = AuditLog(tmp_path / "data", keys, anchors=journal)
    for n in range(5):
        log.append("config.set", {"n": n})
    assert log.verify().intact and log.verify().anchors == 5
    # Someone holding the root drops the last two records and re-seals the head.
    log.path.write_text("".join(line + "\n" for line in log.path.read_text().splitlines()[:3]))
    last = log.records()[-1]
    head = {"seq": 3, "seal": last.seal}
    head["mac"] = hmac.new(keys.audit_key(), canonical(head), hashlib.sha256).hexdigest()
    log.head_path.write_text(json.dumps(head))
    assert AuditLog(tmp_path / "data", keys, anchors=RecordingJournal()).verify().intact
    assert log.verify().problems == [
        "records 4 to 5 were deleted from the end: the system journal saw them written "
        "(the log stops at 3)"
    ]


def test_the_journal_catches_records_resealed_with_the_root(tmp_path: Path) -> None:
    journal = RecordingJournal()
    keys = KeyHierarchy.open(tmp_path / "data")
    log = AuditLog(tmp_path / "data", keys, anchors=journal)
    for n in range(4):
        log.append("config.set", {"n": n})
    lines = log.path.read_text().splitlines()
    forged = reseal([lines[0], lines[2], lines[3]], keys.audit_key())  # record 2 dropped
    log.path.write_text("".join(line + "\n" for line in forged))
    head = {"seq": 3, "seal": json.loads(forged[-1])["seal"]}
    head["mac"] = hmac.new(keys.audit_key(), canonical(head), hashlib.sha256).hexdigest()
    log.head_path.write_text(json.dumps(head))
    problems = log.verify().problems
    assert "record 2 was re-sealed" in problems[0]
    assert any("record 4 was deleted from the end" in p for p in problems)


def test_without_a_journal_verify_says_what_it_could_not_check(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, anchors=SystemJournal(socket_path=str(tmp_path / "no-socket")))
    log.append("config.set", {})
    result = log.verify()
    assert result.intact and result.anchors is None
    assert "cannot be ruled out" in result.anchor_note


def test_journalctl_json_is_read_into_anchors() -> None:
    text = "\n".join(
        [
            json.dumps({"AUDIT_SEQ": "1", "AUDIT_SEAL": "ab" * 32, "__REALTIME_TIMESTAMP": "1"}),
            "not json",
            json.dumps({"MESSAGE": "something else"}),
            json.dumps({"AUDIT_SEQ": "2", "AUDIT_SEAL": "cd" * 32}),
        ]
    )
    assert parse_journal_json(text) == [Anchor(1, "ab" * 32, "1"), Anchor(2, "cd" * 32, "")]


def legacy_log(folder: Path, count: int) -> AuditLog:
    """A log as older versions left it: sealed with `audit.key` in the data folder."""
    folder.mkdir(parents=True)
    key = bytes(range(32))
    (folder / "audit.key").write_text(key.hex() + "\n")
    (folder / "audit.key").chmod(0o600)
    lines, prev = [], "0" * 64
    for seq in range(1, count + 1):
        body = {
            "seq": seq,
            "at": "2026-01-01T00:00:00.000Z",
            "actor": "ana",
            "role": "technician",
            "action": "config.set",
            "details": {"n": seq},
            "prev": prev,
        }
        prev = hmac.new(key, canonical(body), hashlib.sha256).hexdigest()
        lines.append(canonical({**body, "seal": prev}).decode())
    (folder / "audit.log").write_text("".join(line + "\n" for line in lines))
    head = {"seq": count, "seal": prev}
    head["mac"] = hmac.new(key, canonical(head), hashlib.sha256).hexdigest()
    (folder / "audit.head").write_text(json.dumps(head))
    return AuditLog(folder)


def test_an_old_log_moves_its_key_into_the_hierarchy_on_the_next_append(tmp_path: Path) -> None:
    log = legacy_log(tmp_path / "data", 3)
    assert log.verify().intact
    log.append("config.set", {"n": 4})
    assert not log.key_path.exists()
    assert [r.action for r in log.records()] == ["config.set"] * 3 + [KEY_MOVED, "config.set"]
    result = log.verify()
    assert result.intact, result.problems
    assert result.records == 5


def test_old_records_edited_after_the_move_are_caught(tmp_path: Path) -> None:
    log = legacy_log(tmp_path / "data", 3)
    log.append("config.set", {"n": 4})
    lines = log.path.read_text().splitlines()
    old_key = bytes(range(32))  # the attacker kept a copy of the old audit.key
    lines[:3] = reseal(
        [line.replace('"actor":"ana"', '"actor":"eve"') for line in lines[:3]], old_key
    )
    log.path.write_text("".join(line + "\n" for line in lines))
    problems = log.verify().problems
    assert any("digest no longer matches" in p for p in problems), problems
