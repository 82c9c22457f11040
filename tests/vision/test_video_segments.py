"""The pure parts of segmented video analysis: how a video is cut, how parts are stitched back
into tracks across the cuts, and what a finished part keeps while it waits for the others."""

from __future__ import annotations

import math

import numpy as np
import pytest

from registry.vision.video_sampling import segments
from registry.vision.video_store import from_bytes, to_bytes
from registry.vision.video_tracks import BadgeSighting, Sample, Track, VideoAnalysis, stitch


def test_a_video_is_cut_into_even_parts_and_the_last_runs_to_the_end() -> None:
    assert segments(10.0, 30.0) == [(0.0, math.inf)]
    assert segments(60.0, 30.0) == [(0.0, 30.0), (30.0, math.inf)]
    # No tiny last part: 65 s in parts of about 30 s is two of 32.5 s.
    assert segments(65.0, 30.0) == [(0.0, 32.5), (32.5, math.inf)]
    parts = segments(1800.0, 30.0)
    assert len(parts) == 60
    assert parts[-1] == (1770.0, math.inf)
    assert segments(0.0, 30.0) == [(0.0, math.inf)]


def _person(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=128)
    return vector / np.linalg.norm(vector) * 0.6  # descriptors of two people: ~0.85 apart


def _track(person: np.ndarray, times: list[float], box: tuple[int, int, int, int]) -> Track:
    noise = np.random.default_rng(len(times))
    return Track(
        samples=[Sample(t, box) for t in times],
        encodings=[person + noise.normal(scale=0.005, size=128) for _ in times],
    )


def _part(tracks: list[Track], badges: list[BadgeSighting] | None = None) -> VideoAnalysis:
    return VideoAnalysis(
        width=1920,
        height=1080,
        duration_s=8.0,
        frame_rate=30.0,
        tracks=tracks,
        badges=badges or [],
        min_face_px=40,
        samples=len({s.t_s for t in tracks for s in t.samples}),
    )


def test_tracks_crossing_a_cut_are_joined_and_people_who_swap_places_are_not() -> None:
    ann, ben, cat = _person(1), _person(2), _person(3)
    box, elsewhere = (100, 300, 300, 100), (100, 1300, 300, 1100)
    first = _part(
        [
            _track(ann, [2.0, 2.5, 3.0, 3.5], box),  # stays in place across the cut
            _track(ben, [0.0, 0.5, 1.0, 3.5], elsewhere),  # leaves at the cut ...
        ],
        badges=[BadgeSighting("ANN-BADGE", 3.5, (320, 260, 380, 140), 0)],
    )
    second = _part(
        [
            _track(cat, [4.0, 4.5], elsewhere),  # ... and someone else stands there
            _track(ann, [4.0, 4.5, 5.0], box),
            _track(ben, [6.0, 6.5], (500, 900, 700, 700)),  # he comes back, elsewhere
        ],
        badges=[BadgeSighting("ANN-BADGE", 4.5, (320, 260, 380, 140), 1)],
    )
    whole = stitch([first, second])
    assert len(whole.tracks) == 3
    ann_track, ben_track, cat_track = whole.tracks
    assert [s.t_s for s in ann_track.samples] == [2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
    assert [s.t_s for s in ben_track.samples] == [0.0, 0.5, 1.0, 3.5, 6.0, 6.5]  # by likeness
    assert [s.t_s for s in cat_track.samples] == [4.0, 4.5]  # overlap, but clearly not Ben
    assert [b.track for b in whole.badges] == [0, 0]  # both sightings name Ann's one track
    assert whole.samples == first.samples + second.samples
    assert whole.duration_s == 8.0


def test_a_finished_part_keeps_means_that_weigh_every_frame() -> None:
    ann = _person(1)
    part = _part(
        [_track(ann, [0.0, 0.5, 1.0], (10, 60, 60, 10)), Track([Sample(1.0, (0, 9, 9, 0))])],
        badges=[BadgeSighting("X", 1.0, (1, 2, 3, 0), None)],
    )
    back = from_bytes(to_bytes(part))
    assert len(back.tracks[0].encodings) == 3
    assert back.tracks[0].encoding == pytest.approx(part.tracks[0].encoding)
    assert back.tracks[1].encoding is None
    assert back.badges == part.badges
    assert back.tracks[0].samples == part.tracks[0].samples
    # Stitched with another part of one frame, the mean is of all four frames.
    other = _part([_track(ann + 0.01, [1.5], (10, 60, 60, 10))])
    joined = stitch([back, from_bytes(to_bytes(other))]).tracks[0]
    mine, theirs = part.tracks[0].encoding, other.tracks[0].encoding
    assert mine is not None
    assert theirs is not None
    expected = (3 * mine + theirs) / 4
    assert joined.encoding == pytest.approx(expected)
