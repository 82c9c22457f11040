"""Staff pages: the publish panel, ready-to-publish, the log, takedowns, "consented otherwise"."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.auth.models import Role, StaffUser
from registry.consent.models import ConsentRequest
from registry.events.models import Booking, Event
from registry.media.models import Media, MediaStatus
from tests.auth.factories import csrf_from, login_page
from tests.consent.factories import grant


def test_refusal_and_publication_from_the_photo_page(
    client: TestClient,
    session: Session,
    make_staff: Callable[..., StaffUser],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    make_media: Callable[..., Media],
) -> None:
    login_page(client, make_staff(Role.comms))
    event = make_event(channels=["internal"])
    alice = make_booking(event=event, opt_out=True)
    flagged = make_media(event=event, status=MediaStatus.flagged, faces=[("opted_out", alice)])
    ok = make_media(event=event)

    page = client.get(f"/media/{flagged.id}")
    assert page.status_code == 200
    assert "It shows people who opted out of photos: face 1 (Pat Attendee)" in page.text
    refused = client.post(
        f"/media/{flagged.id}/publish",
        data={"channel": "internal", "csrf_token": csrf_from(page.text)},
    )
    assert "Not published on internal staff communications" in refused.text

    page = client.get(f"/media/{ok.id}")
    done = client.post(
        f"/media/{ok.id}/publish",
        data={
            "channel": "internal",
            "url": "https://intranet.example/news/1",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert "Recorded as published on internal staff communications" in done.text
    assert "https://intranet.example/news/1" in done.text

    ready = client.get("/publishing?channel=internal").text
    assert "1 item may be published on internal staff communications now; 1 may not" in ready
    assert "The filming notice of" in client.get("/publishing?channel=print").text
    log = client.get("/publications").text
    assert "https://intranet.example/news/1" in log
    assert "/publications/" in log
    assert "certificate.jwt" in log


def test_takedown_page_lists_and_marks(
    client: TestClient,
    session: Session,
    make_staff: Callable[..., StaffUser],
    make_media: Callable[..., Media],
    make_consent: Callable[..., ConsentRequest],
) -> None:
    login_page(client, make_staff(Role.comms))
    media = make_media(faces=[("clear", None)])
    consent = make_consent(channels=["internal"], media_ids=[media.id])
    grant(session, consent)
    page = client.get(f"/media/{media.id}")
    client.post(
        f"/media/{media.id}/publish",
        data={"channel": "internal", "csrf_token": csrf_from(page.text)},
    )
    assert "Nothing needs taking down." in client.get("/takedowns").text
    grant(session, consent, "revoke")

    listing = client.get("/takedowns")
    assert "Sam Patient withdrew consent" in listing.text
    marker = 'action="/publications/'
    start = listing.text.index(marker) + len(marker)
    publication_id = listing.text[start : listing.text.index("/", start)]
    marked = client.post(
        f"/publications/{publication_id}/taken-down",
        data={"note": "removed", "csrf_token": csrf_from(listing.text)},
    )
    assert "Marked as taken down." in marked.text
    assert "Nothing needs taking down." in marked.text
    certificate = client.get(f"/publications/{publication_id}/certificate.jwt")
    assert certificate.status_code == 200
    assert certificate.text.count(".") == 2


def test_staff_mark_a_face_as_consented_another_way(
    client: TestClient,
    session: Session,
    make_staff: Callable[..., StaffUser],
    make_media: Callable[..., Media],
) -> None:
    login_page(client, make_staff(Role.comms))
    media = make_media(faces=[("clear", None), ("clear", None)])
    page = client.get(f"/media/{media.id}")
    assert "Consented another way" in page.text
    assert "needs a patient&#39;s consent" in page.text or "needs a patient's consent" in page.text
    empty = client.post(
        f"/media/{media.id}/faces/2/review",
        data={"decision": "consented_otherwise", "csrf_token": csrf_from(page.text)},
    )
    assert "Say how this person consented" in empty.text
    saved = client.post(
        f"/media/{media.id}/faces/2/review",
        data={
            "decision": "consented_otherwise",
            "note": "Staff photo release, signed 2026",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert "Consented another way: Staff photo release, signed 2026" in saved.text
    listing = client.get("/media").text
    assert str(media.id) in listing
