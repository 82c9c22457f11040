from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from registry.auth.models import Role, StaffUser
from registry.events.models import Booking, Event
from tests.auth.factories import csrf_from, login_page

EVENT = {
    "name": "Spring conference",
    "starts_at": "2027-03-01T09:00:00+00:00",
    "ends_at": "2027-03-01T17:00:00+00:00",
    "venue": "Hall B",
    "filming_notice": "Photos and video for our website and social media; opt out any time.",
}


def test_create_and_read_an_event(client: TestClient, comms_headers: dict[str, str]) -> None:
    created = client.post("/api/events", json=EVENT, headers=comms_headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["filming_notice_version"] == 1
    assert body["starts_at"].startswith("2027-03-01T09:00:00")
    got = client.get(f"/api/events/{body['id']}", headers=comms_headers)
    assert got.json() == body
    assert body["id"] in [e["id"] for e in client.get("/api/events", headers=comms_headers).json()]


def test_editing_the_notice_makes_a_new_version(
    client: TestClient, comms_headers: dict[str, str], make_event: Callable[..., Event]
) -> None:
    event = make_event()
    response = client.patch(
        f"/api/events/{event.id}",
        json={"filming_notice": "A completely rewritten notice for attendees."},
        headers=comms_headers,
    )
    assert response.status_code == 200
    assert response.json()["filming_notice_version"] == 2


def test_event_input_errors(client: TestClient, comms_headers: dict[str, str]) -> None:
    naive = {**EVENT, "starts_at": "2027-03-01T09:00:00"}
    assert client.post("/api/events", json=naive, headers=comms_headers).status_code == 422
    backwards = {**EVENT, "ends_at": "2027-02-01T09:00:00+00:00"}
    assert client.post("/api/events", json=backwards, headers=comms_headers).status_code == 422
    blank = {**EVENT, "filming_notice": "   "}
    response = client.post("/api/events", json=blank, headers=comms_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "filming_notice"


def test_a_short_introduction_still_gives_a_whole_notice(
    client: TestClient, comms_headers: dict[str, str]
) -> None:
    """The notice people are shown always says where images are used, that attendees hold no
    copyright, and how to opt out and change their mind, whatever the introduction says."""
    short = {**EVENT, "filming_notice": "We will take photos.", "channels": ["print", "internal"]}
    response = client.post("/api/events", json=short, headers=comms_headers)
    assert response.status_code == 201, response.text
    event = response.json()
    assert event["filming_notice"] == "We will take photos."
    shown = event["notice"]
    assert shown.startswith("We will take photos.\n\n")
    assert "internal staff communications and printed material" in shown
    assert "You do not hold copyright" in shown
    assert "opt out or back in at any time" in shown
    # Changing the channels changes what people are shown: a new version.
    changed = client.patch(
        f"/api/events/{event['id']}", json={"channels": ["print"]}, headers=comms_headers
    ).json()
    assert changed["filming_notice_version"] == 2
    assert "internal staff" not in changed["notice"]


def test_unknown_and_malformed_ids_are_404_and_422(
    client: TestClient, comms_headers: dict[str, str]
) -> None:
    missing = client.get("/api/events/00000000-0000-4000-8000-000000000000", headers=comms_headers)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "No event with this id."}
    assert client.get("/api/events/not-a-uuid", headers=comms_headers).status_code == 422
    assert (
        client.get(
            "/api/bookings/00000000-0000-4000-8000-000000000000", headers=comms_headers
        ).status_code
        == 404
    )


def test_booking_contract_and_duplicate(
    client: TestClient, comms_headers: dict[str, str], make_event: Callable[..., Event]
) -> None:
    event = make_event()
    body = {"name": "Robin", "email": "robin@example.org", "photo_opt_out": True}
    created = client.post(f"/api/events/{event.id}/bookings", json=body, headers=comms_headers)
    assert created.status_code == 201
    booking = created.json()
    assert set(booking) >= {
        "id",
        "event_id",
        "name",
        "email",
        "photo_opt_out",
        "badge_code",
        "manage_url",
    }
    assert booking["manage_url"].startswith("http")
    assert "/b/" in booking["manage_url"]
    assert "robin@example.org" not in booking["manage_url"]
    again = client.post(f"/api/events/{event.id}/bookings", json=body, headers=comms_headers)
    assert again.status_code == 200
    assert again.json()["id"] == booking["id"]
    listed = client.get(f"/api/events/{event.id}/bookings", headers=comms_headers).json()
    assert [b["id"] for b in listed] == [booking["id"]]


def test_patch_opt_out_records_history(
    client: TestClient, comms_headers: dict[str, str], make_booking: Callable[..., Booking]
) -> None:
    booking = make_booking()
    response = client.patch(
        f"/api/bookings/{booking.id}", json={"photo_opt_out": True}, headers=comms_headers
    )
    assert response.status_code == 200
    assert response.json()["photo_opt_out"] is True
    history = client.get(f"/api/bookings/{booking.id}/history", headers=comms_headers).json()
    assert [h["action"] for h in history] == ["booked", "opted_out"]
    assert history[1]["actor"].startswith("staff:")
    bad = client.patch(
        f"/api/bookings/{booking.id}", json={"photo_opt_out": "maybe"}, headers=comms_headers
    )
    assert bad.status_code == 422


def test_an_event_keeps_its_time_zone_and_unknown_zones_are_refused(
    client: TestClient, comms_headers: dict[str, str]
) -> None:
    default = client.post("/api/events", json=EVENT, headers=comms_headers).json()
    assert default["timezone"] == "Europe/London"  # the organisation's zone (a setting)
    paris = client.post(
        "/api/events", json={**EVENT, "timezone": "Europe/Paris"}, headers=comms_headers
    )
    assert paris.status_code == 201
    assert paris.json()["timezone"] == "Europe/Paris"
    bad = client.post(
        "/api/events", json={**EVENT, "timezone": "Mars/Olympus"}, headers=comms_headers
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "timezone"
    moved = client.patch(
        f"/api/events/{paris.json()['id']}", json={"timezone": "Asia/Tokyo"}, headers=comms_headers
    )
    assert moved.json()["timezone"] == "Asia/Tokyo"


def test_a_blank_name_is_refused_by_the_api_as_by_the_page(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_staff: Callable[..., StaffUser],
) -> None:
    """The rule is the service's: a name of spaces passes the schema's length check but is no
    name, whichever door it comes through."""
    response = client.post("/api/events", json={**EVENT, "name": "   "}, headers=comms_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"
    event = make_event()
    renamed = client.patch(f"/api/events/{event.id}", json={"name": " "}, headers=comms_headers)
    assert renamed.status_code == 422
    assert renamed.json()["errors"][0]["field"] == "name"

    login_page(client, make_staff(Role.comms))
    form = client.get("/events")
    page = client.post(
        "/events",
        data={
            "name": "   ",
            "starts_at": "2031-03-01T09:00",
            "filming_notice": "We take photos.",
            "csrf_token": csrf_from(form.text),
        },
    )
    assert page.status_code == 422
    assert "Give the event a name." in page.text
    assert "We take photos." in page.text  # what was typed is still there
