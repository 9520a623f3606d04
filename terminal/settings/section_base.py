"""What every configuration section shares: the strict model config (unknown keys refused,
field docstrings kept as user documentation, values frozen) and the markers `ConfigPath` and
`Secret` that loading and display read from the fields (`terminal.settings.sections`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict


class ConfigPath:
    """Marks a field holding a file or folder path: relative values are resolved against the
    folder of the file that set them (or the working directory for environment overrides)."""


class Secret:
    """Marks a field whose value must never be shown: `config show` prints it redacted."""


PathField = Annotated[str, ConfigPath()]
SecretField = Annotated[str, Secret()]

STRICT = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)
