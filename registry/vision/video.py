"""Video: probing, sampled analysis with face tracks, and frame-by-frame redaction (PyAV).

Pure like the rest of `registry.vision`: bytes in, results out, no database or HTTP. A video is
analysed on sampled frames (`sample_fps` a second, plus scene cuts) with the photo pipeline's own
functions; faces are joined across samples into *tracks* (box overlap, else encoding distance)
whose encoding is the mean of their frames'; badge codes are linked to the face wearing them
frame by frame with the photo geometry. Redaction re-encodes every frame (H.264 in MP4, audio
copied unchanged, no container metadata) with each chosen track obscured on every frame it
covers, boxes interpolated between samples and held from `HOLD_S` before to after it.
"""

from __future__ import annotations

import base64
import heapq
import io
import json
import math
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from registry.vision import analysis
from registry.vision import redact as redact_mod
from registry.vision.decision import BadgeInput, FaceInput, link_badges
from registry.vision.faces import Box
from registry.vision.images import ImageRejected

CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "libdav1d"})
PRESET = "superfast"  # x264: fast enough to re-encode 1080p faster than real time on 2 cores
HOLD_S = 0.5  # a redaction starts this long before a track and ends this long after it
LINK_IOU = 0.3  # boxes in consecutive samples overlapping this much are the same face
LINK_DISTANCE = 0.4  # else encodings this close (the same person, surely), within `MAX_GAP_S`
UNLIKE = 0.6  # an overlapping face this far from the track's is someone else (people cross)
MAX_GAP_S = 3.0
SCENE_CUT = 40.0  # mean absolute difference (0-255) of two tiny grey frames: a new shot
# A file must be what its header says. Frames past the probed length (beyond a container's usual
# slack) or more frames than any camera records are refused: else a header claiming 10 s could
# hide 40 minutes that nobody analysed (and would be published with the "cleared" original).
OVERRUN_S = 2.0
MAX_FPS = 240.0


_FIRST_BOXES = frozenset({b"ftyp", b"moov", b"wide", b"free", b"mdat", b"skip"})


def is_video(data: bytes) -> bool:
    """An ISO media file (MP4, MOV: its first box) or a Matroska/WebM one, by its first bytes."""
    return data[4:8] in _FIRST_BOXES or data[:4] == b"\x1a\x45\xdf\xa3"


@dataclass(frozen=True)
class VideoInfo:
    format: str
    codec: str
    width: int  # as displayed (after rotation)
    height: int
    duration_s: float
    frame_rate: float
    rotation: int
    has_audio: bool
    coded: tuple[int, int] = (0, 0)  # the first frame's size as decoded (before rotation)


class FrameGuard:
    """Checks every decoded frame against what the probe found: the same picture size (a file
    that switches to 8000×6000 key frames mid-way is refused, not decoded into gigabytes), no
    frame past the probed length, and no more than `MAX_FPS` frames a second of the time they
    span (however the frames' times are made to lie, decoding stays bounded by the length)."""

    def __init__(self, info: VideoInfo) -> None:
        self.info = info
        self.end_s = info.duration_s + OVERRUN_S
        self.first_t: float | None = None
        self.decoded = 0

    def check(self, frame: av.VideoFrame) -> float:
        """The frame's time; ImageRejected when it breaks what the probe found."""
        self.decoded += 1
        if self.info.coded != (0, 0) and (frame.width, frame.height) != self.info.coded:
            raise ImageRejected(
                f"The video changes its picture size mid-way ({self.info.coded[0]}×"
                f"{self.info.coded[1]} to {frame.width}×{frame.height}): it cannot be cleared.",
                "size",
            )
        t = float(frame.time or 0.0)
        if t > self.end_s:
            raise ImageRejected(
                f"The video runs past the length its header gives ({self.info.duration_s:g} s): "
                "it cannot be cleared. Export it again from the camera or editor.",
                "duration",
            )
        first = self.first_t = t if self.first_t is None else self.first_t
        if self.decoded > (max(t - first, 0.0) + OVERRUN_S) * MAX_FPS:
            raise ImageRejected(
                f"The video holds more frames than {MAX_FPS:g} a second: it cannot be cleared.",
                "format",
            )
        return t


def _rotation(frame: av.VideoFrame) -> int:
    """Degrees clockwise the frame must turn to be shown upright (from its display matrix)."""
    try:
        return (-int(round(frame.rotation))) % 360
    except (AttributeError, TypeError, ValueError):
        return 0


def upright(frame: av.VideoFrame, rotation: int) -> Image.Image:
    image = frame.to_image()
    if rotation == 90:
        return image.transpose(Image.Transpose.ROTATE_270)
    if rotation == 180:
        return image.transpose(Image.Transpose.ROTATE_180)
    if rotation == 270:
        return image.transpose(Image.Transpose.ROTATE_90)
    return image


# A video in memory (tests, small clips) or a local file (uploads: never read whole).
Source = bytes | Path


def _open(source: Source) -> av.container.InputContainer:
    try:
        if isinstance(source, bytes):
            return av.open(io.BytesIO(source), mode="r")
        return av.open(str(source), mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise ImageRejected("The file is not a video that can be read.", "format") from exc


def probe(
    data: Source, *, max_seconds: float, max_width: int = 3840, max_height: int = 2160
) -> VideoInfo:
    """What a video is, refusing (ImageRejected) what cannot be cleared: no video stream, an
    unsupported codec, no duration, over the limits, or a first frame that does not decode."""
    with _open(data) as container:
        if not container.streams.video:
            raise ImageRejected("The file has no video stream.", "format")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        if codec not in CODECS:
            raise ImageRejected(
                f"Video codec {codec!r} is not supported: use H.264, HEVC, VP8, VP9 or AV1.",
                "format",
            )
        duration = 0.0
        if container.duration:
            duration = container.duration / av.time_base
        elif stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        if duration <= 0:
            raise ImageRejected("The video has no duration.", "format")
        if duration > max_seconds:
            raise ImageRejected(
                f"The video is longer than {max_seconds / 60:g} minutes.", "duration"
            )
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        try:
            first = next(container.decode(stream))
        except (StopIteration, av.FFmpegError) as exc:
            raise ImageRejected("The video's frames could not be decoded.", "format") from exc
        rotation = _rotation(first)
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        if max(width, height) > max(max_width, max_height) or min(width, height) > min(
            max_width, max_height
        ):
            raise ImageRejected(
                f"The video is {width}×{height}: at most {max_width}×{max_height} is accepted.",
                "size",
            )
        return VideoInfo(
            format=container.format.name.split(",")[0],
            codec=codec,
            width=width,
            height=height,
            duration_s=round(duration, 3),
            frame_rate=round(float(rate), 3) if rate else 0.0,
            rotation=rotation,
            has_audio=bool(container.streams.audio),
            coded=(first.width, first.height),
        )


# --- analysis ----------------------------------------------------------------------------------


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


def _tiny(frame: av.VideoFrame) -> np.ndarray:
    """A coarse grid of the frame's brightness (read from its luma plane in place when it has
    one: scaling every decoded 1080p frame would cost more than decoding it)."""
    if frame.format.name.startswith(("yuv", "nv12")) and frame.planes:
        plane = frame.planes[0]
        luma = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
        luma = luma[: frame.height]
        step_y, step_x = max(1, frame.height // 18), max(1, frame.width // 32)
        return luma[::step_y, : frame.width : step_x][:18, :32].astype(np.int16)
    return frame.reformat(width=32, height=18, format="gray").to_ndarray().astype(np.int16)


def sampled_frames(
    data: Source,
    *,
    sample_fps: float,
    ranges: Sequence[tuple[float, float]] | None = None,
    window: tuple[float, float] | None = None,
    info: VideoInfo | None = None,
) -> Iterator[tuple[float, Image.Image]]:
    """(time, upright picture) of the frames to analyse: `sample_fps` a second and the first
    frame of every new shot; only inside `ranges` when given (a check: no shot boundaries), or
    only from `window[0]` (included) to `window[1]` (excluded: a segment of a longer video).
    Every decoded frame is checked against the probe (`info`; see `FrameGuard`)."""
    step = 1.0 / sample_fps
    info = info or probe(data, max_seconds=math.inf)
    with _open(data) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        next_t, previous = 0.0, None
        if ranges is not None:
            start = min((a for a, _b in ranges), default=0.0)
            end = max((b for _a, b in ranges), default=-1.0)
        else:
            start, end = window if window is not None else (0.0, math.inf)
        guard = FrameGuard(info)
        if start > 1.0 and stream.time_base:
            # To the key frame before the first range, not through everything before it.
            container.seek(math.floor(start / stream.time_base), stream=stream)
        for frame in container.decode(stream):
            t = guard.check(frame)
            if t > end or (window is not None and t >= end):
                break
            if ranges is not None and not any(a <= t <= b for a, b in ranges):
                continue
            if t < start:
                continue
            cut = False
            if ranges is None:  # a check of given ranges needs no shot boundaries
                tiny = _tiny(frame)
                cut = previous is not None and float(np.abs(tiny - previous).mean()) > SCENE_CUT
                previous = tiny
            if t + 1e-6 >= next_t or cut:
                next_t = max(next_t + step, t + step / 2) if not cut else t + step
                yield t, upright(frame, _rotation(frame))


def _iou(a: Box, b: Box) -> float:
    top, right = max(a[0], b[0]), min(a[1], b[1])
    bottom, left = min(a[2], b[2]), max(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    area = (a[1] - a[3]) * (a[2] - a[0]) + (b[1] - b[3]) * (b[2] - b[0]) - inter
    return inter / area if area > 0 else 0.0


KNOWN_IOU = 0.5  # a face this much on a live track's last box is that track's face ...
KNOWN_ENCODINGS = 3  # ... once the track has this many encodings (refreshed every 4 samples)


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
        return not any(_iou(box, last) >= KNOWN_IOU for last in known)

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
    overlap = _iou(box_a, box_b)
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


def segments(duration_s: float, length_s: float) -> list[tuple[float, float]]:
    """A video cut into windows of about `length_s` seconds (the last open-ended, so nothing
    past the probed duration is lost); one window for a short one."""
    if duration_s <= 0:
        return [(0.0, math.inf)]
    count = max(1, math.ceil(duration_s / length_s - 0.25))
    size = duration_s / count
    edges = [round(i * size, 3) for i in range(count)]
    return [(a, b) for a, b in zip(edges, [*edges[1:], math.inf], strict=True)]


def stitch(parts: Sequence[VideoAnalysis]) -> VideoAnalysis:
    """The analyses of consecutive segments as one: a track ending near a segment's end and one
    starting near the next's start are the same face when they overlap in place (and are not
    clearly two people) or look alike — the tracker's own rule across the cut."""
    if not parts:
        raise ValueError("nothing to stitch")
    tracks: list[Track] = []
    badges: list[BadgeSighting] = []
    for part in parts:
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
        joined = _assign(pairs)
        index: dict[int, int] = {}
        for pi, track in enumerate(part.tracks):
            if pi in joined:
                gi = joined[pi]
                tracks[gi].samples.extend(track.samples)
                tracks[gi].encodings.extend(track.encodings)
                tracks[gi].cautions.extend(track.cautions)
            else:
                tracks.append(
                    Track(list(track.samples), list(track.encodings), list(track.cautions))
                )
                gi = len(tracks) - 1
            index[pi] = gi
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


def to_bytes(result: VideoAnalysis) -> bytes:
    """A segment's analysis as it waits for the others (the caller encrypts it): each track's
    samples and the mean of its encodings with their count, which is all stitching needs."""
    tracks = []
    for track in result.tracks:
        mean = track.encoding
        tracks.append(
            {
                "samples": [[s.t_s, *s.box] for s in track.samples],
                "n": len(track.encodings),
                "cautions": track.cautions,
                "mean": None
                if mean is None
                else base64.b64encode(mean.astype("<f8").tobytes()).decode(),
            }
        )
    return json.dumps(
        {
            "width": result.width,
            "height": result.height,
            "duration_s": result.duration_s,
            "frame_rate": result.frame_rate,
            "min_face_px": result.min_face_px,
            "samples": result.samples,
            "tracks": tracks,
            "badges": [[b.code, b.t_s, *b.box, b.track] for b in result.badges],
        }
    ).encode()


def _box(values: Sequence[Any]) -> Box:
    return (int(values[0]), int(values[1]), int(values[2]), int(values[3]))


def from_bytes(data: bytes) -> VideoAnalysis:
    value = json.loads(data)
    tracks = []
    for t in value["tracks"]:
        mean = (
            None
            if t["mean"] is None
            else np.frombuffer(base64.b64decode(t["mean"]), dtype="<f8").copy()
        )
        tracks.append(
            Track(
                samples=[Sample(float(s[0]), _box(s[1:5])) for s in t["samples"]],
                # The mean `n` times: later means (stitching) weigh each frame as before.
                encodings=[] if mean is None else [mean] * int(t["n"]),
                cautions=list(t.get("cautions") or [None] * int(t["n"])),
            )
        )
    return VideoAnalysis(
        width=int(value["width"]),
        height=int(value["height"]),
        duration_s=float(value["duration_s"]),
        frame_rate=float(value["frame_rate"]),
        tracks=tracks,
        badges=[
            BadgeSighting(
                code=str(b[0]),
                t_s=float(b[1]),
                box=_box(b[2:6]),
                track=None if b[6] is None else int(b[6]),
            )
            for b in value["badges"]
        ],
        min_face_px=int(value["min_face_px"]),
        samples=int(value["samples"]),
    )


def _badges_in(t: float, found: analysis.Analysis, owners: Sequence[int]) -> list[BadgeSighting]:
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


# --- redaction ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cover:
    """Something to obscure over time: a face track (padded like a photo's) or a badge."""

    samples: tuple[Sample, ...]
    factor: float = redact_mod.FACTOR

    @property
    def start(self) -> float:
        return self.samples[0].t_s - HOLD_S

    @property
    def end(self) -> float:
        return self.samples[-1].t_s + HOLD_S

    def box_at(self, t: float) -> Box | None:
        if not self.start <= t <= self.end:
            return None
        samples = self.samples
        if t <= samples[0].t_s:
            return samples[0].box
        for a, b in zip(samples, samples[1:], strict=False):
            if a.t_s <= t <= b.t_s:
                w = (t - a.t_s) / (b.t_s - a.t_s) if b.t_s > a.t_s else 0.0
                # The union of both boxes when the face moves fast: nothing peeks out.
                lerp = tuple(round(x + (y - x) * w) for x, y in zip(a.box, b.box, strict=True))
                if _iou(a.box, b.box) < 0.5:
                    return (
                        min(a.box[0], b.box[0]),
                        max(a.box[1], b.box[1]),
                        max(a.box[2], b.box[2]),
                        min(a.box[3], b.box[3]),
                    )
                return (lerp[0], lerp[1], lerp[2], lerp[3])
        return samples[-1].box


def redact_video(data: Source, covers: Sequence[Cover], out: Path, *, crf: int = 20) -> None:
    """Every frame re-encoded (H.264, MP4, same size — cut to even — and frame rate), each
    cover obscured on every frame it spans, audio copied, no container metadata: the whole
    video as one part, joined with its sound."""
    with tempfile.TemporaryDirectory(prefix="registry-redact-") as work:
        part = Path(work) / "part.mp4"
        redact_part(data, covers, part, window=(0.0, math.inf), crf=crf)
        join_parts([part], data, out)


def redact_part(
    data: Source,
    covers: Sequence[Cover],
    out: Path,
    *,
    window: tuple[float, float],
    crf: int = 20,
) -> int:
    """The frames from `window[0]` (included) to `window[1]` (excluded) re-encoded (H.264 in
    MP4, no sound, the first frame a key frame) with each cover obscured; each frame keeps its
    own time, so the parts of a video join into it (`join_parts`). The number of frames."""
    info = probe(data, max_seconds=math.inf, max_width=1 << 16, max_height=1 << 16)
    guard = FrameGuard(info)
    size = (info.width - info.width % 2, info.height - info.height % 2)
    start, end = window
    written = 0
    with _open(data) as source, av.open(str(out), mode="w", format="mp4") as target:
        v_in = source.streams.video[0]
        v_in.thread_type = "AUTO"
        rate = v_in.average_rate or v_in.guessed_rate or Fraction(30)
        rate = Fraction(rate).limit_denominator(1001)
        v_out = target.add_stream("libx264", rate=rate)
        v_out.pix_fmt = "yuv420p"
        v_out.width, v_out.height = size
        # Each frame keeps its own time (variable frame rates stay in step with the sound).
        v_out.codec_context.time_base = v_in.time_base or Fraction(1) / rate
        v_out.options = {"crf": str(crf), "preset": PRESET}
        v_out.thread_type = "AUTO"
        if start > 1.0 and v_in.time_base:
            # To the key frame before the part, not through everything before it.
            source.seek(math.floor(start / v_in.time_base), stream=v_in)
        last: int | None = None
        for frame in source.decode(v_in):
            t = guard.check(frame)
            if t < start - 1e-6:
                continue
            if t >= end - 1e-6:
                break
            active = [(b, c.factor) for c in covers if (b := c.box_at(t)) is not None]
            new = _covered(frame, active, size)
            if frame.pts is None or v_in.time_base is None:
                pts = last + 1 if last is not None else round(start * rate)
                new.time_base = Fraction(1) / rate
            else:
                pts = frame.pts if last is None or frame.pts > last else last + 1
                new.time_base = v_in.time_base
            new.pts = last = pts
            for encoded in v_out.encode(new):
                target.mux(encoded)
            written += 1
        for encoded in v_out.encode():
            target.mux(encoded)
    return written


def join_parts(parts: Sequence[Path], data: Source, out: Path) -> None:
    """The parts' video (in order, their packets as encoded) and the source's sound (copied)
    in one MP4 with no container metadata."""
    with (
        av.open(str(parts[0]), mode="r") as first,
        _open(data) as source,
        av.open(str(out), mode="w", format="mp4") as target,
    ):
        v_out = target.add_stream_from_template(first.streams.video[0])
        a_in = source.streams.audio[0] if source.streams.audio else None
        a_out = target.add_stream_from_template(a_in) if a_in is not None else None

        def pictures() -> Iterator[tuple[float, int, Any]]:
            for path in parts:
                with av.open(str(path), mode="r") as part:
                    stream = part.streams.video[0]
                    for packet in part.demux(stream):
                        if packet.dts is not None and stream.time_base is not None:
                            yield float(packet.dts * stream.time_base), 0, packet

        def sound() -> Iterator[tuple[float, int, Any]]:
            if a_in is None or a_in.time_base is None:
                return
            for packet in source.demux(a_in):
                if packet.dts is not None:
                    yield float(packet.dts * a_in.time_base), 1, packet

        for _t, which, packet in heapq.merge(pictures(), sound(), key=lambda x: (x[0], x[1])):
            packet.stream = v_out if which == 0 else a_out
            target.mux(packet)


def _covered(
    frame: av.VideoFrame, active: Sequence[tuple[Box, float]], size: tuple[int, int]
) -> av.VideoFrame:
    """The frame upright with each (box, factor) cover filled with its area's mean colour. In
    the usual case (upright 4:2:0 at the output size) the planes are filled as decoded, with no
    colour conversion, and a frame with nothing to cover goes to the encoder as it is."""
    rotation = _rotation(frame)
    if rotation == 0 and frame.format.name == "yuv420p" and (frame.width, frame.height) == size:
        if not active:
            return frame
        w, h = size
        flat = frame.to_ndarray().reshape(-1).copy()
        luma = flat[: w * h].reshape(h, w)
        chroma = [
            flat[w * h + i * (w // 2) * (h // 2) : w * h + (i + 1) * (w // 2) * (h // 2)].reshape(
                h // 2, w // 2
            )
            for i in (0, 1)
        ]
        for box, factor in active:
            top, right, bottom, left = redact_mod.cover_box(box, size, factor)
            if right <= left or bottom <= top:
                continue
            region = luma[top:bottom, left:right]
            region[:] = int(region.mean())
            for plane in chroma:
                part = plane[top // 2 : (bottom + 1) // 2, left // 2 : (right + 1) // 2]
                part[:] = int(part.mean())
        return av.VideoFrame.from_ndarray(flat.reshape(h * 3 // 2, w), format="yuv420p")
    image = upright(frame, rotation)
    array = np.asarray(image.convert("RGB"))[: size[1], : size[0]].copy()
    for box, factor in active:
        top, right, bottom, left = redact_mod.cover_box(box, size, factor)
        if right > left and bottom > top:
            region = array[top:bottom, left:right]
            region[:] = region.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    return av.VideoFrame.from_ndarray(array, format="rgb24")


def remux_clean(data: Source, out: Path) -> None:
    """The same video and audio packets in a fresh MP4 with no container metadata."""
    with _open(data) as source, av.open(str(out), mode="w", format="mp4") as target:
        pairs = {}
        for stream in [*source.streams.video[:1], *source.streams.audio[:1]]:
            pairs[stream] = target.add_stream_from_template(stream)
        for packet in source.demux(*pairs):
            if packet.dts is None:
                continue
            packet.stream = pairs[packet.stream]
            target.mux(packet)


def frame_at(data: Source, t_s: float) -> Image.Image:
    """The upright picture at (or just after) `t_s` seconds."""
    guard = FrameGuard(probe(data, max_seconds=math.inf))
    with _open(data) as container:
        stream = container.streams.video[0]
        if t_s > 0 and stream.time_base:
            container.seek(max(0, math.floor(t_s / stream.time_base)), stream=stream)
        last = None
        for frame in container.decode(stream):
            guard.check(frame)
            last = frame
            if float(frame.time or 0.0) + 1e-3 >= t_s:
                break
        if last is None:
            raise ImageRejected("The video has no frames.", "format")
        return upright(last, _rotation(last))


def timestamp(seconds: float) -> str:
    whole = int(seconds)
    return (
        f"{whole // 60:02d}:{whole % 60:02d}"
        if whole < 3600
        else (f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}")
    )
