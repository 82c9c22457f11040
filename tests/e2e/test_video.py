"""Comms staff upload a video, see who appears when on the timeline, play a track, confirm it,
redact the video (made in the background, its progress shown as it goes) and download the copy —
through the pages alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import Server, event_with_opted_out_attendee, shot, sign_in, staff_api
from tests.video import Walker, compose_clip
from tests.vision import compose


def test_review_a_video_play_a_track_confirm_and_redact(
    page: Any, server: Server, faces_dir: Path, tmp_path: Path
) -> None:
    people = compose.portraits(faces_dir)
    obama, biden = people["barack_obama"], people["joe_biden"]
    with staff_api(server) as api:
        event, _ = event_with_opted_out_attendee(
            api,
            event_name="Filmed talk",
            name="Olive Optout",
            email="olive.video@example.org",
            reference=obama[0].path,
        )
    clip = compose_clip(
        [
            Walker(biden[0].path.read_bytes(), (400, 0), (400, 0), 0.0, 6.0, height=360),
            Walker(obama[1].path.read_bytes(), (20, 20), (200, 20), 2.0, 5.0, height=240),
        ],
        seconds=6.0,
    )
    path = tmp_path / "talk.mp4"
    path.write_bytes(clip)

    sign_in(page, server)
    page.goto(f"{server.url}/events/{event['id']}")
    page.get_by_role("link", name="Photos and clearance").click()
    page.get_by_label("Choose photos").set_input_files([str(path)])
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("[data-count=flagged]")).to_have_text("1", timeout=120_000)
    page.reload()
    page.get_by_role("link", name="Video: talk.mp4").click()

    expect(page.get_by_text("Olive Optout (opted out) appears 00:02–00:0")).to_be_visible()
    expect(page.locator(".timeline g.box-opted_out rect")).to_have_count(1)
    expect(page.locator(".timeline g.box-clear rect")).to_have_count(1)
    row = page.get_by_role("row").filter(has_text="Olive Optout")
    expect(row.get_by_role("img", name="Track 2")).to_be_visible()
    # Play from the track's start.
    row.get_by_role("link", name="play track 2").click()
    page.wait_for_function("document.getElementById('player').currentTime >= 2")
    shot(page, "video-review-desktop")

    row.get_by_role("button", name="Confirm track 2").click()
    expect(page.get_by_text("Track 2: recorded. The video is now flagged.")).to_be_visible()
    # The page the review led to has finished loading before the next click (a person's click
    # then lands where they aim; the button works as soon as it shows).
    page.wait_for_load_state("load")

    page.get_by_role("region", name="Redacted copy").get_by_role(
        "button", name="Make a redacted copy"
    ).click()
    # Made in the background: the page says so at once and follows its progress by itself.
    expect(page.get_by_text("Redaction started.")).to_be_visible()
    section = page.get_by_role("region", name="Redacted copy")
    expect(section.get_by_role("progressbar")).to_be_visible()
    shot(page, "video-redaction-progress")
    expect(section.get_by_text("verified", exact=True)).to_be_visible(timeout=120_000)
    expect(section.get_by_text("1 track and 0 badges covered")).to_be_visible()
    expect(section.get_by_role("progressbar")).to_have_count(0)
    # The banner that said it had started does not outlive it.
    expect(page.get_by_text("Redaction started.")).to_have_count(0)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download redacted copy").click()
    with open(download.value.path(), "rb") as f:
        assert f.read(12)[4:8] == b"ftyp"
