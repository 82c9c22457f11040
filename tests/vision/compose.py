"""Composed event photos from the shared face set: faces of chosen sizes (and badges) pasted on a
blurred crowd background, JPEG-compressed. Used by the vision tests and bench/clearance.py."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import qrcode
import qrcode.constants
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from registry.vision import faces


@dataclass(frozen=True)
class Portrait:
    path: Path
    identity: str
    box: faces.Box  # the face in the source photo


@dataclass
class Placed:
    identity: str
    box: faces.Box  # where the face is in the composed photo (as detected in the source, scaled)
    badge_code: str | None = None
    badge_box: faces.Box | None = None


@dataclass
class Composed:
    image: Image.Image
    placed: list[Placed] = field(default_factory=list)

    def jpeg(self, quality: int = 88) -> bytes:
        out = io.BytesIO()
        self.image.save(out, format="JPEG", quality=quality)
        return out.getvalue()


@lru_cache(maxsize=512)
def portrait(path: Path) -> Portrait | None:
    """The one face of a labelled photo, or None when it has not exactly one."""
    image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    if min(image.size) < 200:  # the 150 px aligned crops make unnatural event faces
        return None
    boxes = faces.detect(image, max_side=1200) or faces.detect(image, max_side=1200, upsample=1)
    if len(boxes) != 1:
        return None
    return Portrait(path=path, identity=path.parent.name, box=boxes[0])


def portraits(faces_dir: Path) -> dict[str, list[Portrait]]:
    out: dict[str, list[Portrait]] = {}
    for path in sorted((faces_dir / "people").glob("*/*")):
        found = portrait(path)
        if found is not None:
            out.setdefault(found.identity, []).append(found)
    return out


def background(faces_dir: Path, size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A crowd-like backdrop without detectable faces: a group photo, enlarged and blurred."""
    groups = sorted((faces_dir / "groups").glob("*.jpg"))
    base = Image.open(rng.choice(groups)).convert("RGB").resize(size, Image.Resampling.BILINEAR)
    return base.filter(ImageFilter.GaussianBlur(radius=max(size) / 80))


# Group photos of people who are none of the 33 identities (checked: the other groups in the set
# show some of them), used as a crowd of bystanders who never booked.
BYSTANDER_GROUPS = (
    "dlib_2007_007763.jpg",
    "dlib_2008_001009.jpg",
    "dlib_2008_001322.jpg",
    "dlib_2008_002079.jpg",
    "dlib_2008_002470.jpg",
    "dlib_2008_002506.jpg",
    "dlib_2008_004176.jpg",
    "dlib_2008_007676.jpg",
    "dlib_2009_004587.jpg",
    "dlib_bald_guys.jpg",
    "openface_longoria-cooper.jpg",
)


def crowd(faces_dir: Path, size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A wall of real bystanders behind the people (as in an audience shot): the bystander group
    photos tiled in rows, each scaled so its faces are about 40-120 px wide, unblurred."""
    width, height = size
    canvas = Image.new("RGB", size, (60, 60, 60))
    y = 0
    while y < height * 0.75:
        x, row_height = -rng.randint(0, 300), 0
        while x < width:
            group = _group(faces_dir / "groups" / rng.choice(BYSTANDER_GROUPS))
            scale = rng.uniform(1.6, 2.6) if group.width < 1000 else rng.uniform(0.5, 0.8)
            tile = group.resize(
                (int(group.width * scale), int(group.height * scale)), Image.Resampling.BILINEAR
            )
            canvas.paste(tile, (x, y))
            x += tile.width
            row_height = max(row_height, tile.height)
        y += row_height
    return canvas


@lru_cache(maxsize=16)
def _group(path: Path) -> Image.Image:
    return load_rgb(path)


def badge_image(code: str, module_px: int) -> Image.Image:
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_H, border=2, box_size=module_px
    )
    qr.add_data(code)
    qr.make(fit=True)
    picture: Image.Image = qr.make_image().get_image()
    return picture.convert("RGB")


COVER_SIDES = ("top", "bottom", "left", "right")


def paste_face(
    canvas: Image.Image,
    source: Portrait,
    face_px: int,
    at: tuple[int, int],
    *,
    roll: float = 0.0,
    cover: str | None = None,
) -> faces.Box:
    """Paste the source's head (soft-edged) so its face is face_px wide, centred at `at`.

    `roll`: the head turned this many degrees in the picture's plane (a tilted head);
    `cover`: a third of the face box hidden behind a flat patch from that side (top, bottom,
    left or right: a hand, a glass, a programme). The box returned is the face's, upright."""
    image = ImageOps.exif_transpose(Image.open(source.path)).convert("RGB")
    top, right, bottom, left = source.box
    width, height = right - left, bottom - top
    scale = face_px / width
    cx, cy = (left + right) / 2, (top + bottom) / 2
    region = (
        int(cx - width * 1.1),
        int(cy - height * 1.4),
        int(cx + width * 1.1),
        int(cy + height * 1.3),
    )
    crop = image.crop(region)
    crop = crop.resize(
        (max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
        Image.Resampling.LANCZOS,
    )
    mask = Image.new("L", crop.size, 0)
    ImageDraw.Draw(mask).ellipse((0, 0, crop.width - 1, crop.height - 1), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(1, crop.width // 20)))
    # The face's centre within the crop: the centre of rotation, and where `at` is.
    fx, fy = (cx - region[0]) * scale, (cy - region[1]) * scale
    if roll:
        crop = crop.rotate(roll, resample=Image.Resampling.BICUBIC, center=(fx, fy))
        mask = mask.rotate(roll, resample=Image.Resampling.BICUBIC, center=(fx, fy))
    x = round(at[0] - fx)
    y = round(at[1] - fy)
    canvas.paste(crop, (x, y), mask)
    box = (
        round(y + (top - region[1]) * scale),
        round(x + (right - region[0]) * scale),
        round(y + (bottom - region[1]) * scale),
        round(x + (left - region[0]) * scale),
    )
    if cover is not None:
        b_top, b_right, b_bottom, b_left = box
        third_w, third_h = (b_right - b_left) / 3, (b_bottom - b_top) / 3
        patch = {
            "top": (b_left, b_top, b_right, b_top + third_h),
            "bottom": (b_left, b_bottom - third_h, b_right, b_bottom),
            "left": (b_left, b_top, b_left + third_w, b_bottom),
            "right": (b_right - third_w, b_top, b_right, b_bottom),
        }[cover]
        shade = tuple(
            int(v) for v in np.asarray(canvas.crop(box_to_xy(box))).reshape(-1, 3).mean(0) * 0.6
        )
        ImageDraw.Draw(canvas).rectangle([round(v) for v in patch], fill=shade)
    return box


def box_to_xy(box: faces.Box) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) for PIL, from a (top, right, bottom, left) box."""
    return (box[3], box[0], box[1], box[2])


def add_noise(image: Image.Image, sigma: float, rng: random.Random) -> Image.Image:
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(
        0, sigma, (image.height, image.width, 1)
    )
    array = np.asarray(image).astype(np.float32) + noise
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


def load_rgb(path: Path) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(path)).convert("RGB")
