"""The typed configuration of a terminal.

Loading order (later wins): `config/default.toml` shipped with posterm, then the site file
(`--config PATH`, else `$POSTERM_CONFIG`, else `/etc/posterm/posterm.toml` if present), then
environment overrides `POSTERM_<SECTION>__<KEY>=value` (value read as TOML, else as text).

Each field's docstring is its user documentation (`posterm config show --docs` prints them).
A bad value or an unknown key is reported as one sentence per problem naming the file, the key,
the value and what is allowed; `ConfigError` carries them all, so a technician fixes everything
in one pass.
"""

from terminal.settings.loading import (
    DEFAULT_FILE,
    ENV_PREFIX,
    PACKAGE_ROOT,
    SYSTEM_FILE,
    ConfigError,
    ConfigProblem,
    load_jwk,
    load_settings,
    site_file,
)
from terminal.settings.sections import (
    GatewaySection,
    Settings,
    is_secret,
    redacted,
)

__all__ = [
    "DEFAULT_FILE",
    "ENV_PREFIX",
    "PACKAGE_ROOT",
    "SYSTEM_FILE",
    "ConfigError",
    "ConfigProblem",
    "GatewaySection",
    "Settings",
    "is_secret",
    "load_jwk",
    "load_settings",
    "redacted",
    "site_file",
]
