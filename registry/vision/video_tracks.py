"""Faces followed across a video's sampled frames, and the badges seen on them.

A video is analysed on sampled frames with the photo pipeline's own functions; faces are joined
across samples into *tracks* (box overlap, else encoding distance) whose encoding is the mean of
their frames'; badge codes are linked to the face wearing them frame by frame with the photo
geometry. The analyses of a long video's segments are stitched back into one by the same rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import av
import numpy as np

from registry.vision import analysis
from registry.vision.badge_links import link_badges
from registry.vision.decision import BadgeInput, FaceInput
from registry.vision.faces import Box
from registry.vision.images import ImageRejected
from registry.vision.video_probe import Source, probe
from registry.vision.video_sampling import sampled_frames

LINK_IOU = 0.3  # boxes in consecutive samples overlapping this much are the same face
LINK_DISTANCE = 0.4  # else encodings this close (the same person, surely), within `MAX_GAP_S`
UNLIKE = 0.6  # an overlapping face this far from the track's is someone else (people cross)
MAX_GAP_S = 3.0
KNOWN_IOU = 0.5  # a face this much on a live track's last box is that track's face ...
KNOWN_ENCODINGS = 3  # ... once the track has this many encodings (refreshed every 4 samples)


@dataclass(frozen=True)
class Sample:
    t_s: float
    box: Box


@dataclass
class Track:
    samples: list[Sample] = field(default_factory=list)
    encodings: list[np.ndarray] = field(default_factory=list)
    # Why the encodings of its frames could not be trusted, one entry per encoded frame (None:
    # they could).
    cautions: list[str | None] = field(default_factory=list)

    @property
    def encoding(self) -> np.ndarray | None:
        return np.mean(self.encodings, axis=0) if self.encodings else None

    @property
    def caution(self) -> str | None:
        """The track's caution when at least half of its encoded frames had one (the commonest
        reason): its mean encoding is then no surer than they are."""
        flagged = [c for c in self.cautions if c]
        if not flagged or len(flagged) * 2 < len(self.cautions):
            return None
        return max(set(flagged), key=flagged.count)

    @property
    def largest(self) -> Box:
        return max((s.box for s in self.samples), key=lambda b: (b[1] - b[3]) * (b[2] - b[0]))


@dataclass(frozen=True)
class BadgeSighting:
    code: str
    t_s: float
    box: Box
    track: int | None  # index into the tracks, when the wearer is unambiguous in that frame


@dataclass(frozen=True)
class VideoAnalysis:
    width: int
    height: int
    duration_s: float
    frame_rate: float
    tracks: list[Track]
    badges: list[BadgeSighting]
    min_face_px: int
    samples: int  # frames analysed


def iou(a: Box, b: Box) -> float:
    """How much two boxes overlap: their intersection over their union (0 to 1)."""
    top, right = max(a[0], b[0]), min(a[1], b[1])
    bottom, left = min(a[2], b[2]), max(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    area = (a[1] - a[3]) * (a[2] - a[0]) + (b[1] - b[3]) * (b[2] - b[0]) - inter
    return inter / area if area > 0 else 0.0


def _needs_encoding(tracks: list[Track], t: float) -> Callable[[Box], bool]:
    """Faces that continue a well-known track in place are not encoded again: the tracker
    knows who they are, and encodings are the dearest step."""
    known = [
        track.samples[-1].box
        for track in tracks
        if 0 < t - track.samples[-1].t_s <= 1.0
        and len(track.encodings) >= KNOWN_ENCODINGS
        and len(track.samples) % 4 != 0
    ]

    def needed(box: Box) -> bool:
        return not any(iou(box, last) >= KNOWN_IOU for last in known)

    return needed


def _pair_score(
    box_a: Box, mean_a: np.ndarray | None, box_b: Box, mean_b: np.ndarray | None, gap: float
) -> float | None:
    """How well a face (b) continues a track (a) seen `gap` seconds before it, lower is better;
    None when it cannot. Where it was (and not clearly someone else) beats likeness: a face that
    overlaps the track's last box within 1.5 s scores below 1, one that only looks alike (it
    moved fast, or came back) 1 + its distance."""
    if gap <= 0 or gap > MAX_GAP_S:
        return None
    d = (
        float(np.linalg.norm(mean_a - mean_b))
        if mean_a is not None and mean_b is not None
        else None
    )
    overlap = iou(box_a, box_b)
    if overlap >= LINK_IOU and gap <= 1.5 and (d is None or d <= UNLIKE):
        return 1.0 - overlap
    if d is not None and d <= LINK_DISTANCE:
        return 1.0 + d
    return None


def _assign(pairs: list[tuple[float, int, int]]) -> dict[int, int]:
    """Greedy matching, best score first: {face (or later track): the track it continues}."""
    owner: dict[int, int] = {}
    taken: set[int] = set()
    for _score, ti, fi in sorted(pairs):
        if fi in owner or ti in taken:
            continue
        owner[fi] = ti
        taken.add(ti)
    return owner


def _join(tracks: list[Track], t: float, found: Sequence[analysis.DetectedFace]) -> list[int]:
    """Add one sample's faces to the tracks (greedy: overlap first, then likeness); the track
    index of each face."""
    pairs: list[tuple[float, int, int]] = []
    for ti, track in enumerate(tracks):
        last = track.samples[-1]
        for fi, face in enumerate(found):
            score = _pair_score(last.box, track.encoding, face.box, face.encoding, t - last.t_s)
            if score is not None:
                pairs.append((score, ti, fi))
    owner = _assign(pairs)
    out = []
    for fi, face in enumerate(found):
        if fi in owner:
            ti = owner[fi]
        else:
            tracks.append(Track())
            ti = len(tracks) - 1
        tracks[ti].samples.append(Sample(t, face.box))
        if face.encoding is not None:
            tracks[ti].encodings.append(face.encoding)
            tracks[ti].cautions.append(face.caution)
        out.append(ti)
    return out


def _badges_in(t: float, found: analysis.Analysis, owners: Sequence[int]) -> list[BadgeSighting]:
    """The badges of one sampled frame, each with the track wearing it when that is clear."""
    if not found.codes:
        return []
    faces = [
        FaceInput(id=owner, box=f.box, encoding=None)
        for owner, f in zip(owners, found.faces, strict=True)
    ]
    inputs = [BadgeInput(code=c.text, box=c.box, booking_id=None) for c in found.codes]
    links, _ambiguous = link_badges(faces, inputs)
    return [
        BadgeSighting(code=c.text, t_s=t, box=c.box, track=links.get(i))
        for i, c in enumerate(found.codes)
    ]


def analyse_video(
    data: Source,
    *,
    sample_fps: float = 2.0,
    max_seconds: float = 1800.0,
    config: analysis.AnalysisConfig | None = None,
    window: tuple[float, float] | None = None,
) -> VideoAnalysis:
    """Faces (as tracks) and badges in a video, or in the `window` of it [start, end) a segment
    job covers; ImageRejected for one that cannot be read."""
    info = probe(data, max_seconds=max_seconds)
    config = config or analysis.AnalysisConfig()
    tracks: list[Track] = []
    badges: list[BadgeSighting] = []
    count, min_face = 0, config.min_face
    try:
        for t, image in sampled_frames(data, sample_fps=sample_fps, window=window, info=info):
            count += 1
            found = analysis.analyse_image(image, config, encode_if=_needs_encoding(tracks, t))
            min_face = found.min_face_px
            owners = _join(tracks, t, found.faces)
            badges.extend(_badges_in(t, found, owners))
    except av.FFmpegError as exc:
        raise ImageRejected("The video is damaged: its frames stop decoding.", "format") from exc
    if count == 0 and (window is None or window[0] <= 0):
        raise ImageRejected("The video has no frames to analyse.", "format")
    return VideoAnalysis(
        width=info.width,
        height=info.height,
        duration_s=info.duration_s,
        frame_rate=info.frame_rate,
        tracks=tracks,
        badges=badges,
        min_face_px=min_face,
        samples=count,
    )


def scan(
    data: Source, ranges: Sequence[tuple[float, float]], *, sample_fps: float
) -> list[tuple[float, analysis.Analysis]]:
    """Faces and codes on frames inside `ranges` (a redaction's check, at a higher rate)."""
    tracks: list[Track] = []
    out = []
    for t, image in sampled_frames(data, sample_fps=sample_fps, ranges=ranges):
        # As in analysis, a face that continues a checked track in place is not encoded again.
        found = analysis.analyse_image(image, encode_if=_needs_encoding(tracks, t))
        _join(tracks, t, found.faces)
        out.append((t, found))
    return out


def _continued_across(tracks: Sequence[Track], part: VideoAnalysis) -> dict[int, int]:
    """{track of `part`: the earlier track it continues}, for the tracks still open when the
    part starts (the tracker's own rule, applied across the cut)."""
    boundary = min((t.samples[0].t_s for t in part.tracks), default=math.inf)
    open_tracks = [i for i, t in enumerate(tracks) if boundary - t.samples[-1].t_s <= MAX_GAP_S]
    pairs: list[tuple[float, int, int]] = []
    for gi in open_tracks:
        before = tracks[gi]
        for pi, after in enumerate(part.tracks):
            score = _pair_score(
                before.samples[-1].box,
                before.encoding,
                after.samples[0].box,
                after.encoding,
                after.samples[0].t_s - before.samples[-1].t_s,
            )
            if score is not None:
                pairs.append((score, gi, pi))
    return _assign(pairs)


def _add_part(tracks: list[Track], part: VideoAnalysis) -> dict[int, int]:
    """The part's tracks added to `tracks` (continuing one, or as new ones); {the part's track
    index: its index in `tracks`}."""
    joined = _continued_across(tracks, part)
    index: dict[int, int] = {}
    for pi, track in enumerate(part.tracks):
        if pi in joined:
            gi = joined[pi]
            tracks[gi].samples.extend(track.samples)
            tracks[gi].encodings.extend(track.encodings)
            tracks[gi].cautions.extend(track.cautions)
        else:
            tracks.append(Track(list(track.samples), list(track.encodings), list(track.cautions)))
            gi = len(tracks) - 1
        index[pi] = gi
    return index


def stitch(parts: Sequence[VideoAnalysis]) -> VideoAnalysis:
    """The analyses of consecutive segments as one: a track ending near a segment's end and one
    starting near the next's start are the same face when they overlap in place (and are not
    clearly two people) or look alike — the tracker's own rule across the cut."""
    if not parts:
        raise ValueError("nothing to stitch")
    tracks: list[Track] = []
    badges: list[BadgeSighting] = []
    for part in parts:
        index = _add_part(tracks, part)
        badges.extend(
            BadgeSighting(
                code=b.code, t_s=b.t_s, box=b.box, track=None if b.track is None else index[b.track]
            )
            for b in part.badges
        )
    first = parts[0]
    return VideoAnalysis(
        width=first.width,
        height=first.height,
        duration_s=first.duration_s,
        frame_rate=first.frame_rate,
        tracks=tracks,
        badges=badges,
        min_face_px=min(p.min_face_px for p in parts),
        samples=sum(p.samples for p in parts),
    )
