"""The root of posterm's own exceptions.

Every error a person can meet carries `sentence`, written for the operator or the
technician (what happened and what to do next), and `exit_code` for the CLI:
0 approved, 1 declined or cancelled, 2 usage or configuration, 3 device or gateway.
Packages derive their own trees from `PostermError` (see each package's errors.py).
"""

from __future__ import annotations


class PostermError(Exception):
    """Base of every error posterm raises on purpose."""

    exit_code: int = 3

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


class UsageError(PostermError):
    """The command line asks for something that cannot be done as written."""

    exit_code = 2
