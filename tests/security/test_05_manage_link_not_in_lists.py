"""Item 5: comms staff cannot act as an attendee. The private manage link is in the answer that
created a booking (API and CSV import) only, never in a list, a read or a re-issue's answer (issue
34, item 9: see test_34_09); the staff page re-issues and mails it without showing it."""

from __future__ import annotations

from tests.live import Live, csrf_of, new_event, signed_in


def test_the_manage_link_is_only_in_the_answer_that_made_it(live: Live) -> None:
    with live.client("comms") as comms:
        event = new_event(comms)
        body = {"name": "Ines Okafor", "email": "ines@example.org", "photo_opt_out": False}
        created = comms.post(f"/api/events/{event['id']}/bookings", json=body)
        assert created.status_code == 201
        link = created.json()["manage_url"]
        assert "/b/" in link
        booking_id = created.json()["id"]

        again = comms.post(f"/api/events/{event['id']}/bookings", json=body)
        assert again.status_code == 200
        assert again.json()["manage_url"] is None

        listed = comms.get(f"/api/events/{event['id']}/bookings").json()
        read = comms.get(f"/api/bookings/{booking_id}").json()
        patched = comms.patch(f"/api/bookings/{booking_id}", json={"photo_opt_out": True}).json()
        for answer in (*listed, read, patched):
            assert answer["manage_url"] is None
            assert "/b/" not in str(answer)

        csv = b"name,email\nLeo Brandt,leo@example.org\n"
        dry = comms.post(
            f"/api/events/{event['id']}/bookings/import",
            files={"file": ("a.csv", csv, "text/csv")},
            data={"dry_run": "true"},
        ).json()
        assert dry["rows"][0]["manage_url"] is None
        imported = comms.post(
            f"/api/events/{event['id']}/bookings/import",
            files={"file": ("a.csv", csv, "text/csv")},
        ).json()
        assert "/b/" in imported["rows"][0]["manage_url"]
        again = comms.post(
            f"/api/events/{event['id']}/bookings/import",
            files={"file": ("a.csv", csv, "text/csv")},
        ).json()
        assert again["rows"][0]["status"] == "existing"
        assert again["rows"][0]["manage_url"] is None

        reissued = comms.post(f"/api/bookings/{booking_id}/manage-link")
        assert reissued.status_code == 200
        assert "/b/" not in reissued.text  # issue 34, item 9: sent, never shown
        assert reissued.json()["sent"] is True

        # The OpenAPI document says so too.
        schema = comms.get("/openapi.json").json()["components"]["schemas"]["BookingPublic"]
        assert "manage_url" not in schema.get("required", [])


def test_the_staff_page_mails_a_reissued_link_without_showing_it(live: Live) -> None:
    with live.client("comms") as comms:
        event = new_event(comms)
        booking = comms.post(
            f"/api/events/{event['id']}/bookings",
            json={"name": "Mo Ahmed", "email": "mo@example.org"},
        ).json()
    with signed_in(live) as page:
        detail = page.get(f"/events/{event['id']}")
        assert "/b/" not in detail.text
        answer = page.post(
            f"/events/{event['id']}/bookings/{booking['id']}/manage-link",
            data={"csrf_token": csrf_of(detail.text)},
        )
        assert answer.status_code == 303
        shown = page.get(answer.headers["location"])
        assert "emailed to them" in shown.text
        assert "/b/" not in shown.text
