"""The attack list of issue 26, tried again: against a real `registry serve` over HTTP where the
item is about HTTP (`tests.live`), on the suite's database (SQLite, or PostgreSQL with
REGISTRY_TEST_DATABASE_URL: each server then gets a database of its own on that server).

Test modules are named by item (`test_01_...` is item 1).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import Live, live_server
from tests.rights.conftest import scene  # noqa: F401 (the rights tests' seeded event)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The service with mail on (a real SMTP server on loopback)."""
    with live_server(tmp_path_factory.mktemp("security"), "mail", mail=True) as server:
        yield server


@pytest.fixture(scope="session")
def live_mail_off(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The service with no mail server configured."""
    with live_server(tmp_path_factory.mktemp("security-nomail"), "nomail", mail=False) as server:
        yield server
