"""Debian's Chromium, driven by Playwright, for every test that uses a browser (tests/e2e and
tests/journeys): one session-wide instance per test process, since Playwright's sync API runs
one at a time in a thread.

Chromium comes from the OS (apt-get install chromium); Playwright's own browser download does not
work here. Without Chromium these tests skip, unless REGISTRY_E2E_REQUIRED=1 (as in CI), where a
missing browser is an error.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.required import missing

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    for candidate in (os.environ.get("REGISTRY_CHROMIUM"), "/usr/bin/chromium", "chromium"):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = _chromium()
    if executable is None:
        missing("Chromium not found (apt-get install chromium, or set REGISTRY_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()
