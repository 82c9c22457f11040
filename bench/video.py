"""Video clearance end to end: a held-out clip through a running `registry serve`, against the
naive pipeline on the same frames, same cores, same run.

Composes a clip with PyAV (H.264, 1080p30 by default) from ../shared/data/faces (or
REGISTRY_FACE_DATA): a blurred backdrop that pans, attendees walking in and out (faces 40-250 px,
each appearance 1.5-12 s; those whose face is large enough wear their real badge at 3-6 px per
module), Gaussian noise. A third of the attendees opted out, each with a reference photo (another
photo of them, never in the clip). `--turned` (20%) of the appearances have the head rolled
15-30 degrees either way.

Ours: the clip is uploaded through the API to a warm `registry serve` (SQLite, the embedded
worker pool) and timed until final (analysis), then redacted through the API (re-encoding every
frame and verifying the copy). Scored from `GET /api/media/{id}`: each track is matched to the
appearance it follows (box overlap at its sample times).

Naive: face_recognition at its defaults (HOG upsample 1, every face encoded, tolerance 0.6) on
frames of the same clip in a pool of as many processes as cores; its time per frame is measured
on an even subsample (`--naive-frames`) and multiplied by the clip's frame count, the time it
would take on every frame; its recall is what it finds on that subsample.

    uv run python bench/video.py [--seconds 60] [--fps 30] [--height 1080] [--seed 3]

Prints analysis and redaction seconds and the ratio to naive, recall of opted-out appearances
lasting >= 1 s with a face >= 40 px (ours and naive, and of the turned ones apart),
badge-linked tracks, and wrong-person tracks. Nothing is asserted: these are figures.
"""

from __future__ import annotations

import argparse
import io
import logging
import multiprocessing
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from clearance import Api, cast, naive, seed_event  # noqa: E402
from clearance import _naive_init as naive_init  # noqa: E402
from common import bench_env, create_admin, launched, multipart  # noqa: E402

from registry.vision import faces  # noqa: E402
from tests.faces import face_data_dir  # noqa: E402
from tests.vision import compose  # noqa: E402

IOU = 0.3


@dataclass
class Sprite:
    crop: Image.Image
    mask: Image.Image
    face: faces.Box  # relative to the crop's top-left


@dataclass
class Appearance:
    identity: str
    enter: float
    leave: float
    start: tuple[int, int]  # crop top-left at enter
    end: tuple[int, int]  # ... at leave
    sprite: Sprite
    badge: Image.Image | None = None
    turned: bool = False

    def at(self, t: float) -> tuple[int, int] | None:
        if not self.enter <= t <= self.leave:
            return None
        k = (t - self.enter) / (self.leave - self.enter)
        return (
            round(self.start[0] + (self.end[0] - self.start[0]) * k),
            round(self.start[1] + (self.end[1] - self.start[1]) * k),
        )

    def box_at(self, t: float) -> faces.Box | None:
        where = self.at(t)
        if where is None:
            return None
        top, right, bottom, left = self.sprite.face
        return (top + where[1], right + where[0], bottom + where[1], left + where[0])

    @property
    def face_px(self) -> int:
        return self.sprite.face[1] - self.sprite.face[3]


def sprite(source: compose.Portrait, face_px: int, roll: float = 0.0) -> Sprite:
    """The head of a portrait, soft-edged, its face `face_px` wide (as compose.paste_face),
    rolled `roll` degrees about the face's centre."""
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
    face = (
        round((top - region[1]) * scale),
        round((right - region[0]) * scale),
        round((bottom - region[1]) * scale),
        round((left - region[0]) * scale),
    )
    if roll:
        centre = ((face[1] + face[3]) / 2, (face[0] + face[2]) / 2)
        crop = crop.rotate(roll, resample=Image.Resampling.BICUBIC, center=centre)
        mask = mask.rotate(roll, resample=Image.Resampling.BICUBIC, center=centre)
    return Sprite(crop, mask, face)


def plan(
    people: dict[str, list[compose.Portrait]],
    opted_out: set[str],
    badge_of: dict[str, str],
    *,
    seconds: float,
    size: tuple[int, int],
    seed: int,
    turned: float = 0.2,
) -> list[Appearance]:
    """People walking through the shot: about three at any time, every opted-out person at least
    once, faces 40-250 px (at 1080p; scaled with the height)."""
    rng = random.Random(seed)
    identities = sorted(people)
    scale = size[1] / 1080
    out: list[Appearance] = []
    lanes = 3  # people walk in their own third of the frame: nobody hides anybody
    free_at = [0.0] * lanes
    order = sorted(opted_out) + rng.sample(identities, k=len(identities))
    t, index = 0.0, 0
    while t < seconds - 1.5:
        for lane in range(lanes):
            if free_at[lane] > t or rng.random() < 0.35:
                continue
            identity = order[index % len(order)]
            index += 1
            face_px = max(40, round(rng.choice([40, 48, 60, 80, 110, 150, 200, 250]) * scale))
            rolled = rng.random() < turned
            roll = rng.choice([-1, 1]) * rng.uniform(15, 30) if rolled else 0.0
            sp = sprite(rng.choice(people[identity][1:]), face_px, roll)  # never the reference
            duration = min(seconds - t, rng.uniform(1.5, 12.0))
            w, h = sp.crop.size
            band = (lane * size[0] // lanes, (lane + 1) * size[0] // lanes - w)
            y = rng.randint(int(size[1] * 0.05), max(int(size[1] * 0.05) + 1, size[1] - h * 2))
            x0, x1 = (rng.randint(band[0], max(band[0], band[1])) for _ in range(2))
            badge = None
            module = round(face_px / 45)
            if module >= 3 and rng.random() < 0.7:
                badge = compose.badge_image(badge_of[identity], min(6, module))
            out.append(Appearance(identity, t, t + duration, (x0, y), (x1, y), sp, badge, rolled))
            free_at[lane] = t + duration + 0.5
        t += rng.uniform(0.5, 2.0)
    return out


def render(
    faces_dir: Path,
    appearances: list[Appearance],
    path: Path,
    *,
    seconds: float,
    fps: int,
    size: tuple[int, int],
    seed: int,
) -> int:
    rng = random.Random(seed)
    wide = compose.background(faces_dir, (size[0] + size[0] // 4, size[1]), rng)
    frames = round(seconds * fps)
    rng_noise = np.random.default_rng(seed)
    # Sensor noise: a few fixed fields, cycled (drawing a fresh one per 1080p frame is slow).
    noise = [rng_noise.normal(0, 3.0, (size[1], size[0], 3)).astype(np.int16) for _ in range(7)]
    with av.open(str(path), mode="w") as target:
        stream = target.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "20"}
        for index in range(frames):
            t = index / fps
            pan = round((size[0] // 4) * index / max(1, frames - 1))
            canvas = wide.crop((pan, 0, pan + size[0], size[1]))
            for a in appearances:
                where = a.at(t)
                if where is None:
                    continue
                canvas.paste(a.sprite.crop, where, a.sprite.mask)
                if a.badge is not None:
                    face = a.box_at(t)
                    assert face is not None
                    bx = (face[1] + face[3]) // 2 - a.badge.width // 2
                    by = face[2] + int(a.face_px * 0.9)
                    canvas.paste(a.badge, (bx, by))
            array = np.asarray(canvas, dtype=np.int16)
            array = np.clip(array + noise[index % len(noise)], 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            for packet in stream.encode(frame):
                target.mux(packet)
        for packet in stream.encode():
            target.mux(packet)
    return frames


def frames_as_jpeg(path: Path, indices: set[int]) -> list[tuple[int, bytes]]:
    out = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in indices:
                buffer = io.BytesIO()
                frame.to_image().save(buffer, format="JPEG", quality=95)
                out.append((index, buffer.getvalue()))
    return out


def follows(track: dict[str, object], appearances: list[Appearance]) -> Appearance | None:
    """The appearance a track's samples overlap most often."""
    votes: dict[int, int] = {}
    for sample in track["samples"]:  # type: ignore[attr-defined]
        b = sample["box"]
        box = (b["top"], b["right"], b["bottom"], b["left"])
        for n, a in enumerate(appearances):
            truth = a.box_at(float(sample["t_s"]))
            if truth is not None and faces._iou(box, truth) > IOU:
                votes[n] = votes.get(n, 0) + 1
    if not votes:
        return None
    return appearances[max(votes, key=lambda n: votes[n])]


def overlapped(track: dict[str, object], appearances: list[Appearance]) -> list[Appearance]:
    """Every appearance some sample of the track overlaps (a track may span two of them)."""
    out = []
    for a in appearances:
        for sample in track["samples"]:  # type: ignore[attr-defined]
            b = sample["box"]
            truth = a.box_at(float(sample["t_s"]))
            box = (b["top"], b["right"], b["bottom"], b["left"])
            if truth is not None and faces._iou(box, truth) > IOU:
                out.append(a)
                break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--naive-frames", type=int, default=60)
    parser.add_argument("--turned", type=float, default=0.2, help="share of heads rolled")
    parser.add_argument("--verbose", action="store_true", help="every track and what it follows")
    args = parser.parse_args()
    logging.getLogger("registry").setLevel(logging.WARNING)  # the seeded bookings' mail
    faces_dir = face_data_dir()
    if faces_dir is None:
        sys.exit("face photos not found: put them at ../shared/data/faces or REGISTRY_FACE_DATA")
    size = (round(args.height * 16 / 9) // 2 * 2, args.height)

    folder = Path(tempfile.mkdtemp(prefix="registry-bench-video-"))
    env = bench_env(folder)
    env["REGISTRY_WORKERS"] = str(args.workers)
    os.environ.update({k: v for k, v in env.items() if k.startswith("REGISTRY_")})
    from registry import migrations, reactions

    reactions.wire()
    migrations.upgrade(env["REGISTRY_DATABASE_URL"])
    create_admin(env)
    people, opted_out = cast(faces_dir, args.seed)
    event_id, badge_of, identity_of = seed_event(people, opted_out)

    t = time.perf_counter()
    appearances = plan(
        people,
        opted_out,
        badge_of,
        seconds=args.seconds,
        size=size,
        seed=args.seed,
        turned=args.turned,
    )
    clip = folder / "clip.mp4"
    frames = render(
        faces_dir, appearances, clip, seconds=args.seconds, fps=args.fps, size=size, seed=args.seed
    )
    if args.verbose:
        for a in appearances:
            print(f"  {a.identity} {a.enter:.1f}-{a.leave:.1f} s face {a.face_px} px")
    wanted = [a for a in appearances if a.identity in opted_out and a.leave - a.enter >= 1.0]
    print(
        f"clip: {args.seconds:g} s, {size[0]}x{size[1]} at {args.fps} fps ({frames} frames, "
        f"{clip.stat().st_size / 1e6:.1f} MB), composed in {time.perf_counter() - t:.0f} s; "
        f"{len(appearances)} appearances of {len({a.identity for a in appearances})} people, "
        f"{len(wanted)} of people who opted out (>= 1 s, faces >= 40 px), "
        f"{sum(1 for a in appearances if a.badge is not None)} wearing a badge; "
        f"{args.workers} worker processes on {os.cpu_count()} cores"
    )

    with launched(env) as (port, headers, _t0):
        api = Api(port, headers)
        for _ in range(600):  # the pool is warm before the clock starts
            try:
                api.call("GET", "/readyz")
                break
            except RuntimeError:
                time.sleep(0.2)
        body, ctype = multipart([("clip.mp4", clip.read_bytes())], event_id)
        start = time.perf_counter()
        [uploaded] = api.call("POST", "/api/media", body, ctype)  # type: ignore[misc]
        media_id = uploaded["id"]
        while True:
            media = api.call("GET", f"/api/media/{media_id}")
            if media["status"] not in ("pending", "processing"):  # type: ignore[index]
                break
            time.sleep(0.25)
        analysed = time.perf_counter() - start
        start = time.perf_counter()
        queued = api.call("POST", f"/api/media/{media_id}/redact")  # 202: made in the background
        answered = time.perf_counter() - start
        while True:
            rendition = api.call("GET", queued["status_url"])  # type: ignore[index]
            if rendition["status"] in ("ready", "failed"):  # type: ignore[index]
                break
            time.sleep(0.25)
        redacted = time.perf_counter() - start
    tracks = media["tracks"]  # type: ignore[index]

    found, wrong, linked = set(), 0, 0
    for track in tracks:
        appearance = follows(track, appearances)
        decided = track["decision"] in ("opted_out", "review")
        who = identity_of.get(str(track["booking_id"])) if track["booking_id"] else None
        if track["via"] == "badge":
            linked += 1
        if args.verbose:
            print(
                f"  track {track['id']} {track['start_s']}-{track['end_s']} s "
                f"({len(track['samples'])} samples): follows "
                f"{appearance.identity if appearance else None}; {track['decision']} {who} "
                f"via {track['via']} ({track['distance']})"
            )
        if appearance is None:
            continue
        if decided:
            found.update(id(a) for a in overlapped(track, appearances) if a.identity == who)
        if decided and who == appearance.identity:
            pass
        elif track["decision"] == "opted_out" and who != appearance.identity:
            wrong += 1
            print(
                f"  wrong person: track {track['id']} ({track['start_s']}-{track['end_s']} s) "
                f"follows {appearance.identity}, decided {who} via {track['via']} "
                f"(distance {track['distance']})"
            )
    missed = [a for a in wanted if id(a) not in found]
    print(
        f"\nours: analysed (upload -> final) in {analysed:.1f} s = "
        f"{args.seconds / analysed:.2f}x real time; status {media['status']}, "  # type: ignore[index]
        f"{len(tracks)} tracks ({linked} by badge); redaction answered (202) in "
        f"{answered * 1000:.0f} ms, ready + verified in {redacted:.1f} s "
        f"(status {rendition['status']}, verified: {rendition['verified']})"  # type: ignore[index]
    )
    rolled = [a for a in wanted if a.turned]
    print(
        f"  recall of opted-out appearances {len(wanted) - len(missed)}/{len(wanted)} (heads "
        f"rolled: {sum(1 for a in rolled if id(a) in found)}/{len(rolled)}); "
        f"wrong-person tracks {wrong}/{len(tracks)}"
    )
    for a in missed:
        print(
            f"  missed: {a.identity} {a.enter:.1f}-{a.leave:.1f} s, face {a.face_px} px"
            f"{', head rolled' if a.turned else ''}"
        )

    # The naive pipeline on an even subsample of frames, timed per frame.
    step = max(1, frames // args.naive_frames)
    indices = set(range(0, frames, step))
    sample = frames_as_jpeg(clip, indices)
    references = {
        i: [faces.find_reference_faces(compose.load_rgb(people[i][0].path))[0].encoding]
        for i in sorted(opted_out)
    }
    start = time.perf_counter()
    with ProcessPoolExecutor(
        max_workers=args.workers,
        mp_context=multiprocessing.get_context("forkserver"),
        initializer=naive_init,
        initargs=(references,),
    ) as pool:
        results = list(pool.map(naive, [jpeg for _, jpeg in sample]))
    naive_time = time.perf_counter() - start
    per_frame = naive_time / len(sample)
    naive_all = per_frame * frames
    naive_found = set()
    for (index, _), result in zip(sample, results, strict=True):
        t = index / args.fps
        for box, identity in result:
            for a in wanted:
                truth = a.box_at(t)
                if identity == a.identity and truth is not None and faces._iou(box, truth) > IOU:
                    naive_found.add(id(a))
    print(
        f"\nnaive: {len(sample)} frames in {naive_time:.1f} s on {args.workers} processes = "
        f"{per_frame:.2f} s a frame -> every frame {naive_all:.0f} s; recall on those frames "
        f"{len(naive_found)}/{len(wanted)} (heads rolled: "
        f"{sum(1 for a in rolled if id(a) in naive_found)}/{len(rolled)})"
    )
    print(
        f"\nratio: analysis {naive_all / analysed:.1f}x naive; analysis + redaction "
        f"{naive_all / (analysed + redacted):.1f}x naive"
    )


if __name__ == "__main__":
    main()
