"""Photo clearance: the project's pipeline against the naive baseline, on the same composed photos.

Composes realistic 24 MP event photos from ../shared/data/faces (or REGISTRY_FACE_DATA): faces
40-250 px wide pasted on blurred crowd backdrops, badges under some chins at 2-6 px per module,
Gaussian noise and JPEG compression. Some identities "opted out" (their reference encodings come
from other photos of them); a share of photos holds nobody who opted out.

Baseline: face_recognition at its defaults on the full-resolution RGB image (HOG upsample 1,
encodings for every face, tolerance 0.6), one process. Pipeline: registry.vision (greyscale HOG
resampled to find faces from 40 px, crop encodings, zxing badges, badge-to-face linking,
decision) in a pool of worker processes, one model load each.

    uv run python bench/clearance.py [--photos 10] [--workers 2] [--seed 1]

Prints photos/s for both, their ratio, recall of opted-out appearances and the false-flag rate
on clean photos for both. Nothing is asserted: these are figures.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry.vision import analysis, faces  # noqa: E402
from registry.vision.decision import BadgeInput, FaceInput, PhotoStatus, decide  # noqa: E402
from tests.faces import face_data_dir  # noqa: E402
from tests.vision import compose  # noqa: E402

SIZE = (6000, 4000)  # 24 MP
TOLERANCE = 0.6


@dataclass
class Photo:
    name: str
    jpeg: bytes
    present: dict[str, int]  # identity -> smallest face width in the photo
    opted_out_present: set[str] = field(default_factory=set)
    badge_codes: dict[str, str] = field(default_factory=dict)  # code -> identity


def build(
    faces_dir: Path, count: int, seed: int
) -> tuple[list[Photo], dict[str, list[np.ndarray]], dict[str, str]]:
    rng = random.Random(seed)
    people = {k: v for k, v in compose.portraits(faces_dir).items() if len(v) >= 2}
    identities = sorted(people)
    opted_out = set(rng.sample(identities, k=max(2, len(identities) // 3)))
    # References: the first photo of each opted-out person; the others appear in event photos.
    references = {
        i: [faces.find_reference_faces(compose.load_rgb(people[i][0].path))[0].encoding]
        for i in sorted(opted_out)
    }
    badge_of = {i: f"B{n:09d}" for n, i in enumerate(identities)}
    photos = []
    for index in range(count):
        canvas = compose.background(faces_dir, SIZE, rng)
        clean = index % 3 == 2  # a third of the photos hold nobody who opted out
        pool = [i for i in identities if not (clean and i in opted_out)]
        chosen = rng.sample(pool, k=min(len(pool), rng.randint(4, 9)))
        present: dict[str, int] = {}
        codes: dict[str, str] = {}
        columns = len(chosen)
        for slot, identity in enumerate(chosen):
            source = rng.choice(people[identity][1:])
            face_px = rng.choice([40, 44, 50, 60, 75, 90, 120, 160, 200, 250])
            x = int((slot + 0.5) * SIZE[0] / columns) + rng.randint(-80, 80)
            y = rng.randint(700, 2600)
            box = compose.paste_face(canvas, source, face_px, (x, y))
            present[identity] = min(present.get(identity, 10_000), box[1] - box[3])
            module_px = round(face_px / 45)
            if face_px >= 90 and rng.random() < 0.6 and module_px >= 2:
                badge = compose.badge_image(badge_of[identity], min(6, module_px))
                canvas.paste(badge, (x - badge.width // 2, box[2] + int(face_px * 0.9)))
                codes[badge_of[identity]] = identity
        canvas = compose.add_noise(canvas, 3.0, rng)
        photo = Photo(
            name=f"photo{index:02d}",
            jpeg=compose.Composed(canvas).jpeg(quality=85),
            present=present,
            opted_out_present=set(present) & opted_out,
            badge_codes=codes,
        )
        photos.append(photo)
    return photos, references, {code: i for i, code in badge_of.items()}


def baseline(photo: Photo, references: dict[str, list[np.ndarray]]) -> set[str]:
    import io

    import face_recognition
    from PIL import Image

    array = np.asarray(Image.open(io.BytesIO(photo.jpeg)).convert("RGB"))
    locations = face_recognition.face_locations(array)  # HOG, upsample 1
    encodings = face_recognition.face_encodings(array, locations)
    found = set()
    for encoding in encodings:
        for identity, refs in references.items():
            if min(np.linalg.norm(np.asarray(refs) - encoding, axis=1)) <= TOLERANCE:
                found.add(identity)
    return found


_REFS: dict[uuid.UUID, list[np.ndarray]] = {}
_BOOKING: dict[str, uuid.UUID] = {}
_CODES: dict[str, uuid.UUID] = {}


def _init(references: dict[str, list[np.ndarray]], codes: dict[str, str]) -> None:
    faces.load_models()
    for identity in sorted(set(codes.values())):
        _BOOKING[identity] = uuid.uuid5(uuid.NAMESPACE_URL, identity)
    for identity, refs in references.items():
        _REFS[_BOOKING[identity]] = refs
    for code, identity in codes.items():
        _CODES[code] = _BOOKING[identity]


def pipeline(jpeg: bytes) -> tuple[str, set[uuid.UUID], float]:
    start = time.perf_counter()
    result = analysis.analyse(jpeg)
    face_inputs = [
        FaceInput(id=i + 1, box=f.box, encoding=f.encoding) for i, f in enumerate(result.faces)
    ]
    badge_inputs = [
        BadgeInput(code=c.text, box=c.box, booking_id=_CODES.get(c.text)) for c in result.codes
    ]
    decision = decide(
        faces=face_inputs, badges=badge_inputs, opted_out=set(_REFS), references=_REFS
    )
    found = {f.booking_id for f in decision.faces if f.booking_id is not None}
    found |= {b.booking_id for b in decision.badges if b.booking_id in _REFS}
    return decision.status.value, found, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=10)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    faces_dir = face_data_dir()
    if faces_dir is None:
        sys.exit(
            "face photos not found: put them at ../shared/data/faces or set REGISTRY_FACE_DATA"
        )

    t0 = time.perf_counter()
    photos, references, codes = build(faces_dir, args.photos, args.seed)
    appearances = sum(len(p.opted_out_present) for p in photos)
    clean = [p for p in photos if not p.opted_out_present]
    print(
        f"composed {len(photos)} photos of {SIZE[0]}x{SIZE[1]} "
        f"in {time.perf_counter() - t0:.0f} s: "
        f"{sum(len(p.present) for p in photos)} faces, {appearances} appearances of "
        f"{len(references)} opted-out people, {sum(len(p.badge_codes) for p in photos)} badges, "
        f"{len(clean)} clean photos"
    )

    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(
        max_workers=args.workers,
        mp_context=context,
        initializer=_init,
        initargs=(references, codes),
    ) as pool:
        list(pool.map(pipeline, [photos[0].jpeg] * args.workers))  # warm: models loaded
        start = time.perf_counter()
        results = list(pool.map(pipeline, [p.jpeg for p in photos]))
        ours_time = time.perf_counter() - start
    booking = {i: uuid.uuid5(uuid.NAMESPACE_URL, i) for i in set(codes.values())}
    ours_hits = sum(
        len({booking[i] for i in p.opted_out_present} & found)
        for p, (_, found, _) in zip(photos, results, strict=True)
    )
    ours_flagged_clean = sum(
        1
        for p, (status, _, _) in zip(photos, results, strict=True)
        if not p.opted_out_present and status == PhotoStatus.flagged
    )
    ours_review_clean = sum(
        1
        for p, (status, _, _) in zip(photos, results, strict=True)
        if not p.opted_out_present and status == PhotoStatus.needs_review
    )
    for p, (_, found, _) in zip(photos, results, strict=True):
        for identity in sorted(p.opted_out_present):
            if booking[identity] not in found:
                badge = identity in p.badge_codes.values()
                print(
                    f"  pipeline missed {identity} in {p.name} (face {p.present[identity]} px, "
                    f"badge {'yes' if badge else 'no'})"
                )
    per_photo = [t for _, _, t in results]
    ours_rate = len(photos) / ours_time
    print(
        f"pipeline  {ours_rate:.2f} photos/s with {args.workers} workers "
        f"(per photo p50 {statistics.median(per_photo):.2f} s, max {max(per_photo):.2f} s); "
        f"recall {ours_hits}/{appearances} = {ours_hits / max(1, appearances):.1%}; "
        f"clean photos flagged {ours_flagged_clean}/{len(clean)}, to review {ours_review_clean}"
    )
    if args.skip_baseline:
        return
    start = time.perf_counter()
    base_found = [baseline(p, references) for p in photos]
    base_time = time.perf_counter() - start
    base_hits = sum(len(p.opted_out_present & f) for p, f in zip(photos, base_found, strict=True))
    base_flagged_clean = sum(
        1 for p, f in zip(photos, base_found, strict=True) if not p.opted_out_present and f
    )
    for p, f in zip(photos, base_found, strict=True):
        for identity in sorted(p.opted_out_present - f):
            print(f"  baseline missed {identity} in {p.name} (face {p.present[identity]} px)")
    base_rate = len(photos) / base_time
    print(
        f"baseline  {base_rate:.3f} photos/s, 1 process "
        f"({base_time / len(photos):.1f} s per photo); "
        f"recall {base_hits}/{appearances} = {base_hits / max(1, appearances):.1%}; "
        f"clean photos flagged {base_flagged_clean}/{len(clean)}"
    )
    print(f"ratio     {ours_rate / base_rate:.1f}x the baseline's throughput")


if __name__ == "__main__":
    main()
