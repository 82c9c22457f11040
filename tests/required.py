"""What a test needs from outside the Python environment (the face photos, Chromium, poppler,
Redis, axe-core, SeaweedFS): without it the test skips on a developer's machine, but fails where
REGISTRY_E2E_REQUIRED=1 (CI sets it), so a run missing a requirement cannot pass quietly."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(message: str) -> NoReturn:
    """Skip the test for want of `message`'s requirement, or fail it where it is required."""
    if os.environ.get("REGISTRY_E2E_REQUIRED") == "1":
        pytest.fail(message)
    pytest.skip(message)
