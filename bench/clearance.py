"""Photo clearance end to end: a freshly started `registry serve` against the naive pipeline, on
the same composed photos, same cores, same run.

Composes realistic 24 MP event photos from ../shared/data/faces (or REGISTRY_FACE_DATA) in two
kinds of scene:
- *plain*: 4-9 attendees in front of a blurred backdrop (no other detectable face);
- *crowd*: the same in front of a wall of real bystanders who never booked (the set's group photos
  that show none of the 33 identities), about 40-60 detectable faces per photo, as in an audience
  shot.
Faces are 40-250 px wide; attendees wear their badge (the booking's real QR code) under the chin
at 3-6 px per module when their face is large enough to make that plausible; Gaussian noise, JPEG.
A third of the attendees opted out, each with a reference photo (another photo of them); a third
of the photos hold nobody who opted out. Of the attendees' faces, `--turned` (20%) have the head
rolled 15-30 degrees either way and `--covered` (20%) a third of the face box behind a flat patch
from one side (a hand, a glass, a programme), in crowd scenes too.

Ours: the photos are uploaded through the API to a `registry serve` launched at t=0 (SQLite, the
embedded worker pool, one process per core): a first batch right after the launch (the cold
start counts), then a second batch once the first is final (warm). Scored from `GET
/api/media/{id}`, i.e. what staff and the gate see, with everything the service learns across
the event (badge links, transient references, corroboration).

Naive: face_recognition at its defaults on the full-resolution RGB image (HOG upsample 1, every
face encoded, tolerance 0.6 against the same references), in a pool of as many processes as
cores (model loading counted), photo by photo.

    uv run python bench/clearance.py [--photos 12] [--crowd-share 0.5] [--seed 1]

For each kind of scene and overall it prints photos/s and the ratio (cold and warm), recall of
opted-out appearances (and per kind of face: whole, turned, covered), badge recall, clean
photos flagged, wrong-person decisions (a face decided "opted out" as someone it is not), with
grey-zone proposals for the wrong person counted apart, and the review load (faces and photos
sent to review); then where one photo's analysis spends its time, per stage (in this process,
on a few photos of each kind). Nothing is asserted: these are figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    bench_env,
    create_admin,
    launched,
    multipart,
    percentile,
)

from registry.vision import faces  # noqa: E402
from tests.faces import face_data_dir  # noqa: E402
from tests.vision import compose  # noqa: E402

SIZE = (6000, 4000)  # 24 MP
TOLERANCE = 0.6
IOU = 0.3


@dataclass
class Person:
    identity: str
    box: faces.Box
    badge_module_px: int | None = None
    pose: str = "whole"  # whole | turned | covered


@dataclass
class Photo:
    name: str
    kind: str  # plain | crowd
    jpeg: bytes
    people: list[Person] = field(default_factory=list)

    @property
    def present(self) -> dict[str, int]:
        """identity -> smallest face width in the photo"""
        out: dict[str, int] = {}
        for p in self.people:
            out[p.identity] = min(out.get(p.identity, 10_000), p.box[1] - p.box[3])
        return out

    @property
    def badge_codes(self) -> set[str]:
        return {p.identity for p in self.people if p.badge_module_px}


def cast(faces_dir: Path, seed: int) -> tuple[dict[str, list[compose.Portrait]], set[str]]:
    """Who attends (every identity with two photos or more) and who opted out."""
    rng = random.Random(seed)
    people = {k: v for k, v in compose.portraits(faces_dir).items() if len(v) >= 2}
    identities = sorted(people)
    return people, set(rng.sample(identities, k=max(2, len(identities) // 3)))


def build(
    faces_dir: Path,
    count: int,
    seed: int,
    *,
    crowd_share: float = 0.0,
    badge_of: dict[str, str] | None = None,
    first: int = 0,
    turned: float = 0.2,
    covered: float = 0.2,
) -> tuple[list[Photo], dict[str, list[np.ndarray]], dict[str, str]]:
    """`count` composed photos (a `crowd_share` of them crowd scenes); the opted-out people's
    reference encodings (from their first photo, which never appears in an event photo); and
    badge code -> identity. `badge_of` gives the real badge codes when the bookings exist."""
    people, opted_out = cast(faces_dir, seed)
    identities = sorted(people)
    rng = random.Random(seed * 1000 + first)
    references = {
        i: [faces.find_reference_faces(compose.load_rgb(people[i][0].path))[0].encoding]
        for i in sorted(opted_out)
    }
    badge_of = badge_of or {i: f"B{n:09d}" for n, i in enumerate(identities)}
    photos = []
    for index in range(first, first + count):
        k = index - first  # crowd scenes spread evenly through the batch
        kind = "crowd" if int((k + 1) * crowd_share) > int(k * crowd_share) else "plain"
        if kind == "crowd":
            canvas = compose.crowd(faces_dir, SIZE, rng)
        else:
            canvas = compose.background(faces_dir, SIZE, rng)
        clean = index % 3 == 2  # a third of the photos hold nobody who opted out
        pool = [i for i in identities if not (clean and i in opted_out)]
        chosen = rng.sample(pool, k=min(len(pool), rng.randint(4, 9)))
        photo = Photo(name=f"photo{index:03d}", kind=kind, jpeg=b"")
        for slot, identity in enumerate(chosen):
            source = rng.choice(people[identity][1:])
            face_px = rng.choice([40, 44, 50, 60, 75, 90, 120, 160, 200, 250])
            x = int((slot + 0.5) * SIZE[0] / len(chosen)) + rng.randint(-80, 80)
            y = rng.randint(700, 2600) if kind == "plain" else rng.randint(1900, 3000)
            draw = rng.random()
            if draw < turned:
                roll = rng.choice([-1, 1]) * rng.uniform(15, 30)
                box = compose.paste_face(canvas, source, face_px, (x, y), roll=roll)
                person = Person(identity, box, pose="turned")
            elif draw < turned + covered:
                side = rng.choice(compose.COVER_SIDES)
                box = compose.paste_face(canvas, source, face_px, (x, y), cover=side)
                person = Person(identity, box, pose="covered")
            else:
                box = compose.paste_face(canvas, source, face_px, (x, y))
                person = Person(identity, box)
            module_px = round(face_px / 45)  # a badge ~ a third of a face wide
            if module_px >= 3 and rng.random() < 0.7:
                badge = compose.badge_image(badge_of[identity], min(6, module_px))
                canvas.paste(badge, (x - badge.width // 2, box[2] + int(face_px * 0.9)))
                person.badge_module_px = min(6, module_px)
            photo.people.append(person)
        canvas = compose.add_noise(canvas, 3.0, rng)
        photo.jpeg = compose.Composed(canvas).jpeg(quality=85)
        photos.append(photo)
    return photos, references, {code: i for i, code in badge_of.items()}


# --- the naive pipeline -------------------------------------------------------------------------

_NAIVE_REFS: dict[str, list[np.ndarray]] = {}


def _naive_init(references: dict[str, list[np.ndarray]]) -> None:
    import face_recognition  # noqa: F401  (loads its models: counted, as a cold start)

    _NAIVE_REFS.update(references)


def naive(jpeg: bytes) -> list[tuple[faces.Box, str | None]]:
    """Every face face_recognition finds, with the opted-out identity it matches (or None)."""
    import io

    import face_recognition
    from PIL import Image

    array = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    locations = face_recognition.face_locations(array)  # HOG, upsample 1
    encodings = face_recognition.face_encodings(array, locations)
    out: list[tuple[faces.Box, str | None]] = []
    for box, encoding in zip(locations, encodings, strict=True):
        best, best_distance = None, TOLERANCE
        for identity, refs in _NAIVE_REFS.items():
            d = float(min(np.linalg.norm(np.asarray(refs) - encoding, axis=1)))
            if d <= best_distance:
                best, best_distance = identity, d
        out.append((tuple(int(v) for v in box), best))  # type: ignore[misc]
    return out


def run_naive(
    photos: list[Photo], references: dict[str, list[np.ndarray]], workers: int
) -> tuple[list[list[tuple[faces.Box, str | None]]], float]:
    start = time.perf_counter()
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("forkserver"),
        initializer=_naive_init,
        initargs=(references,),
    ) as pool:
        results = list(pool.map(naive, [p.jpeg for p in photos]))
    return results, time.perf_counter() - start


# --- the service --------------------------------------------------------------------------------


def seed_event(
    people: dict[str, list[compose.Portrait]], opted_out: set[str]
) -> tuple[uuid.UUID, dict[str, str], dict[str, str]]:
    """The event, a booking per attendee, a reference photo per opted-out attendee (their first
    photo). Returns the event id, identity -> badge code and booking id -> identity."""
    from registry.audit.service import CLI as CLI_ACTOR
    from registry.db import unit_of_work
    from registry.events import references
    from registry.events import service as events

    badge_of, identity_of = {}, {}
    with unit_of_work() as session:
        event = events.create_event(
            session=session,
            actor=CLI_ACTOR,
            name="Clearance bench",
            starts_at=datetime.now(UTC),
            ends_at=datetime.now(UTC) + timedelta(hours=8),
            filming_notice="We photograph this event.",
        )
        for n, identity in enumerate(sorted(people)):
            booking, _ = events.create_booking(
                session=session,
                actor=CLI_ACTOR,
                event=event,
                name=identity.replace("_", " ").title(),
                email=f"attendee{n}@example.org",
                photo_opt_out=identity in opted_out,
            )
            if identity in opted_out:
                references.add_reference(
                    session=session,
                    actor=CLI_ACTOR,
                    booking=booking,
                    event=event,
                    data=people[identity][0].path.read_bytes(),
                    biometric_consent=True,
                )
            badge_of[identity] = booking.badge_code
            identity_of[str(booking.id)] = identity
        return event.id, badge_of, identity_of


class Api:
    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port, self.headers = port, headers

    def call(self, method: str, path: str, body: bytes | None = None, ctype: str = "") -> object:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {**self.headers, **({"Content-Type": ctype} if ctype else {})}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {response.status} {data[:300]!r}")
        return json.loads(data) if data else None


@dataclass
class Batch:
    media: list[dict[str, object]]  # GET /api/media/{id}, in photo order
    elapsed: float  # from the first upload (or the launch) until every photo is final
    first_result: float  # from the launch (or first upload) to the first final photo
    latencies: list[float]  # upload -> final, per photo


FINAL = {"cleared", "flagged", "needs_review", "failed"}


def upload_and_wait(api: Api, event_id: uuid.UUID, photos: list[Photo], t0: float) -> Batch:
    uploaded: dict[str, float] = {}
    ids = []
    for photo in photos:
        body, ctype = multipart([(f"{photo.name}.jpg", photo.jpeg)], event_id)
        result = api.call("POST", "/api/media", body, ctype)
        media_id = str(result[0]["id"])  # type: ignore[index]
        ids.append(media_id)
        uploaded[media_id] = time.perf_counter()
    done: dict[str, float] = {}
    while len(done) < len(ids):
        time.sleep(0.25)
        listed = api.call("GET", f"/api/media?event_id={event_id}")
        now = time.perf_counter()
        for item in listed:  # type: ignore[attr-defined]
            if item["id"] in uploaded and item["status"] in FINAL and item["id"] not in done:
                done[item["id"]] = now
    # Wait for re-clearances caused by the last photos (transient references) to settle.
    time.sleep(1.0)
    media = [api.call("GET", f"/api/media/{i}") for i in ids]
    return Batch(
        media=media,  # type: ignore[arg-type]
        elapsed=max(done.values()) - t0,
        first_result=min(done.values()) - t0,
        latencies=[done[i] - uploaded[i] for i in ids],
    )


# --- scoring ------------------------------------------------------------------------------------


def _box(b: dict[str, int]) -> faces.Box:
    return (b["top"], b["right"], b["bottom"], b["left"])


def _iou(a: faces.Box, b: faces.Box) -> float:
    return faces._iou(a, b)


POSES = ("whole", "turned", "covered")


@dataclass
class Score:
    photos: int = 0
    appearances: int = 0
    found: int = 0  # opted-out appearances that block the photo (decided or sent to review)
    decided: int = 0  # ... of which decided "opted out" without a person
    # Per kind of face (whole, turned, covered): opted-out appearances and those found.
    by_pose: dict[str, list[int]] = field(default_factory=lambda: {p: [0, 0] for p in POSES})
    review_faces: int = 0  # faces sent to review
    review_photos: int = 0  # photos needing review
    badges: int = 0
    badges_read: int = 0
    clean: int = 0
    clean_flagged: int = 0
    wrong: int = 0  # faces decided "opted out" as someone they are not
    wrong_review: int = 0  # faces proposed for review as someone they are not
    misses: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        for name, value in vars(other).items():
            if name == "by_pose":
                for pose, (n, found) in value.items():
                    self.by_pose[pose][0] += n
                    self.by_pose[pose][1] += found
            else:
                setattr(self, name, getattr(self, name) + value)

    def poses(self) -> str:
        return ", ".join(f"{pose} {found}/{n}" for pose, (n, found) in self.by_pose.items() if n)


def _is(person_boxes: dict[str, list[faces.Box]], identity: str | None, box: faces.Box) -> bool:
    return identity is not None and any(_iou(box, b) > IOU for b in person_boxes.get(identity, []))


def score_ours(
    photo: Photo, media: dict[str, object], identity_of: dict[str, str], opted_out: set[str]
) -> Score:
    s = Score(photos=1)
    boxes: dict[str, list[faces.Box]] = {}
    for p in photo.people:
        boxes.setdefault(p.identity, []).append(p.box)
    blocking: dict[str, str] = {}  # identity -> strongest decision naming them
    s.review_faces = sum(
        1
        for face in media["faces"]  # type: ignore[attr-defined]
        if face["decision"] == "review"
    )
    s.review_photos = int(media["status"] == "needs_review")
    for face in media["faces"]:  # type: ignore[attr-defined]
        who = identity_of.get(str(face["booking_id"])) if face["booking_id"] else None
        if who is None or face["decision"] not in ("opted_out", "review"):
            continue
        right = _is(boxes, who, _box(face["box"]))
        if face["decision"] == "opted_out":
            s.wrong += not right
            if right:
                blocking[who] = "opted_out"
        else:
            s.wrong_review += not right
            if right:
                blocking.setdefault(who, "review")
    read = {
        identity_of.get(str(b["booking_id"]))
        for b in media["badges"]  # type: ignore[attr-defined]
        if b["booking_id"]
    }
    for who in read:
        if who in opted_out:
            blocking.setdefault(who, "opted_out")
    worn = photo.badge_codes
    s.badges, s.badges_read = len(worn), len(worn & read)
    present = set(photo.present) & opted_out
    s.appearances = len(present)
    pose_of = {p.identity: p.pose for p in photo.people}
    for who in sorted(present):
        s.by_pose[pose_of[who]][0] += 1
        if who in blocking:
            s.found += 1
            s.decided += blocking[who] == "opted_out"
            s.by_pose[pose_of[who]][1] += 1
        else:
            s.misses.append(
                f"{photo.name} ({photo.kind}): {who}, {pose_of[who]} face {photo.present[who]} "
                f"px, badge {'worn' if who in worn else 'none'}"
            )
    if not present:
        s.clean = 1
        s.clean_flagged = int(media["status"] == "flagged")
    return s


def score_naive(
    photo: Photo, found: list[tuple[faces.Box, str | None]], opted_out: set[str]
) -> Score:
    s = Score(photos=1)
    boxes: dict[str, list[faces.Box]] = {}
    for p in photo.people:
        boxes.setdefault(p.identity, []).append(p.box)
    named = set()
    for box, who in found:
        if who is None:
            continue
        if _is(boxes, who, box):
            named.add(who)
        else:
            s.wrong += 1
    present = set(photo.present) & opted_out
    s.appearances = len(present)
    s.found = s.decided = len(present & named)
    pose_of = {p.identity: p.pose for p in photo.people}
    for who in present:
        s.by_pose[pose_of[who]][0] += 1
        s.by_pose[pose_of[who]][1] += who in named
    s.misses = [f"{photo.name} ({photo.kind}): {w}" for w in sorted(present - named)]
    if not present:
        s.clean = 1
        s.clean_flagged = int(bool([w for _, w in found if w]))
    return s


def report(label: str, s: Score, rate: float, naive_rate: float | None, *, ours: bool) -> None:
    ratio = f" = {rate / naive_rate:.1f}x naive" if naive_rate else ""
    recall = s.found / max(1, s.appearances)
    line = (
        f"  {label:14s} {rate:6.3f} photos/s{ratio}; recall {s.found}/{s.appearances} = "
        f"{recall:.1%}"
    )
    if ours:
        line += (
            f" ({s.decided} decided, {s.found - s.decided} to review); badges read "
            f"{s.badges_read}/{s.badges}"
        )
    line += f"; clean photos flagged {s.clean_flagged}/{s.clean}; wrong-person decisions {s.wrong}"
    if ours:
        line += (
            f" (wrong-person review proposals {s.wrong_review}); review load {s.review_faces} "
            f"faces in {s.review_photos}/{s.photos} photos"
        )
    line += f"\n  {'':14s} by kind of face: {s.poses()}"
    print(line)


def run_ours(
    env: dict[str, str], event_id: uuid.UUID, batches: list[list[Photo]]
) -> tuple[list[Batch], list[dict[str, object]], tuple[float, float]]:
    """Launch a fresh `registry serve` at t0; upload the first batch as soon as the API answers
    (the cold start counts), the second once the first is final (warm)."""
    with launched(env) as (port, headers, t0):
        api = Api(port, headers)
        answering = time.perf_counter() - t0
        ready: list[float] = []

        def watch_ready() -> None:  # /readyz says "warming" until the pool's models are loaded
            while not ready:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    conn.request("GET", "/readyz")
                    if conn.getresponse().status == 200:
                        ready.append(time.perf_counter() - t0)
                except (OSError, http.client.HTTPException):
                    pass
                time.sleep(0.1)

        threading.Thread(target=watch_ready, daemon=True).start()
        cold = upload_and_wait(api, event_id, batches[0], t0)
        warm = upload_and_wait(api, event_id, batches[1], time.perf_counter())
        # Scored at the end: what the event learnt later may change earlier photos.
        media = [api.call("GET", f"/api/media/{m['id']}") for b in (cold, warm) for m in b.media]
    return [cold, warm], media, (answering, ready[0] if ready else float("nan"))  # type: ignore[return-value]


def profile(photos: list[Photo], per_kind: int = 2) -> None:
    """Where one photo's analysis spends its time, per stage, on one core (this process)."""
    from registry.vision import analysis
    from registry.vision import faces as face_models

    face_models.load_models()
    for kind in ("plain", "crowd"):
        chosen = [p for p in photos if p.kind == kind][:per_kind]
        if not chosen:
            continue
        totals: dict[str, float] = {}
        found = encoded = 0
        for photo in chosen:
            result = analysis.analyse(photo.jpeg)
            for stage, seconds in result.stages.items():
                totals[stage] = totals.get(stage, 0.0) + seconds
            found += len(result.faces)
            encoded += sum(1 for f in result.faces if f.encoding is not None)
        n = len(chosen)
        stages = ", ".join(f"{k} {v / n:.2f}" for k, v in totals.items())
        per_face = totals.get("encode", 0.0) / max(1, encoded) * 1000
        print(
            f"  profile, {kind} ({n} photos, one core): {sum(totals.values()) / n:.2f} s a photo "
            f"({stages}); {found / n:.0f} faces found, {encoded / n:.0f} encoded a photo "
            f"({per_face:.1f} ms a face)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=8, help="photos per batch (2 per scene)")
    parser.add_argument("--scenes", default="plain,crowd")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--turned", type=float, default=0.2, help="share of heads rolled")
    parser.add_argument("--covered", type=float, default=0.2, help="share of faces a third hid")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    faces_dir = face_data_dir()
    if faces_dir is None:
        sys.exit("face photos not found: put them at ../shared/data/faces or REGISTRY_FACE_DATA")

    folder = Path(tempfile.mkdtemp(prefix="registry-bench-clearance-"))
    env = bench_env(folder)
    env["REGISTRY_WORKERS"] = str(args.workers)
    os.environ.update({k: v for k, v in env.items() if k.startswith("REGISTRY_")})
    from registry import migrations, reactions

    reactions.wire()
    migrations.upgrade(env["REGISTRY_DATABASE_URL"])
    create_admin(env)
    people, opted_out = cast(faces_dir, args.seed)
    print(
        f"{len(people)} attendees, {len(opted_out)} opted out with a reference photo; "
        f"{args.workers} worker processes on {os.cpu_count()} cores; 24 MP photos, 2 batches of "
        f"{args.photos} per kind of scene"
    )
    totals: dict[str, list[float]] = {"ours_cold": [0, 0], "ours_warm": [0, 0], "naive": [0, 0]}
    all_ours, all_naive = Score(), Score()
    for n, kind in enumerate(args.scenes.split(",")):
        event_id, badge_of, identity_of = seed_event(people, opted_out)
        t = time.perf_counter()
        batches, references = [], {}
        for b in range(2):
            photos, references, _ = build(
                faces_dir,
                args.photos,
                args.seed,
                crowd_share=1.0 if kind == "crowd" else 0.0,
                badge_of=badge_of,
                first=(2 * n + b) * args.photos,
                turned=args.turned,
                covered=args.covered,
            )
            batches.append(photos)
        everything = batches[0] + batches[1]
        print(
            f"\n{kind} scenes: composed in {time.perf_counter() - t:.0f} s: "
            f"{sum(len(p.people) for p in everything)} attendees' faces, "
            f"{sum(len(set(p.present) & opted_out) for p in everything)} opted-out appearances, "
            f"{sum(len(p.badge_codes) for p in everything)} badges"
        )
        (cold, warm), media, (answering, warm_at) = run_ours(env, event_id, batches)
        latencies = cold.latencies + warm.latencies
        print(
            f"  ours: API answering {answering:.1f} s after launch, ready (pool warm) "
            f"{warm_at:.1f} s, first photo final "
            f"{cold.first_result:.1f} s after launch; batch 1 final {cold.elapsed:.1f} s after "
            f"launch, batch 2 {warm.elapsed:.1f} s after its first upload; upload->final p50 "
            f"{statistics.median(latencies):.1f} s, p99 {percentile(latencies, 0.99):.1f} s"
        )
        ours = Score()
        for photo, item in zip(everything, media, strict=True):
            ours.add(score_ours(photo, item, identity_of, opted_out))
        all_ours.add(ours)
        rates = {"cold": args.photos / cold.elapsed, "warm": args.photos / warm.elapsed}
        totals["ours_cold"][0] += args.photos
        totals["ours_cold"][1] += cold.elapsed
        totals["ours_warm"][0] += args.photos
        totals["ours_warm"][1] += warm.elapsed
        naive_rate = None
        if not args.skip_baseline:
            found, naive_time = run_naive(everything, references, args.workers)
            naive_rate = len(everything) / naive_time
            totals["naive"][0] += len(everything)
            totals["naive"][1] += naive_time
            base = Score()
            for photo, f in zip(everything, found, strict=True):
                base.add(score_naive(photo, f, opted_out))
            all_naive.add(base)
        report("ours (cold)", ours, rates["cold"], naive_rate, ours=True)
        report("ours (warm)", ours, rates["warm"], naive_rate, ours=True)
        if naive_rate is not None:
            report("naive", base, naive_rate, None, ours=False)
        for miss in ours.misses:
            print(f"    ours missed {miss}")
        if naive_rate is not None:
            for miss in base.misses:
                print(f"    naive missed {miss}")
        if not args.no_profile:
            profile(everything)

    print("\nall scenes:")
    naive_rate = totals["naive"][0] / totals["naive"][1] if totals["naive"][1] else None
    for label in ("cold", "warm"):
        count, seconds = totals[f"ours_{label}"]
        report(f"ours ({label})", all_ours, count / seconds, naive_rate, ours=True)
    if naive_rate is not None:
        report("naive", all_naive, naive_rate, None, ours=False)


if __name__ == "__main__":
    main()
