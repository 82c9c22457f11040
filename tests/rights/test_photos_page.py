"""The attendee's "photos I am in" page shows each photo, not just its file name: the copy their
export holds (everyone else's face covered), served only through their private link, never
cached, and only for the photos the page lists."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session

from registry.audit.service import SYSTEM
from registry.events import service as events
from registry.events.models import Booking, Event
from registry.media import service as media_service
from registry.media.models import Media, MediaStatus
from registry.vision import faces
from tests.auth.factories import csrf_from
from tests.publishing.factories import jpeg_with_gps
from tests.rights.scene import Scene
from tests.vision import compose

pytestmark = pytest.mark.usefixtures("faces_dir")


def test_the_page_shows_each_photo_with_everyone_else_covered_as_the_export_does(
    scene: Scene,
    client: TestClient,
    session: Session,
    make_event: Callable[..., Event],
    faces_dir: Path,
) -> None:
    token = events.manage_token(scene.bob)
    page = client.get(f"/b/{token}/photos")
    assert page.status_code == 200
    src = f"/b/{token}/photos/{scene.hall.id}"
    assert f'<img src="{src}" alt="IMG_0042.jpg, with everyone else\'s face covered"' in page.text
    assert f"/b/{token}/photos/{scene.stage.id}" not in page.text  # he is not in it

    shown = client.get(src)
    assert shown.status_code == 200, shown.text
    assert shown.headers["content-type"] == "image/jpeg"
    assert shown.headers["cache-control"] == "no-store"
    assert shown.headers["referrer-policy"] == "no-referrer"
    image = Image.open(io.BytesIO(shown.content))
    assert max(image.size) == 1280
    assert not image.getexif()  # no metadata

    # Only his face can be found in it (Alice and the stranger are covered).
    [his] = faces.find_faces(image.convert("RGB"), scale=2)
    bob = faces.find_reference_faces(
        compose.load_rgb(compose.portraits(faces_dir)["joe_biden"][1].path)
    )[0]
    assert faces.distance(his.encoding, bob.encoding) <= 0.6

    # The very copy of his export, smaller: the same faces are covered.
    export = zipfile.ZipFile(io.BytesIO(client.get(f"/b/{token}/export").content))
    copy = Image.open(io.BytesIO(export.read(f"photos/{scene.hall.id}.jpg"))).convert("RGB")
    smaller = np.asarray(copy.resize(image.size), dtype=float)
    assert np.abs(smaller - np.asarray(image.convert("RGB"), dtype=float)).mean() < 4

    # After "not this photo" about the stage (he was not found in it), it shows there too.
    objected = client.post(
        f"/b/{token}/objections",
        data={
            "csrf_token": csrf_from(page.text),
            "reference": "IMG_0043",
            "explanation": "At the back, behind the lectern",
        },
    )
    assert "IMG_0043.jpg will not be published with you in it" in objected.text
    assert f'<img src="/b/{token}/photos/{scene.stage.id}"' in objected.text
    assert client.get(f"/b/{token}/photos/{scene.stage.id}").status_code == 200


def test_a_link_shows_no_photo_beyond_its_own(
    scene: Scene,
    client: TestClient,
    session: Session,
    make_event: Callable[..., Event],
) -> None:
    other = make_event()
    [(elsewhere, _)] = media_service.upload(
        session=session,
        actor=SYSTEM,
        files=[media_service.Upload("IMG_9000.jpg", jpeg_with_gps(3))],
        event=other,
    )
    elsewhere.status = MediaStatus.cleared
    session.add(elsewhere)
    session.flush()
    alice = events.manage_token(scene.alice)
    assert client.get(f"/b/{alice}/photos/{scene.hall.id}").status_code == 200
    for path in (
        f"/b/{alice}/photos/{scene.stage.id}",  # her event's, but she is not in it
        f"/b/{alice}/photos/{elsewhere.id}",  # another event's
        f"/b/{alice}/photos/{scene.publication_id}",  # no photo has this id
        f"/b/not-a-real-token/photos/{scene.hall.id}",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "image" not in answer.headers["content-type"]


def test_an_attendee_who_opted_out_sees_her_photos_and_is_not_asked_to_object(
    client: TestClient,
    session: Session,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    make_media: Callable[..., Media],
) -> None:
    """Opted out, she still sees the photos she was found in, is told none goes out with her
    recognisable in it, and is offered no 'not this photo' (her opt-out already covers it)."""
    event = make_event()
    olive = make_booking(event=event, opt_out=True, name="Olive Optout")
    make_media(event=event, status=MediaStatus.flagged, faces=[("opted_out", olive)])
    manage = client.get(f"/b/{events.manage_token(olive)}").text
    assert f"/b/{events.manage_token(olive)}/photos" in manage
    page = client.get(f"/b/{events.manage_token(olive)}/photos")
    assert page.status_code == 200
    assert "You opted out of photos and video" in page.text
    assert "Not published with you recognisable in it" in page.text
    assert "Not this photo" not in page.text
