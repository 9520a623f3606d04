"""Screen tests run in UTC and English unless a test says otherwise."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from terminal.i18n import set_language


@pytest.fixture(autouse=True)
def utc_and_english() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    set_language("en")
    yield
    set_language("en")
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()
