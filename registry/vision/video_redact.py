"""A redacted copy of a video: every frame re-encoded (H.264 in MP4, audio copied unchanged, no
container metadata) with each chosen track obscured on every frame it covers, boxes interpolated
between samples and held from `HOLD_S` before to after it. A long video is redacted in parts
(one per worker) that are joined with its sound at the end.
"""

from __future__ import annotations

import heapq
import math
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from registry.vision import redact
from registry.vision.faces import Box
from registry.vision.video_probe import (
    FrameGuard,
    Source,
    open_video,
    probe,
    rotation_of,
    upright,
)
from registry.vision.video_tracks import Sample, iou

PRESET = "superfast"  # x264: fast enough to re-encode 1080p faster than real time on 2 cores
HOLD_S = 0.5  # a redaction starts this long before a track and ends this long after it


@dataclass(frozen=True)
class Cover:
    """Something to obscure over time: a face track (padded like a photo's) or a badge."""

    samples: tuple[Sample, ...]
    factor: float = redact.FACTOR

    @property
    def start(self) -> float:
        return self.samples[0].t_s - HOLD_S

    @property
    def end(self) -> float:
        return self.samples[-1].t_s + HOLD_S

    def box_at(self, t: float) -> Box | None:
        """Where to cover at `t` seconds: between two samples, their boxes interpolated."""
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
                if iou(a.box, b.box) < 0.5:
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


def _h264_stream(
    target: av.container.OutputContainer,
    source: av.VideoStream,
    size: tuple[int, int],
    crf: int,
) -> tuple[av.VideoStream, Fraction]:
    """An H.264 stream like the source's (its rate and time base) at `size`; and that rate."""
    rate = source.average_rate or source.guessed_rate or Fraction(30)
    rate = Fraction(rate).limit_denominator(1001)
    stream = target.add_stream("libx264", rate=rate)
    stream.pix_fmt = "yuv420p"
    stream.width, stream.height = size
    # Each frame keeps its own time (variable frame rates stay in step with the sound).
    stream.codec_context.time_base = source.time_base or Fraction(1) / rate
    stream.options = {"crf": str(crf), "preset": PRESET}
    stream.thread_type = "AUTO"
    return stream, rate


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
    with open_video(data) as source, av.open(str(out), mode="w", format="mp4") as target:
        v_in = source.streams.video[0]
        v_in.thread_type = "AUTO"
        v_out, rate = _h264_stream(target, v_in, size, crf)
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
        open_video(data) as source,
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
    rotation = rotation_of(frame)
    if rotation == 0 and frame.format.name == "yuv420p" and (frame.width, frame.height) == size:
        return _covered_in_place(frame, active, size) if active else frame
    image = upright(frame, rotation)
    array = np.asarray(image.convert("RGB"))[: size[1], : size[0]].copy()
    for box, factor in active:
        top, right, bottom, left = redact.cover_box(box, size, factor)
        if right > left and bottom > top:
            region = array[top:bottom, left:right]
            region[:] = region.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    return av.VideoFrame.from_ndarray(array, format="rgb24")


def _covered_in_place(
    frame: av.VideoFrame, active: Sequence[tuple[Box, float]], size: tuple[int, int]
) -> av.VideoFrame:
    """An upright 4:2:0 frame at the output size covered plane by plane, as decoded."""
    w, h = size
    flat = frame.to_ndarray().reshape(-1).copy()
    luma = flat[: w * h].reshape(h, w)
    quarter = (w // 2) * (h // 2)
    chroma = [
        flat[w * h + i * quarter : w * h + (i + 1) * quarter].reshape(h // 2, w // 2)
        for i in (0, 1)
    ]
    for box, factor in active:
        top, right, bottom, left = redact.cover_box(box, size, factor)
        if right <= left or bottom <= top:
            continue
        region = luma[top:bottom, left:right]
        region[:] = int(region.mean())
        for plane in chroma:
            part = plane[top // 2 : (bottom + 1) // 2, left // 2 : (right + 1) // 2]
            part[:] = int(part.mean())
    return av.VideoFrame.from_ndarray(flat.reshape(h * 3 // 2, w), format="yuv420p")


def remux_clean(data: Source, out: Path) -> None:
    """The same video and audio packets in a fresh MP4 with no container metadata."""
    with open_video(data) as source, av.open(str(out), mode="w", format="mp4") as target:
        pairs = {}
        for stream in [*source.streams.video[:1], *source.streams.audio[:1]]:
            pairs[stream] = target.add_stream_from_template(stream)
        for packet in source.demux(*pairs):
            if packet.dts is None:
                continue
            packet.stream = pairs[packet.stream]
            target.mux(packet)
