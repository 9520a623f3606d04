"""`posterm config set` and `config diff`: validated, layout-preserving, atomic, audited."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from argon2 import PasswordHasher

import terminal.cli.config as config_cli
from terminal.cli import _config_edit, main
from terminal.security.audit import AuditLog

CHEAP_2468 = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("2468")

SITE = """\
# Café Blue Door — site file
[terminal]
terminal_id = "CAFE0001"   # assigned by the bank
data_dir = "{data}"

[devices]
# the reader on the counter
nfc = "usb:072f:2200"
printer = "none"
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "posterm.toml"
    path.write_text(SITE.format(data=tmp_path / "data"), encoding="utf-8")
    return path


def run(site: Path, *argv: str, stdin: str | None = None, monkeypatch=None) -> int:
    if stdin is not None and monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["--config", str(site), "config", *argv])


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".posterm.toml.*.tmp"))


def test_set_changes_one_line_and_keeps_comments_and_layout(site: Path, capsys) -> None:
    before = site.read_text(encoding="utf-8")
    assert run(site, "set", "devices.printer", "socket://127.0.0.1:9100") == 0
    after = site.read_text(encoding="utf-8")
    assert after == before.replace('printer = "none"', 'printer = "socket://127.0.0.1:9100"')
    assert 'devices.printer: "none" -> "socket://127.0.0.1:9100"' in capsys.readouterr().out


def test_set_keeps_the_previous_file_as_a_backup(site: Path) -> None:
    before = site.read_bytes()
    assert run(site, "set", "terminal.terminal_id", "CAFE0002") == 0
    assert (site.parent / "posterm.toml.bak").read_bytes() == before
    assert 'terminal_id = "CAFE0002"   # assigned by the bank' in site.read_text()


def test_text_keys_keep_digits_as_text_and_typed_keys_parse_toml(site: Path) -> None:
    assert run(site, "set", "terminal.terminal_id", "12345678") == 0
    assert run(site, "set", "ui.tip_presets", "[5, 10]") == 0
    assert run(site, "set", "offline.enabled", "false") == 0
    text = site.read_text()
    assert 'terminal_id = "12345678"' in text
    assert "tip_presets = [5, 10]" in text and "enabled = false" in text


def test_invalid_value_is_refused_and_nothing_changes(site: Path, capsys) -> None:
    before = site.read_bytes()
    assert run(site, "set", "terminal.currency", "EURO") == 2
    err = capsys.readouterr().err
    assert 'posterm.toml: terminal.currency = "EURO": not an ISO 4217 code' in err
    assert site.read_bytes() == before
    assert not (site.parent / "posterm.toml.bak").exists()
    assert leftovers(site.parent) == []


def test_whole_config_is_validated_not_just_the_key(site: Path, capsys) -> None:
    # A valid key whose value breaks a cross-field rule (plain http needs the loopback flag).
    assert run(site, "set", "gateway.url", "http://127.0.0.1:8080") == 2
    assert "allow_plain_http_loopback" in capsys.readouterr().err


def test_unknown_key_suggests_the_right_one(site: Path, capsys) -> None:
    assert run(site, "set", "nfc.tap_timout_s", "20") == 2
    assert "did you mean nfc.tap_timeout_s?" in capsys.readouterr().err


def test_missing_site_file_is_created_with_a_header(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "new.toml"
    data = tmp_path / "data"
    # Before the file names a data_dir the change is audited in the default one
    # (/var/lib/posterm): keep this test's audit records out of the machine's folder.
    monkeypatch.setattr(config_cli, "data_dir_of", lambda settings, site: data)
    assert main(["--config", str(path), "config", "set", "terminal.data_dir", str(data)]) == 0
    assert path.read_text().startswith("# posterm site configuration")
    assert main(["--config", str(path), "config", "check"]) == 0


def test_each_change_is_audited_with_secrets_redacted(site: Path, capsys) -> None:
    assert run(site, "set", "ecr.token", "s3cret-token-0123456789") == 0
    assert "s3cret" not in capsys.readouterr().out
    (record,) = AuditLog(site.parent / "data").records()
    assert record.action == "config.set"
    assert record.details["key"] == "ecr.token"
    assert record.details["new"] == "<redacted>"
    assert record.details["file"] == str(site)
    assert "s3cret" not in (site.parent / "data" / "audit.log").read_text()


def test_site_file_is_never_left_world_readable(site: Path) -> None:
    site.chmod(0o644)
    assert run(site, "set", "ecr.token", "s3cret-token-0123456789") == 0
    assert site.stat().st_mode & 0o007 == 0


def test_failure_between_write_and_rename_leaves_the_old_file(site: Path, monkeypatch) -> None:
    before = site.read_bytes()
    real_replace = _config_edit.os.replace

    def fail_on_site(src: str, dst: str) -> None:
        if Path(dst) == site:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(_config_edit.os, "replace", fail_on_site)
    assert run(site, "set", "devices.printer", "loop://") == 3
    assert site.read_bytes() == before
    assert leftovers(site.parent) == []


def test_pin_is_required_when_a_technician_pin_is_configured(
    site: Path, monkeypatch, capsys
) -> None:
    with site.open("a") as out:
        out.write(f'\n[ui]\ntechnician_pin_hash = "{CHEAP_2468}"\n')
    before = site.read_bytes()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal, no --pin-stdin
    assert run(site, "set", "devices.printer", "loop://") == 2
    assert "technician PIN is needed" in capsys.readouterr().err
    assert (
        run(
            site,
            "set",
            "devices.printer",
            "loop://",
            "--pin-stdin",
            stdin="1357\n",
            monkeypatch=monkeypatch,
        )
        == 1
    )
    assert site.read_bytes() == before
    assert (
        run(
            site,
            "set",
            "devices.printer",
            "loop://",
            "--pin-stdin",
            stdin="2468\n",
            monkeypatch=monkeypatch,
        )
        == 0
    )
    assert 'printer = "loop://"' in site.read_text()
    actions = [r.action for r in AuditLog(site.parent / "data").records()]
    assert actions == ["pin.rejected", "pin.accepted", "config.set"]


def test_environment_cannot_switch_the_pin_off(site: Path, monkeypatch, capsys) -> None:
    with site.open("a") as out:
        out.write(f'\n[ui]\ntechnician_pin_hash = "{CHEAP_2468}"\n')
    monkeypatch.setenv("POSTERM_UI__TECHNICIAN_PIN_HASH", "")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert run(site, "set", "devices.printer", "loop://") == 2
    assert "technician PIN is needed" in capsys.readouterr().err


def test_pin_set_writes_a_hash_that_the_next_command_demands(site: Path, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("432198\n"))
    assert main(["--config", str(site), "pin", "set", "technician", "--pin-stdin"]) == 0
    assert 'technician_pin_hash = "$argon2id$' in site.read_text()
    assert "432198" not in site.read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO("432198\n"))
    assert run(site, "set", "ui.language", "zh", "--pin-stdin") == 0


def test_diff_against_defaults_names_the_source_of_each_change(
    site: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("POSTERM_OFFLINE__FLOOR_LIMIT", '"25.00"')
    assert run(site, "diff", "--json") == 0
    import json

    changes = {
        f"{c['section']}.{c['key']}": c for c in json.loads(capsys.readouterr().out)["differences"]
    }
    assert changes["devices.nfc"]["value"] == "usb:072f:2200"
    assert changes["devices.nfc"]["default"] == "usb"
    assert changes["devices.nfc"]["source"] == str(site)
    assert changes["offline.floor_limit"]["source"] == "environment POSTERM_OFFLINE__FLOOR_LIMIT"
    assert "devices.printer" not in changes  # set, but to the default


def test_diff_redacts_secrets_and_prints_default_then_effective(site: Path, capsys) -> None:
    assert run(site, "set", "ecr.token", "s3cret-token-0123456789") == 0
    capsys.readouterr()
    assert run(site, "diff") == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out
    assert '- token = ""' in out and '+ token = "<redacted>"' in out
    assert '+ nfc = "usb:072f:2200"' in out


def test_diff_of_an_empty_site_file_says_defaults(tmp_path: Path, capsys) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("")
    assert main(["--config", str(path), "config", "diff"]) == 0
    assert "is the default one" in capsys.readouterr().out


def test_a_pin_in_clear_is_refused_where_a_hash_belongs(site: Path, capsys) -> None:
    before = site.read_bytes()
    assert run(site, "set", "ui.technician_pin_hash", "2468") == 2
    err = capsys.readouterr().err
    assert "not an argon2 PIN hash" in err and "2468" not in err  # secrets stay redacted
    assert site.read_bytes() == before


def test_a_rejected_secret_is_not_echoed_back(site: Path, capsys) -> None:
    assert run(site, "set", "ecr.enabled", "true") == 2  # needs a token first
    capsys.readouterr()
    assert run(site, "set", "ecr.token", "short-secret") == 0  # fine while the API is off
    assert run(site, "set", "ecr.enabled", "true") == 2
    err = capsys.readouterr().err
    assert "ecr.token" in err and "short-secret" not in err and "<redacted>" in err
