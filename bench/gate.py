"""The publish gate over HTTP: decisions per second and p50/p99 latency.

Seeds 10,000 media (half event photos with faces and badges from 40 events with opted-out
attendees, half clinical media with faces) and 10,000 consent requests in every state linked to
them, starts a real `registry serve` (SQLite in a temp folder unless REGISTRY_DATABASE_URL is set),
then asks `GET /api/media/{id}/publishable?channel=...` for random media and channels from
several client threads. `GET /api/auth/me` (token check and user load, no gate) is measured in
the same run as the floor of an authenticated request.

    uv run python bench/gate.py [--media 10000] [--consents 10000] [--requests 3000]
                                 [--clients 2] [--batch 20]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import bench_env, create_admin, hammer, line, server, sign_in  # noqa: E402

CHANNELS = ["public_social", "closed_network", "internal", "print"]
STATES = ["granted"] * 6 + ["pending", "declined", "revoked", "granted_expired"]


def seed(database_url: str, media_count: int, consent_count: int, rng: random.Random) -> list[str]:
    """Bulk-insert the data set; returns the media ids."""
    from sqlalchemy import insert

    from registry.consent.models import ConsentMedia, ConsentRequest
    from registry.db import engine_for, unit_of_work
    from registry.events.models import Booking, Event, FilmingNotice
    from registry.media.models import Media, MediaBadge, MediaFace

    now = datetime.now(UTC)
    events, notices, bookings = [], [], []
    opted_out: dict[uuid.UUID, list[uuid.UUID]] = {}
    everyone: dict[uuid.UUID, list[uuid.UUID]] = {}
    for n in range(40):
        event_id = uuid.uuid4()
        events.append(
            {
                "id": event_id,
                "name": f"Event {n}",
                "starts_at": now - timedelta(days=n),
                "filming_notice": "We film this event; opt out any time.",
                "filming_notice_version": 1,
                "channels": rng.sample(CHANNELS, rng.randint(1, 4)),
                "bookings_open": True,
                "biometric_retention_days": 30,
                "created_at": now,
            }
        )
        notices.append({"event_id": event_id, "version": 1, "text": "We film.", "created_at": now})
        for b in range(60):
            booking_id = uuid.uuid4()
            out = b % 10 == 0
            bookings.append(
                {
                    "id": booking_id,
                    "event_id": event_id,
                    "name": f"Attendee {n}-{b}",
                    "email": f"a{n}-{b}@example.org",
                    "photo_opt_out": out,
                    "badge_code": f"B{n:03d}{b:03d}X",
                    "notice_version": 1,
                    "link_version": 1,
                    "created_at": now,
                }
            )
            everyone.setdefault(event_id, []).append(booking_id)
            if out:
                opted_out.setdefault(event_id, []).append(booking_id)
    media, faces, badges = [], [], []
    event_ids = [e["id"] for e in events]
    for i in range(media_count):
        media_id = uuid.uuid4()
        event_id = event_ids[i % len(event_ids)] if i % 2 == 0 else None
        status = rng.choice(["cleared"] * 7 + ["flagged", "needs_review", "pending"])
        media.append(
            {
                "id": media_id,
                "event_id": event_id,
                "sha256": hashlib.sha256(media_id.bytes).hexdigest(),
                "filename": f"photo-{i}.jpg",
                "content_type": "image/jpeg",
                "size_bytes": 5_000_000,
                "width": 6000,
                "height": 4000,
                "status": status,
                "reasons": [],
                "attempts": 1,
                "uploaded_by": "bench",
                "created_at": now,
            }
        )
        for number in range(1, rng.randint(1, 6) + 1 if event_id else rng.randint(1, 2) + 1):
            booking = None
            decision = "clear"
            if event_id and status == "flagged" and number == 1:
                booking, decision = rng.choice(opted_out[event_id]), "opted_out"
            elif event_id and status == "needs_review" and number == 1:
                booking, decision = rng.choice(opted_out[event_id]), "review"
            faces.append(
                {
                    "media_id": media_id,
                    "number": number,
                    "top": 100 * number,
                    "right": 100 * number + 80,
                    "bottom": 100 * number + 80,
                    "left": 100 * number,
                    "booking_id": booking,
                    "distance": 0.45 if booking else None,
                    "via": "face" if booking else None,
                    "decision": decision,
                }
            )
        if event_id:
            for _ in range(rng.randint(0, 3)):
                badges.append(
                    {
                        "media_id": media_id,
                        "code": "bench",
                        "top": 1,
                        "right": 2,
                        "bottom": 2,
                        "left": 1,
                        "booking_id": rng.choice(everyone[event_id]),
                    }
                )
    consents, links = [], []
    clinical = [m["id"] for m in media if m["event_id"] is None]
    for c in range(consent_count):
        request_id = uuid.uuid4()
        state = rng.choice(STATES)
        expires = (
            now - timedelta(days=1) if state == "granted_expired" else now + timedelta(days=90)
        )
        consents.append(
            {
                "id": request_id,
                "subject_ref": uuid.uuid4(),
                "subject_name": f"Patient {c}",
                "purpose": "Case study.",
                "description": "Photos.",
                "channels": rng.sample(CHANNELS, rng.randint(1, 4)),
                "expires_at": expires,
                "status": "granted" if state == "granted_expired" else state,
                "notice_version": 1,
                "link_version": 1,
                "link_issued_at": now,
                "decided_at": now,
                "created_by": "bench",
                "created_at": now,
            }
        )
        # Most consents cover clinical media; some cover patients seen in event photos.
        pool = clinical if c % 5 else [m["id"] for m in media[::2]]
        links.append({"consent_request_id": request_id, "media_id": pool[c % len(pool)]})

    with unit_of_work(engine_for(database_url)) as session:
        for model, rows in (
            (Event, events),
            (FilmingNotice, notices),
            (Booking, bookings),
            (Media, media),
            (MediaFace, faces),
            (MediaBadge, badges),
            (ConsentRequest, consents),
            (ConsentMedia, links),
        ):
            for start in range(0, len(rows), 2000):
                session.execute(insert(model), rows[start : start + 2000])
    return [str(m["id"]) for m in media]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", type=int, default=10_000)
    parser.add_argument("--consents", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=20, help="Decisions per batch request.")
    parser.add_argument(
        "--server-workers",
        type=int,
        default=1,
        help="Web server processes (more than one needs REGISTRY_BROKER_URL, e.g. a local Redis).",
    )
    args = parser.parse_args()

    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="registry-bench-gate-"))
    env = bench_env(tmp)
    os.environ.update({k: v for k, v in env.items() if k.startswith("REGISTRY_")})
    from registry import migrations

    migrations.upgrade(env["REGISTRY_DATABASE_URL"])
    start = time.perf_counter()
    media_ids = seed(env["REGISTRY_DATABASE_URL"], args.media, args.consents, rng)
    print(
        f"seeded {args.media} media and {args.consents} consent requests in "
        f"{time.perf_counter() - start:.1f} s ({env['REGISTRY_DATABASE_URL'].split(':')[0]}, "
        f"{os.cpu_count()} cores, {args.server_workers} server process(es), "
        f"{args.clients} client threads)"
    )
    create_admin(env)
    paths = [
        f"/api/media/{rng.choice(media_ids)}/publishable?channel={rng.choice(CHANNELS)}"
        for _ in range(args.requests)
    ]
    allowed = {"yes": 0, "no": 0}

    def count(body: bytes) -> None:
        allowed["yes" if json.loads(body)["allowed"] else "no"] += 1

    batches = [
        json.dumps(
            {
                "items": [
                    {"media_id": rng.choice(media_ids), "channel": rng.choice(CHANNELS)}
                    for _ in range(args.batch)
                ]
            }
        ).encode()
        for _ in range(200)
    ]
    batch_requests = max(args.clients, args.requests // args.batch * 4)

    with server(env, args.server_workers) as port:
        auth, _ = sign_in(port)
        hammer(port, paths[:200], auth, 200, 4)  # warm up
        floor = hammer(port, "/api/auth/me", auth, args.requests, args.clients)
        gate = hammer(port, paths, auth, args.requests, args.clients, check=count)
        batch = hammer(port, "/api/publishable", auth, batch_requests, args.clients, bodies=batches)
    print(line("GET /api/auth/me (floor: auth only)", floor))
    print(line("GET /api/media/{id}/publishable (one decision)", gate))
    print(f"  decisions: {allowed['yes']} allowed, {allowed['no']} refused")
    print(line(f"POST /api/publishable ({args.batch} decisions each)", batch))
    print(f"  = {batch['per_s'] * args.batch:,.0f} decisions/s")


if __name__ == "__main__":
    main()
