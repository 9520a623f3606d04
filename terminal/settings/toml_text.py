"""The TOML text posterm writes: the effective settings a technician reads (`posterm config
show|check|diff`, the technician screen), one key changed in a site file (`posterm config set`,
`posterm pin set`), and a ready section a simulator hands to a terminal's site file.

tomlkit renders every value, so what is written reads back as the same value (quotes,
backslashes and control characters escaped); an edited site file keeps its comments, key order
and spacing. Writing the file safely (lock, validation, atomic rename) is `terminal.cli`'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import tomlkit

if TYPE_CHECKING:
    from terminal.settings.sections import Settings

ABSENT: Any = object()
"""What `edited_text` reports as the old value of a key the file did not have."""


def toml_value(value: Any) -> str:
    """One value as TOML, e.g. `"usb"`, `15.0`, `true`, `[5, 10]`; a list of tables (such as
    [[nexo.keys]], qr.merchant_accounts) as an array of inline tables, so it stays one
    `key = value`."""
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        array = tomlkit.array()
        for table in value:
            inline = tomlkit.inline_table()
            inline.update(table)
            array.append(inline)
        return str(array.as_string())
    return str(tomlkit.item(value).as_string())


def tables_text(
    tables: Mapping[str, Mapping[str, Any]],
    *,
    comment: str = "",
    docs: Callable[[str, str], str] | None = None,
    notes: Callable[[str, str], str] | None = None,
) -> str:
    """TOML text with one `[table]` per entry, in order, a blank line between tables.

    `comment` opens the text as `#` lines; `docs(table, key)` gives each key's documentation,
    written as `#` lines above it; `notes(table, key)`, when not empty, is a `#` comment at the
    end of the key's line. The text ends without a newline (print adds one; a file writer adds
    it).
    """
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    for number, (table, values) in enumerate(tables.items()):
        if number:
            lines.append("")
        lines.append(f"[{table}]")
        for key, value in values.items():
            if docs is not None:
                lines.extend(f"# {line.strip()}" for line in docs(table, key).splitlines())
            note = notes(table, key) if notes is not None else ""
            line = f"{key} = {toml_value(value)}"
            lines.append(f"{line}  # {' '.join(note.split())}" if note else line)
    return "\n".join(lines)


def settings_text(settings: Settings, *, docs: bool) -> str:
    """The effective configuration as TOML, secrets redacted, optionally with each key's
    documentation (the field's docstring). An amount the site left unset shows the value derived
    from the currency, and says so at the end of its line."""
    from terminal.settings.amounts import AMOUNT_KEYS, UNSET, derivation
    from terminal.settings.sections import redacted

    def documentation(section: str, key: str) -> str:
        model = type(getattr(settings, section))
        return str(model.model_fields[key].description or "")

    def derived(section: str, key: str) -> str:
        if (section, key) not in AMOUNT_KEYS:
            return ""
        if str(getattr(getattr(settings, section), key)).strip() != UNSET:
            return ""
        return derivation(section, key, settings.currency)

    return tables_text(redacted(settings), docs=documentation if docs else None, notes=derived)


def edited_text(
    text: str, section: str, key: str, value: Any, *, file: str = "the site file"
) -> tuple[str, Any]:
    """The document `text` with `section.key = value`, and the value it had (or `ABSENT`).

    `UsageError` naming `file` when `text` is not TOML or `[section]` in it is not a table.
    """
    from terminal.errors import UsageError

    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as error:
        raise UsageError(f"{file} is not valid TOML ({error}); fix it by hand first") from None
    table = document.get(section)
    if table is None:
        table = tomlkit.table()
        document.add(section, table)
    if not isinstance(table, (tomlkit.items.Table, tomlkit.items.InlineTable)):
        raise UsageError(f"[{section}] in {file} is not a table; fix the file by hand")
    old = table.get(key, ABSENT)
    if old is not ABSENT and hasattr(old, "unwrap"):
        old = old.unwrap()
    table[key] = value
    text = tomlkit.dumps(document)
    return (text if text.endswith("\n") else text + "\n"), old
