"""The one TOML writer: settings shown to a technician, site-file edits, a simulator's section."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from terminal.errors import UsageError
from terminal.settings import load_settings, redacted
from terminal.settings.toml_text import ABSENT, edited_text, settings_text, tables_text

NO_ENV: dict[str, str] = {}
TRICKY_NAME = 'Café "Blue" \\ Door\t中\x7f'


def test_tables_are_written_in_order_with_comments_docs_and_one_blank_line_between() -> None:
    text = tables_text(
        {"terminal": {"terminal_id": "POS1", "tips": [5, 10]}, "offline": {"enabled": True}},
        comment="Written by a test.\nSecond line.",
        docs=lambda table, key: f"The {key} of {table}.\n  Indented.",
    )
    assert text == (
        "# Written by a test.\n"
        "# Second line.\n"
        "[terminal]\n"
        "# The terminal_id of terminal.\n"
        "# Indented.\n"
        'terminal_id = "POS1"\n'
        "# The tips of terminal.\n"
        "# Indented.\n"
        "tips = [5, 10]\n"
        "\n"
        "[offline]\n"
        "# The enabled of offline.\n"
        "# Indented.\n"
        "enabled = true"
    )


def test_shown_settings_read_back_as_the_effective_configuration_with_secrets_redacted(
    write_config: Callable[[str], Path],
) -> None:
    path = write_config(
        '[terminal]\nmerchant_name = "Café \\"Blue\\" \\\\ Door\\t中\\u007f"\n'
        '[ecr]\ntoken = "s3cret-ecr-token-0123456789"\n'
    )
    settings = load_settings(path, NO_ENV)
    assert settings.terminal.merchant_name == TRICKY_NAME
    for docs in (False, True):
        text = settings_text(settings, docs=docs)
        assert tomllib.loads(text) == redacted(settings)
        assert "s3cret" not in text
        assert 'token = "<redacted>"' in text


def test_documented_settings_put_each_key_under_its_docstring() -> None:
    lines = settings_text(load_settings(None, NO_ENV), docs=True).splitlines()
    at = lines.index('floor_limit = "50.00"  # derived from terminal.currency EUR: EUR 50.00 × 1')
    assert lines[at - 3 : at] == [
        '# Largest single sale approved offline, in the terminal currency (e.g. "50.00" in EUR,',
        '# "10000" in JPY). Empty: EUR 50.00 scaled to terminal.currency (USD 50.00, JPY 10,000,',
        "# IDR 1,000,000.00, KWD 25.000; factors in terminal/settings/currency_scale.py).",
    ]
    plain = settings_text(load_settings(None, NO_ENV), docs=False).splitlines()
    assert not [line for line in plain if line.startswith("#")]


def test_a_note_ends_its_line_as_a_comment_and_reads_back() -> None:
    text = tables_text(
        {"offline": {"floor_limit": "25.000", "max_count": 250}},
        notes=lambda table, key: "derived\nfrom KWD" if key == "floor_limit" else "",
    )
    assert text == '[offline]\nfloor_limit = "25.000"  # derived from KWD\nmax_count = 250'
    assert tomllib.loads(text) == {"offline": {"floor_limit": "25.000", "max_count": 250}}


def test_a_simulator_section_with_awkward_paths_reads_back() -> None:
    values = {
        "url": "https://127.0.0.1:8443",
        "ca_file": 'C:\\sim "files"\\ca.pem',
        "allow_plain_http_loopback": False,
    }
    text = tables_text({"gateway": values}, comment="Written by `posterm gateway-sim`.")
    assert text.startswith("# Written by `posterm gateway-sim`.\n[gateway]\n")
    assert tomllib.loads(text) == {"gateway": values}


def test_an_edit_keeps_comments_and_order_and_reports_the_old_value() -> None:
    site = '# shop 12\n[terminal]\nmerchant_city = "BERLIN"  # main branch\n\n[ecr]\nport = 8080\n'
    text, old = edited_text(site, "terminal", "merchant_city", "Köln")
    assert old == "BERLIN"
    assert (
        text
        == '# shop 12\n[terminal]\nmerchant_city = "Köln"  # main branch\n\n[ecr]\nport = 8080\n'
    )
    text, old = edited_text(text, "offline", "floor_limit", "25.00")
    assert old is ABSENT
    assert tomllib.loads(text)["offline"] == {"floor_limit": "25.00"}
    assert text.startswith('# shop 12\n[terminal]\nmerchant_city = "Köln"  # main branch\n')


@pytest.mark.parametrize(
    ("site", "sentence"),
    [
        ("[terminal\n", "/etc/site.toml is not valid TOML"),
        ('terminal = "POS1"\n', "[terminal] in /etc/site.toml is not a table"),
    ],
)
def test_an_edit_of_a_broken_file_is_a_sentence_naming_it(site: str, sentence: str) -> None:
    with pytest.raises(UsageError) as raised:
        edited_text(site, "terminal", "merchant_city", "Köln", file="/etc/site.toml")
    assert sentence in raised.value.sentence
