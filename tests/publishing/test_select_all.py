"""Ready to publish: "select all" without JavaScript is a link that shows the page again with every
item ticked, and what it ticks downloads as one set (the checkbox that does it in place is
app.js's, driven by the browser tests)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from html import unescape

from fastapi.testclient import TestClient

from registry.auth.models import Role, StaffUser
from registry.events.models import Event
from registry.media.models import Media
from tests.auth.factories import csrf_from, login_page

PICK = re.compile(r'<input type="checkbox" name="pick" value="([^"]+)"( checked)?>')


def test_select_all_without_javascript_ticks_every_item_and_they_go_in_one_zip(
    client: TestClient,
    make_staff: Callable[..., StaffUser],
    make_event: Callable[..., Event],
    make_media: Callable[..., Media],
) -> None:
    login_page(client, make_staff(Role.comms))
    event = make_event(channels=["internal"])
    for _ in range(4):
        make_media(event=event)
    url = f"/publishing?channel=internal&event_id={event.id}"
    page = client.get(url).text
    assert [bool(ticked) for _v, ticked in PICK.findall(page)] == [False] * 4
    link = re.search(r'<a href="([^"]+)">Select all 4</a>', page)
    assert link is not None
    everything = client.get(unescape(link.group(1))).text
    picks = PICK.findall(everything)
    assert [bool(ticked) for _v, ticked in picks] == [True] * 4
    assert "All 4 are ticked" in everything
    # Coming back after an action never ticks everything again by itself.
    back = re.search(r'name="back" value="([^"]+)"', everything)
    assert back is not None
    assert "select=" not in unescape(back.group(1))
    answer = client.post(
        "/publishing/set.zip",
        data={
            "csrf_token": csrf_from(everything),
            "channel": "internal",
            "pick": [value for value, _t in picks],
        },
    )
    assert answer.status_code == 200, answer.text[:300]
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert len([n for n in archive.namelist() if n.startswith("files/")]) == 4
