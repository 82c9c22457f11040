"""What a video file is: its container and stream facts, and the guard that holds every decoded
frame to them (PyAV).

A file must be what its header says before anything else reads it: the codec one we can decode,
a duration and picture size within the limits, and no frame that breaks those facts later on.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import av
from PIL import Image

from registry.vision.images import ImageRejected

CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "libdav1d"})
# A file must be what its header says. Frames past the probed length (beyond a container's usual
# slack) or more frames than any camera records are refused: else a header claiming 10 s could
# hide 40 minutes that nobody analysed (and would be published with the "cleared" original).
OVERRUN_S = 2.0
MAX_FPS = 240.0

_FIRST_BOXES = frozenset({b"ftyp", b"moov", b"wide", b"free", b"mdat", b"skip"})

# A video in memory (tests, small clips) or a local file (uploads: never read whole).
Source = bytes | Path


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


def rotation_of(frame: av.VideoFrame) -> int:
    """Degrees clockwise the frame must turn to be shown upright (from its display matrix)."""
    try:
        return (-int(round(frame.rotation))) % 360
    except (AttributeError, TypeError, ValueError):
        return 0


def _picture(frame: av.VideoFrame) -> Image.Image:
    """The frame as decoded, as a PIL image (PyAV's `to_image` carries no types)."""
    to_image = cast(Callable[[], Image.Image], frame.to_image)
    return to_image()


_TURNS = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


def upright(frame: av.VideoFrame, rotation: int) -> Image.Image:
    """The frame as a person sees it: turned `rotation` degrees clockwise."""
    image = _picture(frame)
    turn = _TURNS.get(rotation)
    return image if turn is None else image.transpose(turn)


def open_video(source: Source) -> av.container.InputContainer:
    """The video opened for reading; ImageRejected when it is no container FFmpeg can read."""
    try:
        if isinstance(source, bytes):
            return av.open(io.BytesIO(source), mode="r")
        return av.open(str(source), mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise ImageRejected("The file is not a video that can be read.", "format") from exc


def _duration(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    """Seconds, from the container's header or else the stream's (0 when neither says)."""
    if container.duration:
        return float(container.duration / av.time_base)
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return 0.0


def _check_codec(stream: av.VideoStream) -> str:
    codec = stream.codec_context.name
    if codec not in CODECS:
        raise ImageRejected(
            f"Video codec {codec!r} is not supported: use H.264, HEVC, VP8, VP9 or AV1.",
            "format",
        )
    return codec


def _check_duration(duration: float, max_seconds: float) -> None:
    if duration <= 0:
        raise ImageRejected("The video has no duration.", "format")
    if duration > max_seconds:
        raise ImageRejected(f"The video is longer than {max_seconds / 60:g} minutes.", "duration")


def _check_size(width: int, height: int, max_width: int, max_height: int) -> None:
    """Either orientation of the limits will do: a portrait clip may be 2160×3840."""
    if max(width, height) > max(max_width, max_height) or min(width, height) > min(
        max_width, max_height
    ):
        raise ImageRejected(
            f"The video is {width}×{height}: at most {max_width}×{max_height} is accepted.",
            "size",
        )


def probe(
    data: Source, *, max_seconds: float, max_width: int = 3840, max_height: int = 2160
) -> VideoInfo:
    """What a video is, refusing (ImageRejected) what cannot be cleared: no video stream, an
    unsupported codec, no duration, over the limits, or a first frame that does not decode."""
    with open_video(data) as container:
        if not container.streams.video:
            raise ImageRejected("The file has no video stream.", "format")
        stream = container.streams.video[0]
        codec = _check_codec(stream)
        duration = _duration(container, stream)
        _check_duration(duration, max_seconds)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        try:
            first = next(container.decode(stream))
        except (StopIteration, av.FFmpegError) as exc:
            raise ImageRejected("The video's frames could not be decoded.", "format") from exc
        rotation = rotation_of(first)
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        _check_size(width, height, max_width, max_height)
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
