"""The nexo certificate (CN form, expiry, probe) and the [nexo] keys' secrecy in `config show`,
`config set` and its audit record."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from terminal.cli import main
from terminal.nexo import certificate
from terminal.security.audit import AuditLog
from terminal.settings import Settings, load_settings, redacted
from terminal.settings.toml_text import settings_text
from terminal.wiring.probes import check_nexo

ADYEN_CN = re.compile(
    r"^(([a-zA-Z0-9]+-[a-zA-Z0-9]+)|legacy-terminal-certificate)\.(live|test)\.terminal\.adyen\.com$"
)
"""The CN check of the official clients (helpers/checkServerIdentity in the Node library)."""


def settings_for(tmp_path: Path, **nexo: object) -> Settings:
    return Settings.model_validate(
        {"terminal": {"terminal_id": "SHOP0042", "data_dir": str(tmp_path / "data")}, "nexo": nexo}
    )


def test_the_certificate_has_the_cn_the_clients_accept(tmp_path: Path) -> None:
    made = certificate.create(settings_for(tmp_path, environment="test"))
    cert = x509.load_pem_x509_certificate(made.cert.read_bytes())
    (cn,) = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert cn.value == "posterm-SHOP0042.test.terminal.adyen.com"
    assert ADYEN_CN.match(str(cn.value))
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "posterm-SHOP0042" in sans.get_values_for_type(x509.DNSName)
    ca = x509.load_pem_x509_certificate(made.ca.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert made.key.stat().st_mode & 0o077 == 0


def test_probe_checks_cn_and_expiry(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, enabled=True)
    missing = check_nexo(settings)
    assert not missing.healthy and "nexo-cert" in missing.fix
    certificate.create(settings)
    healthy = check_nexo(settings)
    assert healthy.healthy and healthy.details["cn"] == "posterm-SHOP0042.live.terminal.adyen.com"
    renamed = check_nexo(settings_for(tmp_path, enabled=True, poi_id="till-7"))
    assert not renamed.healthy and "till-7.live.terminal.adyen.com" in renamed.problem
    certificate.create(settings, days=5)
    soon = check_nexo(settings)
    assert not soon.healthy and "expires in" in soon.problem


def test_config_show_redacts_passphrases_but_shows_the_keys(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path,
        keys=[
            {"identifier": "shopkey", "version": 1, "passphrase": "old-passphrase"},
            {"identifier": "shopkey", "version": 2, "passphrase": "new-passphrase"},
        ],
    )
    shown = redacted(settings)["nexo"]["keys"]
    assert [k["version"] for k in shown] == [1, 2]
    assert {k["passphrase"] for k in shown} == {"<redacted>"}
    text = settings_text(settings, docs=True)
    assert "passphrase" in text and "old-passphrase" not in text and "new-passphrase" not in text


def test_config_set_of_keys_is_audited_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "posterm.toml"
    site.write_text(f'[terminal]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    value = '[{identifier = "shopkey", version = 3, passphrase = "fresh-passphrase-3"}]'
    assert main(["--config", str(site), "config", "set", "nexo.keys", value]) == 0
    out = capsys.readouterr()
    assert "fresh-passphrase-3" not in out.out + out.err
    loaded = load_settings(site, environ={})
    assert loaded.nexo.keys[0].passphrase == "fresh-passphrase-3"
    (record,) = AuditLog(tmp_path / "data").records()
    assert record.details["key"] == "nexo.keys" and record.details["new"] == "<redacted>"
    assert "fresh-passphrase" not in (tmp_path / "data" / "audit.log").read_text()
    assert main(["--config", str(site), "config", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["nexo"]["keys"] == [
        {"identifier": "shopkey", "version": 3, "passphrase": "<redacted>"}
    ]


@pytest.mark.parametrize(
    ("nexo", "word"),
    [
        ({"poi_id": "no_hyphen"}, "hyphen"),
        ({"allow_plain_http": True, "listen": "0.0.0.0:8443"}, "loopback"),
        ({"keys": [{"identifier": "k", "version": 1, "passphrase": "€uro"}]}, "Latin-1"),
    ],
)
def test_bad_nexo_settings_say_why(tmp_path: Path, nexo: dict[str, object], word: str) -> None:
    with pytest.raises(ValueError, match=word):
        settings_for(tmp_path, **nexo)
