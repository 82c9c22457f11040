"""The shared labelled face photos (never copied into the repo): without them the tests that
need them skip, or fail where REGISTRY_E2E_REQUIRED=1 (see tests/required.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from registry.config import ROOT_DIR
from tests.required import missing


def face_data_dir() -> Path | None:
    configured = os.environ.get("REGISTRY_FACE_DATA")
    path = Path(configured) if configured else ROOT_DIR.parent / "shared" / "data" / "faces"
    return path if (path / "people").is_dir() else None


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    path = face_data_dir()
    if path is None:
        missing(
            "face photos not found: put the data set at ../shared/data/faces or set "
            "REGISTRY_FACE_DATA to its folder"
        )
    return path


@pytest.fixture(scope="session")
def face_photo(faces_dir: Path) -> bytes:
    """A photo with exactly one face (one of the labelled portraits)."""
    return (faces_dir / "people" / "barack_obama" / "facerec_1.jpg").read_bytes()


@pytest.fixture(scope="session")
def group_photo(faces_dir: Path) -> bytes:
    return (faces_dir / "groups" / "deepface_couple.jpg").read_bytes()
