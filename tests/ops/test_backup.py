"""Backup and restore that lose nothing (issue 28, item 3): a seeded installation (photos, a
video, a redacted copy, a consent, a publication, an audit checkpoint) is backed up while
requests are served, restored into a new installation (on the suite's database: SQLite, or a
new PostgreSQL database), `registry check` and `registry audit verify` pass there, and the gate
answers the same for every media; a deleted file and a flipped byte are each reported."""

from __future__ import annotations

import random
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.live import Live, csrf_of, drop_database, live_server, new_database, new_event
from tests.video import Walker, compose_clip
from tests.vision import compose

CHANNELS = ["internal", "public_social"]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "registry", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _final(api: httpx.Client, media_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while True:
        media: dict[str, Any] = api.get(f"/api/media/{media_id}").json()
        if media["status"] not in ("pending", "processing"):
            return media
        assert time.monotonic() < deadline, f"{media_id} was not cleared"
        time.sleep(0.4)


def _seed(live: Live, faces_dir: Path) -> list[str]:
    """An event with an opted-out attendee, a photo of her (flagged, redacted), a photo of a
    stranger (cleared, published), a video, and a patient's granted consent for a photo."""
    people = compose.portraits(faces_dir)
    ids = []
    with live.client("admin") as api:
        event = new_event(api, name="Backed-up day", channels=CHANNELS)
        booking = api.post(
            f"/api/events/{event['id']}/bookings",
            json={"name": "Ola Opted", "email": "ola@example.org", "photo_opt_out": True},
        ).json()
        api.put(
            f"/api/bookings/{booking['id']}/reference-photo",
            files={"file": ("me.jpg", people["barack_obama"][0].path.read_bytes(), "image/jpeg")},
            data={"biometric_consent": "true"},
        ).raise_for_status()
        uploads = []
        for n, who in enumerate(("barack_obama", "joe_biden")):
            canvas = compose.background(faces_dir, (1600, 1100), random.Random(n))
            compose.paste_face(canvas, people[who][1], 150, (800, 500))
            uploads.append((f"DSC_{n}.jpg", compose.Composed(canvas).jpeg(), "image/jpeg"))
        clip = compose_clip(
            [Walker(people["kit_harington"][0].path.read_bytes(), (40, 30), (200, 30), 0, 2.0)],
            seconds=2.0,
            audio=False,
        )
        uploads.append(("walk.mp4", clip, "video/mp4"))
        made = api.post(
            "/api/media",
            files=[("files", u) for u in uploads],
            data={"event_id": event["id"]},
        ).json()
        ids = [m["id"] for m in made]
        flagged, cleared, video = (_final(api, i) for i in ids)
        assert flagged["status"] == "flagged"
        assert cleared["status"] == "cleared"
        assert video["kind"] == "video"
        api.post(f"/api/media/{flagged['id']}/redact").raise_for_status()
        api.post(
            f"/api/media/{cleared['id']}/publications",
            json={"channel": "internal", "url": "https://intranet.example/backed-up"},
        ).raise_for_status()
        loose = api.post(
            "/api/media", files=[("files", ("consented.jpg", uploads[1][1], "image/jpeg"))]
        ).json()[0]
        ids.append(loose["id"])
        _final(api, loose["id"])
        asked = api.post(
            "/api/consent-requests",
            json={
                "subject_name": "Pat Patient",
                "purpose": "Our members' newsletter",
                "description": "A photo of Pat",
                "channels": ["internal"],
                "media_ids": [loose["id"]],
            },
        ).json()
    path = "/c/" + asked["link"].split("/c/")[1]
    with live.client() as patient:
        page = patient.get(path)
        granted = patient.post(
            path,
            data={"decision": "grant", "csrf_token": csrf_of(page.text), "notice_version": "1"},
        )
        assert granted.status_code == 303, granted.text  # back to the consent page
    assert _cli(live.env, "audit", "checkpoint").returncode == 0
    return ids


def _answers(live: Live, ids: list[str]) -> list[tuple[bool, list[str]]]:
    asks = [{"media_id": i, "channel": c} for i in ids for c in CHANNELS]
    with live.client("admin") as api:
        answer = api.post("/api/publishable", json={"items": asks})
        assert answer.status_code == 200, answer.text
        return [(v["allowed"], v["reasons"]) for v in answer.json()["items"]]


def test_backup_while_serving_then_restore_loses_nothing(tmp_path: Path, faces_dir: Path) -> None:
    archive = tmp_path / "registry-backup.tar"
    with live_server(tmp_path / "original", "original", mail=False) as live:
        ids = _seed(live, faces_dir)
        before = _answers(live, ids)

        stop, served = threading.Event(), []

        def busy() -> None:  # requests (reads and writes) while the backup runs
            with live.client("admin") as api:
                event = new_event(api, name="Busy day")
                n = 0
                while not stop.is_set():
                    n += 1
                    served.append(api.get("/api/media").status_code)
                    served.append(
                        api.post(
                            f"/api/events/{event['id']}/bookings",
                            json={"name": f"Walk-in {n}", "email": f"walkin{n}@example.org"},
                        ).status_code
                    )

        worker = threading.Thread(target=busy)
        worker.start()
        try:
            deadline = time.monotonic() + 30
            while not served:  # the backup starts while requests are being answered
                assert time.monotonic() < deadline, "no request was answered"
                time.sleep(0.05)
            made = _cli(live.env, "backup", "-o", str(archive))
        finally:
            stop.set()
            worker.join()
        assert made.returncode == 0, made.stderr
        assert "ok:" in made.stdout
        assert len(served) > 4
        assert set(served) <= {200, 201}

    with tarfile.open(archive) as opened:
        names = opened.getnames()
    assert names[-1] == "manifest.json"
    assert any(n.startswith("storage/records/audit-checkpoints/") for n in names)
    # Four media, three files: the consented photo is the stranger's again (stored once).
    assert sum(n.startswith("storage/originals/") for n in names) == 3
    assert any(n.startswith("storage/renditions/") for n in names)

    target = tmp_path / "restored"
    target.mkdir()
    database = new_database(target, "restored")
    try:
        env = {**live.env, "REGISTRY_VAR_DIR": str(target), "REGISTRY_DATABASE_URL": database}
        env.pop("REGISTRY_BASE_URL", None)
        wrong = _cli(
            {**env, "REGISTRY_SECRET_KEY": "another-secret-key-that-is-long-enough-000"},
            "restore",
            str(archive),
        )
        assert wrong.returncode != 0
        assert "same REGISTRY_SECRET_KEY" in wrong.stderr
        restored = _cli(env, "restore", str(archive))
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "none missing, extra or damaged" in restored.stdout
        again = _cli(env, "restore", str(archive))
        assert again.returncode != 0  # not into a non-empty installation
        assert "not empty" in again.stderr
        verified = _cli(env, "audit", "verify")
        assert verified.returncode == 0, verified.stderr
        assert "checked against checkpoint" in verified.stdout

        with live_server(target, "restored", mail=False, database=database, users=False) as back:
            assert _answers(back, ids) == before

        # Damage is reported: a file deleted, a byte flipped.
        media = target / "media"
        originals = sorted((media / "originals").glob("??/??/*"))
        originals[0].unlink()
        data = bytearray(originals[1].read_bytes())
        data[len(data) // 2] ^= 0xFF
        originals[1].write_bytes(bytes(data))
        checked = _cli(env, "check")
        assert checked.returncode != 0
        assert f"missing (a row names it, storage has none): originals/{originals[0].name}" in (
            checked.stderr
        )
        assert f"damaged (content differs from its name): originals/{originals[1].name}" in (
            checked.stderr
        )
    finally:
        drop_database(database)
