"""Cleared sets: the ZIP holds exactly what the gate allows, and an item that changed since the
page was shown is refused (listed), not guessed; bad picks are refused and change nothing."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from registry.audit.service import SYSTEM
from registry.auth.models import Role, StaffUser
from registry.errors import Invalid
from registry.events import service as events
from registry.events.models import Booking, Event
from registry.media.models import Media
from registry.publishing import cleared_sets, service
from registry.publishing.models import Publication
from tests.auth.factories import csrf_from, login_page


def _picks(session: Session, media: list[Media], channel: str) -> list[cleared_sets.Pick]:
    rows = service.readiness(session=session, media=media, channel=channel)
    return [
        cleared_sets.Pick(r.media.id, r.rendition.id if r.rendition else None, r.seen)
        for r in rows
        if r.allowed
    ]


def test_what_changed_since_the_page_was_shown_is_refused(
    session: Session,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    make_media: Callable[..., Media],
) -> None:
    event = make_event(channels=["internal"])
    sam = make_booking(event=event)
    plain = [make_media(event=event) for _ in range(3)]
    with_sam = make_media(event=event, faces=[("clear", sam)])
    picks = _picks(session, [*plain, with_sam], "internal")
    assert len(picks) == 4

    # Sam opts out after the page was shown: his photo is refused, the rest go.
    events.set_opt_out(session=session, actor=SYSTEM, booking=sam, opt_out=True)
    data, outcome = cleared_sets.download(
        session=session, actor=SYSTEM, channel="internal", picks=picks
    )
    archive = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(archive.read("manifest.json"))
    assert {f["media_id"] for f in manifest["files"]} == {str(m.id) for m in plain}
    [(refused, reasons)] = outcome.refused
    assert refused is not None
    assert refused.id == with_sam.id
    assert "changed since the page was shown" in reasons[0]
    released = session.exec(select(Publication)).all()
    assert {p.media_id for p in released} == {m.id for m in plain}
    assert {p.url for p in released} == {None}

    # Posted: the releases get their URLs and caption; the changed one stays refused.
    done = cleared_sets.posted(
        session=session,
        actor=SYSTEM,
        channel="internal",
        picks=picks,
        urls={m.id: f"https://intranet.example/{i}" for i, m in enumerate(plain)},
        caption="Workshop highlights",
    )
    assert len(done.done) == 3
    assert len(done.refused) == 1
    after = session.exec(select(Publication)).all()
    assert len(after) == 3  # completed, not duplicated
    assert {p.caption for p in after} == {"Workshop highlights"}
    # Nothing picked: a clear 422-style refusal.
    with pytest.raises(Invalid):
        cleared_sets.download(session=session, actor=SYSTEM, channel="internal", picks=[])


def test_bad_picks_are_refused_by_the_pages(
    client: TestClient,
    session: Session,
    make_staff: Callable[..., StaffUser],
    make_event: Callable[..., Event],
    make_media: Callable[..., Media],
) -> None:
    login_page(client, make_staff(Role.comms))
    event = make_event(channels=["internal"])
    make_media(event=event)
    page = client.get(f"/publishing?channel=internal&event_id={event.id}")
    assert page.status_code == 200
    token = csrf_from(page.text)
    for action, pick in (
        ("/publishing/set.zip", []),
        ("/publishing/set.zip", ["not-a-pick"]),
        ("/publishing/posted", ["x:y:z"]),
        ("/publishing/set.zip", [f"{event.id}::0000"]),  # an id that is no media
    ):
        answer = client.post(
            action,
            data={"csrf_token": token, "channel": "internal", "pick": pick},
            follow_redirects=False,
        )
        assert answer.status_code == 303, (action, pick, answer.text[:200])
    assert session.exec(select(Publication)).all() == []
    assert client.get("/publishing?event_id=not-an-id").status_code == 404


def test_cleared_photos_of_an_event_with_an_opted_out_attendee_can_be_picked(
    session: Session,
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    make_media: Callable[..., Media],
) -> None:
    """The page shows every photo of the event (one holds an attendee who opted out); the person
    ticks only the cleared ones: they are packed, not refused as changed."""
    event = make_event(channels=["public_social"])
    olive = make_booking(event=event, opt_out=True, name="Olive Optout")
    flagged = make_media(event=event, faces=[("opted_out", olive)])
    cleared = [make_media(event=event) for _ in range(2)]
    shown = service.readiness(session=session, media=[flagged, *cleared], channel="public_social")
    assert [r.allowed for r in shown] == [False, True, True]
    picks = [cleared_sets.Pick(r.media.id, None, r.seen) for r in shown if r.allowed]

    data, outcome = cleared_sets.download(
        session=session, actor=SYSTEM, channel="public_social", picks=picks
    )
    assert outcome.refused == []
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    assert {f["media_id"] for f in manifest["files"]} == {str(m.id) for m in cleared}
    done = cleared_sets.posted(
        session=session,
        actor=SYSTEM,
        channel="public_social",
        picks=picks,
        urls={m.id: f"https://social.example/{i}" for i, m in enumerate(cleared)},
        caption="Our workshop",
    )
    assert len(done.done) == 2
    assert done.refused == []
