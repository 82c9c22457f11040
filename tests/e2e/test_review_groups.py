"""A reviewer on a tablet settles a person across an event's photos with one decision: the
faces the clearance was unsure of (a server whose thresholds put every match in the grey zone)
are grouped by who they probably are; she takes one crop out of the group with the keyboard
and confirms the rest with one key (browser, real server, real clearance)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import (
    check_accessibility,
    event_with_opted_out_attendee,
    new_server,
    shot,
    sign_in,
    staff_api,
    start_server,
    stop_server,
)


def test_one_decision_settles_a_person_across_the_events_photos(
    browser: Any, tmp_path: Path, faces_dir: Path
) -> None:
    srv, port = new_server(tmp_path)
    # Every match lands in the grey zone: nothing is decided without a reviewer.
    srv.env.update(
        {
            "REGISTRY_MATCH_THRESHOLD": "0.05",
            "REGISTRY_REVIEW_THRESHOLD": "0.62",
            "REGISTRY_CAUTION_THRESHOLD": "0.64",
        }
    )
    process = start_server(srv, port)
    try:
        photos = sorted((faces_dir / "people" / "john_simm").iterdir())
        with staff_api(srv) as api:
            event, _ = event_with_opted_out_attendee(
                api,
                event_name="Hydrotherapy day",
                name="John Simm",
                email="john@example.org",
                reference=photos[0],
            )
            uploaded = api.post(
                "/api/media",
                files=[("files", (p.name, p.read_bytes(), "image/jpeg")) for p in photos[1:7]],
                data={"event_id": event["id"]},
            ).json()
            deadline = time.monotonic() + 240
            while True:
                states = [api.get(f"/api/media/{u['id']}").json()["status"] for u in uploaded]
                if not {"pending", "processing"} & set(states):
                    break
                assert time.monotonic() < deadline, states
                time.sleep(0.5)
            assert set(states) == {"needs_review"}, states

        tablet = browser.new_context(viewport={"width": 820, "height": 1180}, has_touch=True)
        page = tablet.new_page()
        sign_in(page, srv)
        page.goto(f"{srv.url}/events/{event['id']}/photos")
        page.get_by_role("link", name="Review by person (6 faces)").click()
        group = page.locator("[data-group]").first
        expect(group.get_by_role("heading", name="Probably John Simm")).to_be_visible()
        expect(group.get_by_text("6 faces in 6 photos")).to_be_visible()
        # Beside the group, John's own face (his reference photo): a comparison, not a guess.
        own = group.get_by_role("img", name="John Simm's own face", exact=False)
        expect(own).to_be_visible()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=own.element_handle()
        )
        expect(group.get_by_role("checkbox")).to_have_count(6)
        shot(page, "review-by-person")
        check_accessibility(page, "review by person")

        # x with no face focused does nothing to the group, and says why.
        page.keyboard.press("x")
        expect(page.get_by_text("first move to a face with Tab, then press x")).to_be_visible()
        expect(group.get_by_role("checkbox", checked=True)).to_have_count(6)
        # One crop does not belong: focused and taken out with the keyboard.
        first = group.get_by_role("checkbox").first
        first.focus()
        page.keyboard.press("x")
        expect(first).not_to_be_checked()
        page.keyboard.press("y")  # "This is John Simm", for the five left in the group
        expect(page.get_by_text("Recorded for 5 faces: this is John Simm.")).to_be_visible()
        tablet.close()

        with staff_api(srv) as api:
            reviewed = [api.get(f"/api/media/{u['id']}").json() for u in uploaded]
            decisions = sorted(f["decision"] for m in reviewed for f in m["faces"])
            audit = api.get("/api/audit", params={"action": "media.face_confirm"}).json()
        assert decisions.count("opted_out") >= 5
        assert len([e for e in audit if e["action"] == "media.face_confirm"]) == 5
    finally:
        stop_server(process)
