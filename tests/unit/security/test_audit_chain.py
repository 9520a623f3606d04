"""The audit log is append-only and tamper-evident: edits and deletions are caught, even when
the records are re-sealed with anything found in the data folder."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from terminal.cli import main
from terminal.security.audit import AuditError, AuditLog
from terminal.security.root_secret import default_root_file


def filled_log(folder: Path, count: int = 5) -> AuditLog:
    log = AuditLog(folder)
    for n in range(1, count + 1):
        log.append("config.set", {"key": "offline.floor_limit", "new": f'"{n}.00"'}, actor="ana")
    return log


def lines(log: AuditLog) -> list[str]:
    return log.path.read_text(encoding="utf-8").splitlines()


def rewrite(log: AuditLog, new_lines: list[str]) -> None:
    log.path.write_text("".join(line + "\n" for line in new_lines), encoding="utf-8")


def test_untouched_log_verifies_with_every_record(tmp_path: Path) -> None:
    log = filled_log(tmp_path)
    result = log.verify()
    assert result.intact, result.problems
    assert result.records == 5
    assert [r.seq for r in log.records()] == [1, 2, 3, 4, 5]


def test_edited_record_is_caught(tmp_path: Path) -> None:
    log = filled_log(tmp_path)
    records = lines(log)
    data = json.loads(records[2])
    data["details"]["new"] = '"999.00"'
    records[2] = json.dumps(data)
    rewrite(log, records)
    result = log.verify()
    assert not result.intact
    assert any("record 3" in p and "edited" in p for p in result.problems)


def test_edit_resealed_without_the_key_is_caught(tmp_path: Path) -> None:
    import hashlib

    log = filled_log(tmp_path)
    records = lines(log)
    data = json.loads(records[1])
    data["actor"] = "mallory"
    body = {k: v for k, v in data.items() if k != "seal"}
    data["seal"] = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    records[1] = json.dumps(data)
    rewrite(log, records)
    problems = log.verify().problems
    assert any("record 2" in p and "edited" in p for p in problems)
    assert any("record 3" in p and "does not link" in p for p in problems)


def test_deleted_record_in_the_middle_is_caught(tmp_path: Path) -> None:
    log = filled_log(tmp_path)
    records = lines(log)
    del records[2]
    rewrite(log, records)
    problems = log.verify().problems
    assert problems == ["record 3 was deleted (the log jumps to 4)"]


def test_deleted_records_at_the_end_are_caught(tmp_path: Path) -> None:
    log = filled_log(tmp_path)
    rewrite(log, lines(log)[:3])
    assert log.verify().problems == [
        "records 4 to 5 were deleted from the end (the log stops at 3)"
    ]


def test_garbage_line_is_reported_not_crashed_on(tmp_path: Path) -> None:
    log = filled_log(tmp_path, 2)
    rewrite(log, [*lines(log), "{not json"])
    assert any("line 3 is not a valid record" in p for p in log.verify().problems)


def test_card_numbers_in_details_are_masked(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    log.append("note", {"text": "customer card 4111111111111111 refused"})
    text = log.path.read_text(encoding="utf-8")
    assert "4111111111111111" not in text
    assert log.verify().intact


def test_lost_root_refuses_to_start_a_new_chain(tmp_path: Path) -> None:
    log = filled_log(tmp_path / "data", 2)
    default_root_file(tmp_path / "data").unlink()
    with pytest.raises(AuditError, match="root secret is missing"):
        AuditLog(tmp_path / "data").append("config.set", {})
    assert any("root secret is missing" in p for p in AuditLog(tmp_path / "data").verify().problems)
    assert len(log.records()) == 2


def test_no_key_lives_in_the_data_folder_and_the_root_file_is_private(tmp_path: Path) -> None:
    log = filled_log(tmp_path / "data", 1)
    assert not log.key_path.exists()
    root = default_root_file(tmp_path / "data")
    assert root.parent == tmp_path and root.stat().st_mode & 0o077 == 0


def _append_many(folder: str, worker: int) -> None:
    log = AuditLog(folder)
    for n in range(10):
        log.append("pin.rejected", {"worker": worker, "n": n})


def test_appends_from_several_processes_form_one_chain(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(tmp_path), w)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    result = AuditLog(tmp_path).verify()
    assert result.intact, result.problems
    assert result.records == 40


def test_audit_verify_command_exits_1_and_names_the_deleted_record(
    tmp_path: Path, write_config, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(f'[terminal]\ndata_dir = "{tmp_path / "data"}"\n')
    log = filled_log(tmp_path / "data", 4)
    assert main(["--config", str(config), "audit", "verify"]) == 0
    assert "audit log intact: 4 records" in capsys.readouterr().out
    records = lines(log)
    del records[1]
    rewrite(log, records)
    assert main(["--config", str(config), "audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert "TAMPERED" in out and "record 2 was deleted" in out
