"""Video clearance with real decoding and encoding (PyAV/FFmpeg) and the real face models: tracks
with time ranges, badge links, the gate refusing then allowing a verified redacted rendition
whose every frame in the redacted range shows no opted-out face, metadata gone; bad files fail
clearly without stopping the batch."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session, select

from registry.actors import SYSTEM
from registry.config import get_settings
from registry.events.models import Booking, Event
from registry.media.models import Media, MediaStatus
from registry.vision import faces, video_tracks
from tests.media.samples import png
from tests.video import Walker, compose_clip

pytestmark = pytest.mark.usefixtures("faces_dir")

META = {"location": "+51.5074-000.1278/", "creation_time": "2024-05-01T10:00:00Z"}


def _portrait(faces_dir: Path, person: str) -> bytes:
    return sorted((faces_dir / "people" / person).glob("*.jpg"))[0].read_bytes()


def _upload(
    client: TestClient, headers: dict[str, str], event: Event, *files: tuple[str, bytes]
) -> list[dict[str, Any]]:
    answer = client.post(
        "/api/media",
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        data={"event_id": str(event.id)},
        headers=headers,
    )
    assert answer.status_code == 202, answer.text
    accepted: list[dict[str, Any]] = answer.json()
    return accepted


def test_a_video_is_cleared_in_tracks_refused_by_the_gate_then_redacted_on_every_frame(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    session: Session,
    run_job: Callable[[uuid.UUID], MediaStatus | None],
    faces_dir: Path,
    redact_video: Callable[..., dict[str, Any]],
) -> None:
    event = make_event(channels=["internal"])
    alice = make_booking(event=event, opt_out=True)
    make_booking(event=event)
    alice_face = _portrait(faces_dir, "barack_obama")
    clip = compose_clip(
        [
            Walker(alice_face, (20, 20), (300, 20), 0.0, 2.5, height=200, badge=alice.badge_code),
            Walker(_portrait(faces_dir, "joe_biden"), (400, 0), (400, 0), 1.0, 4.0, height=380),
        ],
        metadata=META,
    )
    [result] = _upload(client, comms_headers, event, ("talk.mp4", clip))
    media_id = uuid.UUID(result["id"])
    assert run_job(media_id) == MediaStatus.flagged

    body = client.get(f"/api/media/{media_id}", headers=comms_headers).json()
    assert (body["kind"], body["width"], body["height"]) == ("video", 640, 360)
    assert body["duration_s"] == pytest.approx(4.0, abs=0.2)
    assert body["frame_rate"] == pytest.approx(10.0)
    assert body["faces"] == []
    by_decision = {t["decision"]: t for t in body["tracks"]}
    flagged = by_decision["opted_out"]
    assert (flagged["booking_id"], flagged["via"]) == (str(alice.id), "badge")
    assert flagged["start_s"] == 0.0
    assert 2.0 <= flagged["end_s"] <= 2.5
    assert len(flagged["samples"]) >= 4
    assert [t["decision"] for t in body["tracks"]] == ["opted_out", "clear"], body["tracks"]
    assert body["tracks"][1]["start_s"] >= 1.0
    assert any(
        r.startswith("Pat Attendee (opted out) appears 00:00–00:02") for r in body["reasons"]
    ), body["reasons"]
    thumb = client.get(flagged["thumbnail_url"], headers=comms_headers)
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content[:2] == b"\xff\xd8"

    gate = f"/api/media/{media_id}/publishable?channel=internal"
    refused = client.get(gate, headers=comms_headers).json()
    assert refused["allowed"] is False
    assert "track 1 (Pat Attendee)" in refused["reasons"][0]

    rendition = redact_video(client, comms_headers, media_id)
    assert rendition["verified"] is True
    assert rendition["obscured_faces"] == [flagged["id"]]
    data = client.get(rendition["url"], headers=comms_headers).content
    with av.open(io.BytesIO(data), mode="r") as container:
        assert "location" not in container.metadata
        assert "creation_time" not in container.metadata
        assert container.streams.video[0].codec_context.name == "h264"
        assert (container.streams.video[0].width, container.streams.video[0].height) == (640, 360)
        assert container.streams.audio[0].codec_context.name == "aac"  # copied unchanged
    with av.open(io.BytesIO(clip), mode="r") as container:
        assert "location" in container.metadata  # the original is never altered

    # Every frame of the redacted range (plus the hold) shows no face like the opted-out one.
    known = video_tracks.analyse_video(clip)
    alice_encoding = next(
        t.encoding for i, t in enumerate(known.tracks) if any(b.track == i for b in known.badges)
    )
    assert alice_encoding is not None
    frames = video_tracks.scan(data, [(0.0, 3.0)], sample_fps=1000)
    assert len(frames) >= 29
    for t, found in frames:
        for face in found.faces:
            assert face.encoding is None or faces.distance(alice_encoding, face.encoding) > 0.6, t
        assert alice.badge_code not in {c.text for c in found.codes}, t

    allowed = client.get(f"{gate}&rendition_id={rendition['id']}", headers=comms_headers).json()
    assert allowed == {"allowed": True, "reasons": []}

    # "Not this person" on the track is respected by the next re-clearance.
    reviewed = client.post(
        f"/api/media/{media_id}/tracks/{flagged['id']}/review",
        json={"decision": "not_this_person"},
        headers=comms_headers,
    )
    assert reviewed.status_code == 200, reviewed.text
    photo_route = client.post(
        f"/api/media/{media_id}/faces/99/review",
        json={"decision": "confirm"},
        headers=comms_headers,
    )
    assert photo_route.status_code == 404


def test_bad_videos_fail_with_a_reason_and_the_batch_goes_on(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    session: Session,
    faces_dir: Path,
) -> None:
    event = make_event()
    good = compose_clip(
        [Walker(_portrait(faces_dir, "joe_biden"), (100, 40), (100, 40), 0.0, 2.0)],
        seconds=2.0,
        audio=False,
    )
    still = png((10, 20, 30))
    renamed = b"\x00\x00\x00\x18ftypmp42" + still  # a picture dressed as an MP4
    no_video = _audio_only()
    old_codec = compose_clip([], seconds=0.5, audio=False, codec="mpeg4")
    too_wide = compose_clip([], seconds=0.5, size=(3904, 64), audio=False)
    results = _upload(
        client,
        comms_headers,
        event,
        ("truncated.mp4", good[: len(good) // 3]),
        ("renamed.mp4", renamed),
        ("sound.mp4", no_video),
        ("old.mp4", old_codec),
        ("wide.mp4", too_wide),
        ("ok.mp4", good),
    )
    reasons = {r["filename"]: (r["status"], r["detail"]) for r in results}
    assert reasons["truncated.mp4"][0] == "failed"
    assert reasons["renamed.mp4"] == ("failed", "The file is not a video that can be read.")
    assert reasons["sound.mp4"] == ("failed", "The file has no video stream.")
    assert reasons["old.mp4"][0] == "failed"
    assert "codec 'mpeg4' is not supported" in reasons["old.mp4"][1]
    assert reasons["wide.mp4"] == ("failed", "The video is 3904×64: at most 3840×2160 is accepted.")
    assert reasons["ok.mp4"] == ("pending", None)
    stored = session.exec(select(Media).where(Media.event_id == event.id)).all()
    assert {m.kind for m in stored} == {"video"}


def test_a_video_over_the_duration_limit_and_an_odd_size_one(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    run_job: Callable[[uuid.UUID], MediaStatus | None],
    monkeypatch: pytest.MonkeyPatch,
    faces_dir: Path,
    redact_video: Callable[..., dict[str, Any]],
) -> None:
    event = make_event()
    odd = compose_clip(
        [Walker(_portrait(faces_dir, "joe_biden"), (100, 40), (120, 40), 0.0, 2.0)],
        seconds=2.0,
        size=(641, 361),
        audio=False,
        pix_fmt="yuv444p",  # odd sizes need full-resolution chroma
    )
    monkeypatch.setattr(get_settings(), "max_video_minutes", 1 / 60)
    [long] = _upload(client, comms_headers, event, ("long.mp4", odd))
    assert long["status"] == "failed"
    assert "longer than" in long["detail"]

    monkeypatch.setattr(get_settings(), "max_video_minutes", 30)
    [fresh] = _upload(client, comms_headers, event, ("odd.mp4", odd + b"\0"))
    assert fresh["status"] == "pending"
    assert run_job(uuid.UUID(fresh["id"])) == MediaStatus.cleared
    made = redact_video(client, comms_headers, fresh["id"])
    assert made["verified"] is True  # nobody to hide; re-encoded at 640×360 (cut to even)


def test_webm_vp9_and_a_variable_frame_rate_are_cleared_and_redacted_in_step(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    run_job: Callable[[uuid.UUID], MediaStatus | None],
    faces_dir: Path,
    redact_video: Callable[..., dict[str, Any]],
) -> None:
    event = make_event()
    olive = make_booking(event=event, opt_out=True)
    walker = Walker(
        _portrait(faces_dir, "barack_obama"),
        (20, 20),
        (200, 20),
        0.5,
        2.5,
        height=220,
        badge=olive.badge_code,
    )
    webm = compose_clip([walker], seconds=3.0, container="webm", codec="libvpx-vp9", audio=False)
    vfr = _variable_rate(compose_clip([walker], seconds=3.0, audio=False))
    for name, clip in (("clip.webm", webm), ("vfr.mp4", vfr)):
        [result] = _upload(client, comms_headers, event, (name, clip))
        assert result["status"] == "pending", result
        media_id = uuid.UUID(result["id"])
        assert run_job(media_id) == MediaStatus.flagged, name
        body = client.get(f"/api/media/{media_id}", headers=comms_headers).json()
        [track] = [t for t in body["tracks"] if t["decision"] == "opted_out"]
        assert 0.4 <= track["start_s"] <= 1.0, (name, track)
        made = redact_video(client, comms_headers, media_id)
        assert made["verified"] is True, name
        data = client.get(made["url"], headers=comms_headers).content
        with av.open(io.BytesIO(data), mode="r") as container:
            times = [float(f.time) for f in container.decode(video=0)]
        # Frames keep their times: the copy lasts as long as the original, in step.
        assert times[-1] == pytest.approx(body["duration_s"], abs=0.35), (name, times[-3:])


def _variable_rate(clip: bytes) -> bytes:
    """The same frames re-timed unevenly (some 1/10 s apart, some 1/5 s): a variable rate."""
    out = io.BytesIO()
    with (
        av.open(io.BytesIO(clip), mode="r") as source,
        av.open(out, mode="w", format="mp4") as target,
    ):
        stream = target.add_stream("libx264", rate=10)
        stream.width, stream.height = 640, 360
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        t = 0
        for index, frame in enumerate(source.decode(video=0)):
            new = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            new.pts, new.time_base = t, Fraction(1, 1000)
            t += 100 if index % 3 else 200
            for packet in stream.encode(new):
                target.mux(packet)
        for packet in stream.encode():
            target.mux(packet)
    return out.getvalue()


def _audio_only() -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as target:
        sound = target.add_stream("aac", rate=16000)
        sound.layout = "mono"
        block = (np.zeros((1, 1024)) + 0.1).astype(np.float32)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in sound.encode(frame):
                target.mux(packet)
        for packet in sound.encode():
            target.mux(packet)
    return out.getvalue()


def test_a_badge_seen_in_a_video_finds_its_wearer_in_the_events_photos(
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    session: Session,
    run_job: Callable[[uuid.UUID], MediaStatus | None],
    faces_dir: Path,
) -> None:
    import random

    from registry.media import service
    from tests.vision import compose

    event = make_event()
    olive = make_booking(event=event, opt_out=True)  # no reference photo: only her badge
    people = compose.portraits(faces_dir)
    obama = people["barack_obama"]
    clip = compose_clip(
        [
            Walker(
                obama[0].path.read_bytes(),
                (20, 20),
                (200, 20),
                0.0,
                3.0,
                height=200,
                badge=olive.badge_code,
            )
        ],
        seconds=3.0,
        audio=False,
    )
    canvas = compose.background(faces_dir, (1600, 1000), random.Random(5))
    compose.paste_face(canvas, obama[1], 140, (800, 400))  # another photo of her, no badge
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=92)
    [(film, _), (photo, _)] = service.upload(
        session=session,
        actor=SYSTEM,
        files=[service.Upload("talk.mp4", clip), service.Upload("hall.jpg", buffer.getvalue())],
        event=event,
    )
    assert run_job(film.id) == MediaStatus.flagged
    # Seen once wearing her badge (not corroborated yet): her face in a photo goes to review.
    assert run_job(photo.id) == MediaStatus.needs_review
    [face] = service.faces_of(session=session, media=photo)
    assert (face.booking_id, face.via) == (olive.id, "linked")


def test_a_phone_video_is_cleared_and_redacted_as_people_see_it(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    run_job: Callable[[uuid.UUID], MediaStatus | None],
    faces_dir: Path,
    redact_video: Callable[..., dict[str, Any]],
) -> None:
    """Frames stored on their side with a display matrix turning them a quarter clockwise (as a
    phone records portrait video): boxes, thumbnails and the redacted copy are upright."""
    event = make_event(channels=["internal"])
    olive = make_booking(event=event, opt_out=True)
    walkers = [
        Walker(
            _portrait(faces_dir, "barack_obama"),
            (40, 120),
            (60, 140),
            0.0,
            3.0,
            height=240,
            badge=olive.badge_code,
        )
    ]
    clip = compose_clip(walkers, seconds=3.0, size=(360, 640), audio=False, turned=90)
    upright = compose_clip(walkers, seconds=3.0, size=(360, 640), audio=False)
    with av.open(io.BytesIO(clip), mode="r") as container:
        stored = next(container.decode(video=0))
        assert (stored.width, stored.height, stored.rotation) == (640, 360, -90)
    [result] = _upload(client, comms_headers, event, ("portrait.mp4", clip))
    assert run_job(uuid.UUID(result["id"])) == MediaStatus.flagged
    body = client.get(f"/api/media/{result['id']}", headers=comms_headers).json()
    assert (body["width"], body["height"]) == (360, 640)
    [track] = body["tracks"]
    assert (track["decision"], track["via"]) == ("opted_out", "badge")
    # Where the face is in the same clip composed upright (no display matrix).
    [as_seen] = video_tracks.analyse_video(upright).tracks
    box = track["samples"][0]["box"]
    seen = dict(zip(("top", "right", "bottom", "left"), as_seen.samples[0].box, strict=True))
    assert box == pytest.approx(seen, abs=12)
    thumbnail = client.get(track["thumbnail_url"], headers=comms_headers).content
    thumb = Image.open(io.BytesIO(thumbnail))
    assert faces.detect(thumb.convert("RGB"), scale=2.0), "the thumbnail shows an upright face"

    made = redact_video(client, comms_headers, result["id"])
    assert made["verified"] is True
    data = client.get(made["url"], headers=comms_headers).content
    with av.open(io.BytesIO(data), mode="r") as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (360, 640)
        assert not frame.rotation  # written upright
    olive_face = as_seen.encoding
    assert olive_face is not None
    for t, found in video_tracks.scan(data, [(0.0, 3.0)], sample_fps=1000):
        for face in found.faces:
            assert face.encoding is None or faces.distance(olive_face, face.encoding) > 0.6, t
        assert olive.badge_code not in {c.text for c in found.codes}, t
