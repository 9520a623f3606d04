"""Errors of the translation catalogs.

I18nError              a catalog cannot be used
└── CatalogSyntaxError a .po file is malformed (file, line and what is wrong)
"""

from __future__ import annotations

from terminal.errors import PostermError


class I18nError(PostermError):
    """A translation catalog cannot be used."""

    exit_code = 2


class CatalogSyntaxError(I18nError):
    """A .po file does not follow the gettext PO format."""

    def __init__(self, source: str, line: int, problem: str) -> None:
        super().__init__(f"{source}, line {line}: {problem}")
        self.source = source
        self.line = line
        self.problem = problem
