"""Clearance through the real server: its in-process pool of worker processes and dlib."""

from __future__ import annotations

import random
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server, event_with_opted_out_attendee, staff_api
from tests.vision import compose


def wait_final(client: httpx.Client, media_id: str, seconds: float = 180) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = client.get(f"/api/media/{media_id}").json()
        if body["status"] not in ("pending", "processing"):
            return dict(body)
        time.sleep(0.5)
    pytest.fail(f"media {media_id} still {body['status']} after {seconds} s")


def test_pool_clears_a_batch_and_flags_the_attendee_who_opted_out(
    server: Server, faces_dir: Path
) -> None:
    people = compose.portraits(faces_dir)
    obama, biden = people["barack_obama"], people["joe_biden"]
    with staff_api(server) as client:
        event, booking = event_with_opted_out_attendee(
            client,
            event_name="Pool test",
            name="Opted Out",
            email="out@example.org",
            reference=obama[0].path,
        )

        rng = random.Random(9)
        photos = []
        for portrait in (obama[1], biden[0], biden[1]):
            canvas = compose.background(faces_dir, (3000, 2000), rng)
            compose.paste_face(canvas, portrait, 140, (1500, 900))
            photos.append(compose.Composed(canvas).jpeg())
        response = client.post(
            "/api/media",
            files=[("files", (f"p{i}.jpg", p, "image/jpeg")) for i, p in enumerate(photos)],
            data={"event_id": event["id"]},
        )
        assert response.status_code == 202
        results = [wait_final(client, m["id"]) for m in response.json()]
        assert [r["status"] for r in results] == ["flagged", "cleared", "cleared"]
        flagged_face = next(f for f in results[0]["faces"] if f["booking_id"])  # type: ignore[attr-defined]
        assert flagged_face["booking_id"] == booking["id"]
        assert flagged_face["via"] == "face"

        # Opting back in re-clears the photo at once, from stored encodings.
        client.patch(f"/api/bookings/{booking['id']}", json={"photo_opt_out": False})
        again = client.get(f"/api/media/{results[0]['id']}").json()
        assert again["status"] == "cleared"


def test_killing_the_server_mid_batch_loses_nothing(
    tmp_path_factory: pytest.TempPathFactory, faces_dir: Path
) -> None:
    import contextlib
    import os
    import signal

    from tests.e2e.conftest import new_server, start_server, stop_server

    srv, port = new_server(tmp_path_factory.mktemp("crash"))
    process = start_server(srv, port)
    people = compose.portraits(faces_dir)
    sources = [p for group in people.values() for p in group]
    rng = random.Random(33)
    photos = []
    for i in range(8):
        canvas = compose.background(faces_dir, (4000, 2700), rng)
        for j in range(4):
            compose.paste_face(
                canvas, sources[(i * 4 + j) % len(sources)], 90, (600 + j * 900, 1200)
            )
        photos.append(compose.Composed(canvas).jpeg())
    try:
        with staff_api(srv) as client:
            uploaded = client.post(
                "/api/media",
                files=[("files", (f"{i}.jpg", p, "image/jpeg")) for i, p in enumerate(photos)],
            ).json()
            # Kill the whole server (web process and its worker processes) while it works.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                statuses = [client.get(f"/api/media/{m['id']}").json()["status"] for m in uploaded]
                if "processing" in statuses:
                    break
                time.sleep(0.2)
            assert "processing" in statuses
            assert any(s in ("pending", "processing") for s in statuses)
        children = _children(process.pid)
        assert children, "the pool's fork server and workers run as child processes"
        process.kill()  # SIGKILL: no shutdown code runs
        process.wait(timeout=10)
        # Its fork server and worker processes (each holding the face models) end with it.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(c) for c in children):
            time.sleep(0.2)
        left = [c for c in children if _alive(c)]
        for child in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        assert left == [], "processes outlived the killed server"
    finally:
        if process.poll() is None:
            process.kill()

    process = start_server(srv, port)
    try:
        with staff_api(srv) as client:
            finals = [wait_final(client, m["id"])["status"] for m in uploaded]
            assert finals == ["cleared"] * len(photos)
            listed = client.get("/api/media").json()
            assert len(listed) == len(photos)  # no duplicates
    finally:
        stop_server(process)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _children(pid: int) -> list[int]:
    """Every descendant process (the pool's workers and the forkserver)."""
    out: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out += [int(entry.name), *_children(int(entry.name))]
    return out
