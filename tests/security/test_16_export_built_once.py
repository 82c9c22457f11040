"""Item 16: an attendee's export decodes the photos they were found in once per change of what
it holds, not on every download, and downloads are throttled per record and per network."""

from __future__ import annotations

import zipfile
from io import BytesIO
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.events import service as events
from registry.vision import images
from tests.rights.scene import Scene

pytestmark = pytest.mark.usefixtures("faces_dir")


def test_the_zip_is_built_once_per_change_and_downloads_are_throttled(
    scene: Scene,
    client: TestClient,
    comms_headers: dict[str, str],
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decoded: list[int] = []
    real = images.decode

    def counting(data: bytes, **kwargs: Any) -> images.DecodedImage:
        decoded.append(len(data))
        return real(data, **kwargs)

    monkeypatch.setattr(images, "decode", counting)
    path = f"/b/{events.manage_token(scene.bob)}/export"
    first = client.get(path)
    assert first.status_code == 200
    assert len(decoded) == 1  # the hall photo Bob's badge was read in
    again = client.get(path)
    assert again.status_code == 200
    assert again.content == first.content
    assert len(decoded) == 1  # nothing changed: not decoded again

    # Something in it changes (the photo's publication is taken down): built again, once.
    client.post(
        f"/api/publications/{scene.publication_id}/takedown",
        json={"note": "removed from the intranet"},
        headers=comms_headers,
    ).raise_for_status()
    changed = client.get(path)
    assert changed.status_code == 200
    document = zipfile.ZipFile(BytesIO(changed.content)).read("my-data.json")
    assert b'"taken_down_at": null' not in document
    assert len(decoded) == 2
    statuses = [client.get(path).status_code for _ in range(10)]
    # Ten a window per record: the first three above and seven more; then 429.
    assert statuses[:7] == [200] * 7
    assert statuses[7:] == [429] * 3
    assert len(decoded) == 2
