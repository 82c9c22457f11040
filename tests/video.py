"""Short test clips composed with PyAV (real H.264 encoding): people walking across a plain
backdrop, some wearing a badge, with an audio track and container metadata to strip."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
import qrcode
from PIL import Image, ImageOps


@dataclass(frozen=True)
class Walker:
    """A portrait moving from `start` to `end` (x, y of its top-left, in pixels) between
    `enter_s` and `leave_s`, `height` px tall, with a badge QR code under it if `badge`."""

    portrait: bytes
    start: tuple[int, int]
    end: tuple[int, int]
    enter_s: float
    leave_s: float
    height: int = 150
    badge: str | None = None


def _badge(code: str, side: int) -> Image.Image:
    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_H, box_size=4)
    qr.add_data(code)
    picture: Image.Image = qr.make_image().get_image()
    return picture.convert("RGB").resize((side, side), Image.Resampling.NEAREST)


def compose_clip(
    walkers: Sequence[Walker],
    *,
    seconds: float = 4.0,
    size: tuple[int, int] = (640, 360),
    fps: int = 10,
    audio: bool = True,
    metadata: dict[str, str] | None = None,
    container: str = "mp4",
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    turned: int = 0,
) -> bytes:
    """`turned` (90 or 270): frames composed at `size` as people should see them, stored turned
    back by that much with a display matrix saying to turn them (as phones record portrait)."""
    sprites = []
    for w in walkers:
        image = ImageOps.exif_transpose(Image.open(io.BytesIO(w.portrait))).convert("RGB")
        image = image.resize((round(image.width * w.height / image.height), w.height))
        badge = _badge(w.badge, max(36, w.height // 4)) if w.badge else None
        sprites.append((w, image, badge))
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as target:
        for key, value in (metadata or {}).items():
            target.metadata[key] = value
        stream = target.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream), f"{codec} is not a video codec"
        stream.width, stream.height = size if turned % 180 == 0 else (size[1], size[0])
        stream.pix_fmt = pix_fmt
        sound = None
        if audio:
            sound = target.add_stream("aac", rate=16000)
            sound.layout = "mono"
        frames = round(seconds * fps)
        for index in range(frames):
            t = index / fps
            canvas = Image.new("RGB", size, (92, 118, 140))
            for w, image, badge in sprites:
                if not w.enter_s <= t <= w.leave_s:
                    continue
                k = (t - w.enter_s) / max(1e-6, w.leave_s - w.enter_s)
                x = round(w.start[0] + (w.end[0] - w.start[0]) * k)
                y = round(w.start[1] + (w.end[1] - w.start[1]) * k)
                canvas.paste(image, (x, y))
                if badge is not None:
                    canvas.paste(
                        badge, (x + (image.width - badge.width) // 2, y + image.height + 8)
                    )
            if turned:
                canvas = canvas.rotate(turned, expand=True)  # counter-clockwise: as stored
            picture = av.VideoFrame.from_ndarray(np.asarray(canvas), format="rgb24")
            picture.pts = index
            picture.time_base = Fraction(1, fps)
            for packet in stream.encode(picture):
                target.mux(packet)
        for packet in stream.encode():
            target.mux(packet)
        if sound is not None:
            samples = np.sin(np.arange(int(seconds * 16000)) / 16000 * 2 * np.pi * 440) * 0.2
            chunk = 1024
            for i in range(0, len(samples), chunk):
                block = samples[i : i + chunk].astype(np.float32).reshape(1, -1)
                tone = av.AudioFrame.from_ndarray(block, format="fltp", layout="mono")
                tone.sample_rate = 16000
                tone.pts = i
                for packet in sound.encode(tone):
                    target.mux(packet)
            for packet in sound.encode():
                target.mux(packet)
    return with_rotation(out.getvalue(), turned) if turned else out.getvalue()


def with_rotation(clip: bytes, degrees: int) -> bytes:
    """The MP4 `clip` with its first track's display matrix set to turn it `degrees` clockwise
    when shown (as phones record portrait video): the frames are stored as composed."""
    cos, sin = {0: (1, 0), 90: (0, 1), 180: (-1, 0), 270: (0, -1)}[degrees % 360]
    at = clip.index(b"tkhd")
    version = clip[at + 4]
    matrix_at = at + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
    one = 0x10000
    values = [cos * one, sin * one, 0, -sin * one, cos * one, 0, 0, 0, 0x40000000]
    matrix = b"".join(v.to_bytes(4, "big", signed=True) for v in values)
    return clip[:matrix_at] + matrix + clip[matrix_at + 36 :]


def _raw_h264(size: tuple[int, int], frames: int, fps: int, shade: int) -> bytes:
    """An H.264 elementary stream (Annex B: it carries its own SPS, so a decoder reading one
    after another switches picture size where the second starts)."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="h264") as target:
        stream = target.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for index in range(frames):
            array = np.full((size[1], size[0], 3), (shade + 3 * index) % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                target.mux(packet)
        for packet in stream.encode():
            target.mux(packet)
    return out.getvalue()


def size_switching_clip(
    first: tuple[int, int] = (320, 240), then: tuple[int, int] = (1600, 1200), fps: int = 10
) -> bytes:
    """A Matroska (WebM-style) video whose header and first frames say `first`, then switches
    to `then` key frames (an attack on "only the first frame's size is checked")."""
    raw = _raw_h264(first, fps, fps, 40) + _raw_h264(then, 2 * fps, fps, 160)
    out = io.BytesIO()
    with (
        av.open(io.BytesIO(raw), mode="r", format="h264") as source,
        av.open(out, mode="w", format="matroska") as target,
    ):
        src = source.streams.video[0]
        dst = target.add_stream_from_template(src)
        index = 0
        for packet in source.demux(src):
            if packet.size == 0:
                continue
            packet.stream = dst
            packet.time_base = Fraction(1, 1000)
            packet.pts = packet.dts = index * 1000 // fps
            packet.duration = 1000 // fps
            index += 1
            target.mux(packet)
    return out.getvalue()


def lying_length_clip(seconds: float = 40.0, claims: float = 2.0, fps: int = 5) -> bytes:
    """A Matroska video holding `seconds` of frames whose header says it lasts `claims` seconds
    (its Duration element rewritten)."""
    clip = compose_clip(
        [], seconds=seconds, size=(160, 120), fps=fps, audio=False, container="matroska"
    )
    marker = clip.find(b"\x44\x89\x88")  # Duration: an 8-byte float, in milliseconds
    assert marker > 0, "no Duration element"
    import struct

    start = marker + 3
    return clip[:start] + struct.pack(">d", claims * 1000.0) + clip[start + 8 :]


def dense_clip(seconds: float = 2.0, fps: int = 1000) -> bytes:
    """A short clip with far more frames a second than any camera records."""
    return compose_clip([], seconds=seconds, size=(64, 48), fps=fps, audio=False)
