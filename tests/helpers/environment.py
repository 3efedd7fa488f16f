"""What a test needs from the machine (Chromium, ../shared, real services)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(message: str) -> NoReturn:
    """Something the test needs is missing: under CI=true that fails the test (nothing may
    skip there); on a developer's machine it skips with the message."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
