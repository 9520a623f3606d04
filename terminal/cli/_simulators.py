"""Loading the simulators for the commands that start them (`gateway-sim`, `sim`, `demo`).

The `simulators` package and what only it needs (pyemv) come with the `sim` extra; a
production terminal has neither, and these commands then say so instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from terminal.errors import UsageError

SIMULATOR_ONLY = ("simulators", "pyemv")
"""Top-level modules only the `sim` extra installs."""


@contextmanager
def simulators_installed(what: str) -> Iterator[None]:
    """Import the simulator modules inside the block; a `UsageError` naming the fix if the
    `sim` extra is missing (`what` starts the sentence: "The gateway simulator")."""
    try:
        yield
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in SIMULATOR_ONLY:
            raise
        raise UsageError(
            f"{what} needs posterm's simulators, which this installation lacks (no module "
            f"{error.name!r}): install posterm with its sim extra, pip install 'posterm[sim]'."
        ) from None
