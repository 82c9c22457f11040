"""A comms officer's post of six photos from an event: five cleared, one showing an attendee who
opted out. She makes its redacted copy on its page, picks the six on "Ready to publish",
downloads one ZIP (the flagged photo as its redacted copy, never the original; no metadata; a
manifest and a verifiable certificate each) and records the six as posted in one action
(browser, real server, real clearance)."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import expect

from registry.publishing import certificates
from tests.e2e.conftest import Server, event_with_opted_out_attendee, shot, sign_in, staff_api
from tests.vision import compose


def test_six_photos_leave_in_one_zip_and_are_recorded_in_one_action(
    page: Any, server: Server, faces_dir: Path, tmp_path: Path
) -> None:
    portraits = compose.portraits(faces_dir)
    others = [p for name, ps in sorted(portraits.items()) if name != "barack_obama" for p in ps[:1]]
    with staff_api(server) as api:
        event, _ = event_with_opted_out_attendee(
            api,
            event_name="Cleared set day",
            name="Barack Obama",
            email="barack@example.org",
            reference=portraits["barack_obama"][0].path,
        )
        files = [p.path for p in others[:5]] + [portraits["barack_obama"][1].path]
        uploaded = api.post(
            "/api/media",
            files=[
                ("files", (f"set-{i}.jpg", p.read_bytes(), "image/jpeg"))
                for i, p in enumerate(files)
            ],
            data={"event_id": event["id"]},
        ).json()
        deadline = time.monotonic() + 240
        while True:
            states = {u["id"]: api.get(f"/api/media/{u['id']}").json()["status"] for u in uploaded}
            if not {"pending", "processing"} & set(states.values()):
                break
            assert time.monotonic() < deadline, states
            time.sleep(0.5)
    flagged_id = uploaded[5]["id"]
    assert states[flagged_id] == "flagged"
    assert [states[u["id"]] for u in uploaded[:5]] == ["cleared"] * 5

    sign_in(page, server)
    page.goto(f"{server.url}/media/{flagged_id}")
    page.get_by_role("region", name="Publish").get_by_role(
        "button", name="Make a redacted copy"
    ).click()
    expect(page.get_by_role("link", name="Download redacted copy").first).to_be_visible()

    page.get_by_role("link", name="Publishing", exact=True).click()
    page.get_by_label("Event").select_option(label="Cleared set day")
    page.get_by_role("button", name="Show").click()
    form = page.locator("#cleared-set")
    boxes = form.get_by_role("checkbox")
    expect(boxes).to_have_count(6)
    expect(form.get_by_text("set-5.jpg — its redacted copy")).to_be_visible()
    for i in range(6):
        form.get_by_role("checkbox", name=f"set-{i}.jpg", exact=False).check()
    shot(page, "cleared-set")
    with page.expect_download() as waiting:
        form.get_by_role("button", name="Download the picked files (ZIP)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(waiting.value.path()).read_bytes()))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["refused"] == []
    assert len(manifest["files"]) == 6
    kinds = {f["media_id"]: f["kind"] for f in manifest["files"]}
    assert kinds[flagged_id] == "redacted"
    assert sorted(kinds.values()) == ["original"] * 5 + ["redacted"]
    for item in manifest["files"]:
        data = archive.read(item["file"])
        assert hashlib.sha256(data).hexdigest() == item["sha256"]
        assert not Image.open(io.BytesIO(data)).getexif()  # no metadata
        claims = certificates.verify(item["certificate"], keys=_jwks(server))
        assert claims["sub"] == f"urn:sha256:{item['sha256']}"
        assert claims["channel"] == manifest["channel"]
    certificates_packed = sorted(n for n in archive.namelist() if n.startswith("certificates/"))
    assert [n.rsplit(".", 1)[1] for n in certificates_packed] == ["jwt", "pdf"] * 6

    for i in range(len(uploaded)):
        form.get_by_label(f"Where set-{i}.jpg was posted").fill(f"https://social.example/p/{i}")
    form.get_by_label("The posts' text and alt text").fill("Our cleared set from the day!")
    form.get_by_role("button", name="I have posted these").click()
    expect(page.get_by_text("Recorded 6 publications on", exact=False)).to_be_visible()
    with staff_api(server) as api:
        recorded = [
            p
            for u in uploaded
            for p in api.get("/api/publications", params={"media_id": u["id"]}).json()
        ]
    assert sorted(p["url"] for p in recorded) == [f"https://social.example/p/{i}" for i in range(6)]
    assert {p["caption"] for p in recorded} == {"Our cleared set from the day!"}


def _jwks(server: Server) -> dict[str, Any]:
    import httpx

    keys: dict[str, Any] = httpx.get(f"{server.url}/.well-known/jwks.json", timeout=10).json()
    return keys
