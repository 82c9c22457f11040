"""A whole event end to end through the API: many photos uploaded to one event of a freshly
started `registry serve`, until every photo is final; then an attendee opts out at the end.

Photos are variants of composed 24 MP scenes (bench/clearance.py: half of them crowd scenes
with a wall of real bystanders, attendees wearing their real badges, a third opted out with a
reference photo): each variant is its scene shifted by a few pixels and re-encoded, so every
upload is a new file and the same people (and bystanders) recur through the event as they do
at a real one, which is what makes transient references and re-clearance grow with the event.

    uv run python bench/event.py [--photos 1000] [--scenes 24] [--seed 4]

Prints photos final per second for each tenth of the event (it must not fall as the event
grows), p50/p99 upload-to-final, the time until every photo is final, and how long an opt-out
change takes at the end (the request, which re-decides the photos it can change). Nothing is
asserted: these are figures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from clearance import FINAL, Api, build, cast, seed_event  # noqa: E402
from common import bench_env, create_admin, launched, multipart, percentile  # noqa: E402

from tests.faces import face_data_dir  # noqa: E402


def variant(scene: Image.Image, rng: random.Random) -> bytes:
    dx, dy = rng.randint(-12, 12), rng.randint(-12, 12)
    shifted = Image.new("RGB", scene.size, (60, 60, 60))
    shifted.paste(scene, (dx, dy))
    out = io.BytesIO()
    shifted.save(out, format="JPEG", quality=rng.choice([84, 85, 86, 87]))
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--scenes", type=int, default=24, help="distinct composed scenes")
    parser.add_argument("--batch", type=int, default=10, help="photos per upload request")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    faces_dir = face_data_dir()
    if faces_dir is None:
        sys.exit("face photos not found: put them at ../shared/data/faces or REGISTRY_FACE_DATA")

    folder = Path(tempfile.mkdtemp(prefix="registry-bench-event-"))
    env = bench_env(folder)
    os.environ.update({k: v for k, v in env.items() if k.startswith("REGISTRY_")})
    from registry import migrations, reactions

    reactions.wire()
    migrations.upgrade(env["REGISTRY_DATABASE_URL"])
    create_admin(env)
    people, opted_out = cast(faces_dir, args.seed)
    event_id, badge_of, identity_of = seed_event(people, opted_out)
    start = time.perf_counter()
    photos, _, _ = build(faces_dir, args.scenes, args.seed, crowd_share=0.5, badge_of=badge_of)
    scenes = [Image.open(io.BytesIO(p.jpeg)).convert("RGB") for p in photos]
    print(
        f"{args.scenes} scenes composed in {time.perf_counter() - start:.0f} s "
        f"({sum(p.kind == 'crowd' for p in photos)} crowd); {len(people)} attendees, "
        f"{len(opted_out)} opted out; {args.photos} photos to upload in requests of {args.batch}"
    )

    uploaded: dict[str, float] = {}
    failures: list[str] = []
    with launched(env) as (port, headers, t0):
        api = Api(port, headers)

        def produce() -> None:
            rng = random.Random(args.seed)
            for first in range(0, args.photos, args.batch):
                files = [
                    (f"p{n:04d}.jpg", variant(scenes[n % len(scenes)], rng))
                    for n in range(first, min(args.photos, first + args.batch))
                ]
                body, ctype = multipart(files, event_id)
                try:
                    for item in api.call("POST", "/api/media", body, ctype):  # type: ignore[attr-defined]
                        uploaded[str(item["id"])] = time.perf_counter()
                except RuntimeError as error:
                    failures.append(str(error))

        producer = threading.Thread(target=produce)
        producer.start()
        done: dict[str, float] = {}
        while producer.is_alive() or len(done) < len(uploaded):
            time.sleep(2)
            now = time.perf_counter()
            for item in api.call("GET", f"/api/media?event_id={event_id}"):  # type: ignore[attr-defined]
                if item["status"] in FINAL and item["id"] not in done:
                    done[item["id"]] = now
        producer.join()
        total = max(done.values()) - t0
        statuses: dict[str, int] = {}
        for item in api.call("GET", f"/api/media?event_id={event_id}"):  # type: ignore[attr-defined]
            statuses[item["status"]] = statuses.get(item["status"], 0) + 1

        # An attendee who had not opted out changes their mind at the end of the event.
        booking_id = next(b for b, who in identity_of.items() if who not in opted_out)
        change = time.perf_counter()
        api.call(
            "PATCH",
            f"/api/bookings/{booking_id}",
            json.dumps({"photo_opt_out": True}).encode(),
            "application/json",
        )
        opt_out_s = time.perf_counter() - change

    finals = sorted(done.values())
    latencies = [done[i] - uploaded[i] for i in done if i in uploaded]
    print(
        f"every photo final {total / 60:.1f} min after launch ({len(done)} photos, "
        f"{len(done) / total:.2f} photos/s overall); statuses {statuses}; upload failures "
        f"{len(failures)}"
    )
    tenth = max(1, len(finals) // 10)
    rates = []
    for k in range(0, len(finals) - tenth + 1, tenth):
        span = finals[min(len(finals) - 1, k + tenth - 1)] - (finals[k - 1] if k else t0)
        rates.append(f"{tenth / max(span, 1e-9):.2f}")
    print(f"photos final per second, each tenth of the event in turn: {' '.join(rates)}")
    print(
        f"upload->final p50 {percentile(latencies, 0.5):.0f} s, p99 "
        f"{percentile(latencies, 0.99):.0f} s (uploads outpace clearance: this is queueing)"
    )
    print(f"an opt-out change at the end of the event: {opt_out_s * 1000:.0f} ms")


if __name__ == "__main__":
    main()
