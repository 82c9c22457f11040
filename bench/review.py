"""Review by person at event scale: reviewer actions per flagged person, before and after.

A 300-photo event (temp SQLite) where one attendee who opted out sits in the grey zone in
`--photos` photos (real dlib encodings: 10 real photos of one man, each as four cameras would
take it), and `--others` other grey-zone faces of 12 other real people are spread over the
other photos, each suggested as one of 5 opted-out attendees (the clearance's mistakes).
Before: a reviewer opens each photo and decides each face (one page and one click a face).
After: the event's review page groups the faces by who they probably are; one decision a group
(plus one click for each crop pulled out of a group it does not belong to). Prints actions,
grouping purity, and the server time to group (p50/p99 over repeats) and to record a group.

    uv run python bench/review.py [--photos 40] [--others 60] [--repeats 20]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

WORK = Path(tempfile.mkdtemp(prefix="bench-review-"))
os.environ.update(
    {
        "REGISTRY_VAR_DIR": str(WORK),
        "REGISTRY_DATABASE_URL": f"sqlite:///{WORK / 'bench.db'}",
        "REGISTRY_SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
        "REGISTRY_ENV": "dev",
    }
)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageEnhance, ImageOps  # noqa: E402

from registry import migrations, reactions  # noqa: E402
from registry.audit.service import SYSTEM  # noqa: E402
from registry.config import get_settings  # noqa: E402
from registry.db import unit_of_work  # noqa: E402
from registry.events import service as events  # noqa: E402
from registry.media import biometrics, review_groups  # noqa: E402
from registry.media import service as media_service  # noqa: E402
from registry.media.models import MediaFace, MediaStatus  # noqa: E402
from registry.vision import faces  # noqa: E402

FACES = Path(
    os.environ.get("REGISTRY_FACE_DATA", Path(__file__).resolve().parents[2] / "shared/data/faces")
)


def variants(path: Path, count: int) -> list[np.ndarray]:
    base = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    out = []
    for i in range(count):
        image = ImageOps.mirror(base) if i % 2 else base
        scale = (1.0, 0.8, 0.65, 0.9)[i % 4]
        image = image.resize((int(image.width * scale), int(image.height * scale)))
        image = ImageEnhance.Brightness(image).enhance((1.0, 0.75, 1.2)[i % 3])
        found = faces.find_reference_faces(image)
        if found:
            out.append(found[0].encoding)
    return out


def jpeg(seed: int) -> bytes:
    import io

    image = Image.new("RGB", (64, 48), (seed % 256, (seed * 7) % 256, 90))
    image.putpixel((0, 0), (seed // 256, 0, 0))  # every photo its own bytes
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--others", type=int, default=60)
    parser.add_argument("--event-photos", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    get_settings.cache_clear()
    migrations.upgrade(get_settings().database_url)
    reactions.wire()
    faces.load_models()

    people = sorted(
        (p for p in (FACES / "people").iterdir() if len(list(p.iterdir())) >= 4),
        key=lambda p: (-len(list(p.iterdir())), p.name),
    )
    flagged_person, others = people[0], people[1:13]
    start = time.perf_counter()
    target = [
        e
        for p in sorted(flagged_person.iterdir())[: max(1, args.photos // 4)]
        for e in variants(p, 4)
    ][: args.photos]
    pool = [(o.name, e) for o in others for p in sorted(o.iterdir())[:3] for e in variants(p, 2)]
    distractors = [rng.choice(pool) for _ in range(args.others)]
    encoded = time.perf_counter() - start

    with unit_of_work() as session:
        from datetime import UTC, datetime

        event = events.create_event(
            session=session,
            actor=SYSTEM,
            name="Bench event",
            starts_at=datetime.now(UTC),
            filming_notice="We photograph this event.",
        )
        suspects = [
            events.create_booking(
                session=session,
                actor=SYSTEM,
                event=event,
                name=f"Attendee {i}",
                email=f"a{i}@example.org",
                photo_opt_out=True,
            )[0]
            for i in range(5)
        ]
        uploads = media_service.upload(
            session=session,
            actor=SYSTEM,
            files=[
                media_service.Upload(f"IMG_{n:04d}.png", jpeg(n)) for n in range(args.event_photos)
            ],
            event=event,
        )
        photos = [m for m, _ in uploads]
        rng.shuffle(photos)
        truth: dict[str, str] = {}
        faces_in = iter(photos)
        # The clearance suggests, for each bystander, the opted-out attendee nearest to them.
        nearest = {o.name: suspects[1 + i % 4] for i, o in enumerate(others)}
        labelled = [(flagged_person.name, e, suspects[0]) for e in target] + [
            (name, e, nearest[name]) for name, e in distractors
        ]
        for who, encoding, suspect in labelled:
            media = next(faces_in)
            media.status = MediaStatus.needs_review
            session.add(media)
            session.add(
                MediaFace(
                    media_id=media.id,
                    number=1,
                    top=4,
                    right=40,
                    bottom=40,
                    left=4,
                    encoding=biometrics.seal(encoding, f"face:{media.id}:1"),
                    decision="review",
                    booking_id=suspect.id,
                    via="face",
                    distance=0.58,
                )
            )
            truth[f"{media.id}:1"] = who
        event_id = event.id

    timings = []
    for _ in range(args.repeats):
        with unit_of_work() as session:
            t = time.perf_counter()
            groups = review_groups.groups(session=session, event_id=event_id)
            timings.append(time.perf_counter() - t)
    faces_total = sum(len(g.members) for g in groups)
    # A group is pure when all its faces are one person; a reviewer pulls the others out.
    pulls = 0
    for g in groups:
        names = [truth[m.key] for m in g.members]
        majority = max(set(names), key=names.count)
        pulls += sum(1 for n in names if n != majority)
    target_groups = [
        g for g in groups if any(truth[m.key] == flagged_person.name for m in g.members)
    ]
    target_faces = sum(1 for v in truth.values() if v == flagged_person.name)
    biggest = max(target_groups, key=lambda g: len(g.members))
    with unit_of_work() as session:
        t = time.perf_counter()
        recorded, _ = review_groups.decide(
            session=session,
            actor=SYSTEM,
            event_id=event_id,
            members=[m.key for m in biggest.members],
            decision="confirm",
        )
        decide_s = time.perf_counter() - t

    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(
        f"event: {args.event_photos} photos; {faces_total} grey-zone faces: {target_faces} of one "
        f"opted-out man ({flagged_person.name}) in {target_faces} photos, {len(distractors)} of "
        f"12 others (encoded with dlib in {encoded:.1f} s)"
    )
    print(
        f"flagged person: before {target_faces} decisions on {target_faces} pages; after "
        f"{len(target_groups)} group decision(s) on 1 page "
        f"({target_faces / len(target_groups):.0f}x fewer actions)"
    )
    print(
        f"whole event: before {faces_total} decisions; after {len(groups)} group decisions + "
        f"{pulls} crops pulled out = {len(groups) + pulls} actions "
        f"({faces_total / (len(groups) + pulls):.1f}x fewer)"
    )
    print(
        f"server: grouping the event p50 {statistics.median(timings) * 1000:.0f} ms, p99 "
        f"{p99 * 1000:.0f} ms ({args.repeats} runs); recording the {recorded}-face group "
        f"decision (each face audited, photos re-decided) {decide_s:.2f} s"
    )


if __name__ == "__main__":
    main()
