"""A comms officer's bulk work after an event where one attendee who opted out is in several
photos: the People page shows him with every photo he was found in; one click makes redacted
copies of every flagged photo in the background while the page shows their progress; every
copy is verified; on Ready to publish "select all" picks the lot (with JavaScript, and as a
link without it) and one ZIP holds each flagged photo as its redacted copy (browser, real
server, real clearance of real faces)."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import (
    DESKTOP,
    PHONE,
    Server,
    check_accessibility,
    event_with_opted_out_attendee,
    shot,
    sign_in,
    staff_api,
)
from tests.media.scenes import photo
from tests.vision import compose


def _cleared(api: Any, uploaded: list[dict[str, Any]]) -> dict[str, str]:
    deadline = time.monotonic() + 240
    while True:
        states = {u["id"]: api.get(f"/api/media/{u['id']}").json()["status"] for u in uploaded}
        if not {"pending", "processing"} & set(states.values()):
            return states
        assert time.monotonic() < deadline, states
        time.sleep(0.5)


def test_people_page_bulk_redaction_and_select_all_to_one_zip(
    page: Any, browser: Any, server: Server, faces_dir: Path
) -> None:
    portraits = compose.portraits(faces_dir)
    obama, others = portraits["barack_obama"], portraits["deepface_id10"]
    with staff_api(server) as api:
        event, _ = event_with_opted_out_attendee(
            api,
            event_name="Bulk work day",
            name="Barack Obama",
            email="barack.bulk@example.org",
            reference=obama[0].path,
        )
        files = [photo(faces_dir, [obama[i], others[i]], seed=i) for i in (1, 2, 3)]
        files += [photo(faces_dir, [others[i]], seed=i) for i in (4, 5)]
        uploaded = api.post(
            "/api/media",
            files=[
                ("files", (f"bulk-{i}.jpg", data, "image/jpeg")) for i, data in enumerate(files)
            ],
            data={"event_id": event["id"]},
        ).json()
        states = _cleared(api, uploaded)
    flagged = [u["id"] for u in uploaded[:3]]
    assert [states[i] for i in flagged] == ["flagged"] * 3
    assert [states[u["id"]] for u in uploaded[3:]] == ["cleared"] * 2

    # The event's page leads to its People page: Barack, with the three photos he is in.
    sign_in(page, server)
    expect(page.get_by_role("heading", name="Dashboard", exact=False)).to_be_visible()
    page.goto(f"{server.url}/events/{event['id']}")
    shot(page, "event-page-people-link")
    page.get_by_role("link", name="People who opted out").click()
    expect(page.get_by_role("heading", name="People who opted out", level=1)).to_be_visible()
    page.wait_for_load_state("load")
    barack = page.locator(".person", has=page.get_by_role("heading", name="Barack Obama"))
    expect(barack.get_by_text("Found in 3 photos: 3 decided, 0 awaiting a word.")).to_be_visible()
    grid = barack.get_by_role("list").last
    for i in range(3):
        expect(grid.get_by_role("img", name=f"bulk-{i}.jpg")).to_be_visible()
    expect(barack.get_by_text("no redacted copy yet")).to_have_count(3)
    expect(
        barack.get_by_role("button", name="Make redacted copies of the 3 photos")
    ).to_be_visible()
    shot(page, "people")
    check_accessibility(page, "the People page")

    # Every flagged photo redacted in one click, from the event's photos page: the page answers
    # at once and shows the batch's progress until every copy is made and checked.
    page.get_by_role("link", name="← Photos: Bulk work day").click()
    expect(page.get_by_role("heading", name="Photos: Bulk work day")).to_be_visible()
    page.wait_for_load_state("load")
    bulk = page.get_by_role("region", name="Redacted copies of flagged photos")
    expect(bulk.get_by_text("3 of the 3 flagged need one")).to_be_visible()
    bulk.get_by_role("button", name="Make redacted copies of every flagged photo").click()
    expect(
        page.get_by_text("Making 3 redacted copies in the background (3 flagged photos)")
    ).to_be_visible()
    page.wait_for_load_state("load")
    bulk = page.get_by_role("region", name="Redacted copies of flagged photos")
    progress_or_done = bulk.locator("progress, [data-batch-done]")
    expect(progress_or_done.first).to_be_visible()
    shot(page, "bulk-redaction-progress")
    expect(bulk.get_by_text("3 of 3 made, all verified")).to_be_visible(timeout=120_000)
    expect(
        bulk.get_by_role("button", name="Make redacted copies of every flagged photo")
    ).to_have_count(0)
    shot(page, "bulk-redaction-done")
    check_accessibility(page, "the photos page after a bulk redaction")

    # Every flagged photo has a verified redacted copy (the People page says so too).
    with staff_api(server) as api:
        for media_id in flagged:
            copies = [
                r
                for r in api.get(f"/api/media/{media_id}").json()["renditions"]
                if r["kind"] == "redacted"
            ]
            assert [(r["status"], r["verified"]) for r in copies] == [("ready", True)], copies
    page.goto(f"{server.url}/events/{event['id']}/people")
    expect(page.get_by_role("heading", name="People who opted out", level=1)).to_be_visible()
    expect(page.get_by_text("verified redacted copy", exact=True)).to_have_count(3)
    expect(page.get_by_role("button", name="Make redacted copies of the")).to_have_count(0)
    shot(page, "people-after-redaction")
    page.set_viewport_size(PHONE)  # a look on a phone too: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "people-phone")
    page.set_viewport_size(DESKTOP)

    # Ready to publish: "Select all" picks the five, and one ZIP holds them.
    page.get_by_role("link", name="Publishing", exact=True).click()
    page.get_by_label("Event").select_option(label="Bulk work day")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(f"event_id={event['id']}"))
    page.wait_for_load_state("load")
    form = page.locator("#cleared-set")
    boxes = form.get_by_role("checkbox")
    expect(boxes).to_have_count(5)
    select_all = page.get_by_role("checkbox", name="Select all 5")
    select_all.check()
    for i in range(5):
        expect(boxes.nth(i)).to_be_checked()
    expect(page.get_by_text("5 of 5 picked")).to_be_visible()
    boxes.first.uncheck()
    expect(page.get_by_text("4 of 5 picked")).to_be_visible()
    assert select_all.evaluate("box => box.indeterminate")
    select_all.check()
    expect(page.get_by_text("5 of 5 picked")).to_be_visible()
    shot(page, "ready-to-publish-select-all")
    check_accessibility(page, "Ready to publish, all selected")
    with page.expect_download() as waiting:
        form.get_by_role("button", name="Download the picked files (ZIP)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(waiting.value.path()).read_bytes()))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["refused"] == []
    kinds = {f["media_id"]: f["kind"] for f in manifest["files"]}
    assert sorted(kinds) == sorted(u["id"] for u in uploaded)
    assert {kinds[i] for i in flagged} == {"redacted"}

    # Without JavaScript, "Select all" is a link to the same page with every box ticked.
    plain = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    try:
        old = plain.new_page()
        sign_in(old, server)
        expect(old.get_by_role("heading", name="Dashboard", exact=False)).to_be_visible()
        old.goto(f"{server.url}/publishing?event_id={event['id']}")
        expect(old.get_by_role("checkbox", name="Select all 5")).to_be_hidden()
        old.get_by_role("link", name="Select all 5").click()
        expect(old.get_by_text("All 5 are ticked")).to_be_visible()
        expect(old.locator("#cleared-set").get_by_role("checkbox")).to_have_count(5)
        for box in old.locator("#cleared-set").get_by_role("checkbox").all():
            expect(box).to_be_checked()
        shot(old, "ready-to-publish-select-all-without-js")
    finally:
        plain.close()
