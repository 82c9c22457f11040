"""A video analysis in its stored form: the bytes a finished segment keeps (encrypted by the
caller) while it waits for the other segments to be stitched with it."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from registry.vision.faces import Box
from registry.vision.video_tracks import BadgeSighting, Sample, Track, VideoAnalysis


def _track_to_json(track: Track) -> dict[str, Any]:
    mean = track.encoding
    return {
        "samples": [[s.t_s, *s.box] for s in track.samples],
        "n": len(track.encodings),
        "cautions": track.cautions,
        "mean": None if mean is None else base64.b64encode(mean.astype("<f8").tobytes()).decode(),
    }


def to_bytes(result: VideoAnalysis) -> bytes:
    """A segment's analysis as it waits for the others (the caller encrypts it): each track's
    samples and the mean of its encodings with their count, which is all stitching needs."""
    return json.dumps(
        {
            "width": result.width,
            "height": result.height,
            "duration_s": result.duration_s,
            "frame_rate": result.frame_rate,
            "min_face_px": result.min_face_px,
            "samples": result.samples,
            "tracks": [_track_to_json(track) for track in result.tracks],
            "badges": [[b.code, b.t_s, *b.box, b.track] for b in result.badges],
        }
    ).encode()


def _box(values: Sequence[Any]) -> Box:
    return (int(values[0]), int(values[1]), int(values[2]), int(values[3]))


def _track_from_json(value: dict[str, Any]) -> Track:
    mean = (
        None
        if value["mean"] is None
        else np.frombuffer(base64.b64decode(value["mean"]), dtype="<f8").copy()
    )
    return Track(
        samples=[Sample(float(s[0]), _box(s[1:5])) for s in value["samples"]],
        # The mean `n` times: later means (stitching) weigh each frame as before.
        encodings=[] if mean is None else [mean] * int(value["n"]),
        cautions=list(value.get("cautions") or [None] * int(value["n"])),
    )


def _badge_from_json(value: Sequence[Any]) -> BadgeSighting:
    return BadgeSighting(
        code=str(value[0]),
        t_s=float(value[1]),
        box=_box(value[2:6]),
        track=None if value[6] is None else int(value[6]),
    )


def from_bytes(data: bytes) -> VideoAnalysis:
    """The analysis `to_bytes` stored."""
    value = json.loads(data)
    return VideoAnalysis(
        width=int(value["width"]),
        height=int(value["height"]),
        duration_s=float(value["duration_s"]),
        frame_rate=float(value["frame_rate"]),
        tracks=[_track_from_json(track) for track in value["tracks"]],
        badges=[_badge_from_json(badge) for badge in value["badges"]],
        min_face_px=int(value["min_face_px"]),
        samples=int(value["samples"]),
    )
