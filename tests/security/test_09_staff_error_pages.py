"""Item 9: every error page for a signed-in staff member is that error, drawn with their
navigation, never a 500 (the signed-in user used to be a database object detached by the time
the error page was drawn). One test per status, against a real server."""

from __future__ import annotations

import pytest

from tests.live import ADMIN, COMMS, Live, csrf_of, new_event, signed_in


def _check(answer_text: str, status: int, expected: int, who: str) -> None:
    assert status == expected, answer_text[:500]
    assert who in answer_text  # the page knows who is signed in (nav)
    assert "Something went wrong on our side" not in answer_text


def test_403_a_comms_user_on_an_admin_page(live: Live) -> None:
    with signed_in(live, "comms") as page:
        for path in ("/staff", "/audit", "/subject-requests", "/organisation"):
            answer = page.get(path)
            _check(answer.text, answer.status_code, 403, COMMS[0])


def test_404_no_such_event_or_photo(live: Live) -> None:
    with signed_in(live, "admin") as page:
        for path in (
            "/events/00000000-0000-0000-0000-000000000000",
            "/events/not-a-uuid",
            "/media/00000000-0000-0000-0000-000000000000",
            "/consents/00000000-0000-0000-0000-000000000000",
            "/no/such/page",
        ):
            answer = page.get(path)
            _check(answer.text, answer.status_code, 404, ADMIN[0])


def test_405_a_form_address_opened_as_a_page(live: Live) -> None:
    with signed_in(live, "admin") as page:
        answer = page.get("/events/00000000-0000-0000-0000-000000000000/import/confirm")
        _check(answer.text, answer.status_code, 405, ADMIN[0])
        answer = page.get("/logout")
        assert answer.status_code != 500
        answer = page.put("/events")
        _check(answer.text, answer.status_code, 405, ADMIN[0])


def test_409_reissuing_the_link_of_an_erased_booking(live: Live) -> None:
    with live.client("admin") as staff:
        event = new_event(staff)
        booking = staff.post(
            f"/api/events/{event['id']}/bookings",
            json={"name": "Gone Soon", "email": "gone@example.org"},
        ).json()
    path = "/b/" + booking["manage_url"].split("/b/")[1]
    with live.client() as attendee:
        form = attendee.get(path)
        erased = attendee.post(
            f"{path}/erase", data={"confirm": "erase", "csrf_token": csrf_of(form.text)}
        )
        assert erased.status_code == 303, erased.text
        assert erased.headers["location"] == "/erased"
    with signed_in(live, "admin") as page:
        detail = page.get(f"/events/{event['id']}")
        answer = page.post(
            f"/events/{event['id']}/bookings/{booking['id']}/manage-link",
            data={"csrf_token": csrf_of(detail.text)},
        )
        _check(answer.text, answer.status_code, 409, ADMIN[0])


@pytest.mark.parametrize("query", ["before_seq=abc", "before_seq=99999999999999999999"])
def test_422_a_bad_query_on_a_staff_page(live: Live, query: str) -> None:
    with signed_in(live, "admin") as page:
        answer = page.get(f"/audit?{query}")
        _check(answer.text, answer.status_code, 422, ADMIN[0])
