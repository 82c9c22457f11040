"""Which frames of a video are looked at: a few a second plus the first of every new shot, the
frames inside given time ranges, one picture at a given time, and the parts a long video is cut
into so that workers can share it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import av
import numpy as np
from PIL import Image

from registry.vision.images import ImageRejected
from registry.vision.video_probe import (
    FrameGuard,
    Source,
    VideoInfo,
    open_video,
    probe,
    rotation_of,
    upright,
)

SCENE_CUT = 40.0  # mean absolute difference (0-255) of two tiny grey frames: a new shot


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


def _bounds(
    ranges: Sequence[tuple[float, float]] | None, window: tuple[float, float] | None
) -> tuple[float, float]:
    """The first and last second worth decoding."""
    if ranges is not None:
        start = min((a for a, _b in ranges), default=0.0)
        end = max((b for _a, b in ranges), default=-1.0)
        return start, end
    return window if window is not None else (0.0, math.inf)


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
    with open_video(data) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        next_t, previous = 0.0, None
        start, end = _bounds(ranges, window)
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
                yield t, upright(frame, rotation_of(frame))


def frame_at(data: Source, t_s: float) -> Image.Image:
    """The upright picture at (or just after) `t_s` seconds."""
    guard = FrameGuard(probe(data, max_seconds=math.inf))
    with open_video(data) as container:
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
        return upright(last, rotation_of(last))


def segments(duration_s: float, length_s: float) -> list[tuple[float, float]]:
    """A video cut into windows of about `length_s` seconds (the last open-ended, so nothing
    past the probed duration is lost); one window for a short one."""
    if duration_s <= 0:
        return [(0.0, math.inf)]
    count = max(1, math.ceil(duration_s / length_s - 0.25))
    size = duration_s / count
    edges = [round(i * size, 3) for i in range(count)]
    return [(a, b) for a, b in zip(edges, [*edges[1:], math.inf], strict=True)]


def timestamp(seconds: float) -> str:
    """A time in a video as people write it: 01:05, or 1:02:05 past an hour."""
    whole = int(seconds)
    return (
        f"{whole // 60:02d}:{whole % 60:02d}"
        if whole < 3600
        else (f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}")
    )
