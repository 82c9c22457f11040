"""Events domain: reference-photo enrolment, badge PDFs and CSV import previews.

In-process against a migrated SQLite database in a temp folder (or REGISTRY_DATABASE_URL).
Reference photos come from the shared face set (../shared/data/faces or REGISTRY_FACE_DATA).

    uv run python bench/events.py [--bookings 200] [--rows 5000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bookings", type=int, default=200)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-events-")
    os.environ.setdefault("REGISTRY_VAR_DIR", tmp)
    os.environ.setdefault("REGISTRY_SECRET_KEY", "bench-secret-key-that-is-long-enough-0123456789")

    from registry import migrations
    from registry.audit.service import SYSTEM
    from registry.config import get_settings
    from registry.db import unit_of_work, utcnow
    from registry.events import badges, imports, references, service
    from registry.vision import faces
    from tests.faces import face_data_dir

    migrations.upgrade(get_settings().database_url)
    with unit_of_work() as session:
        start = utcnow() + timedelta(days=30)
        event = service.create_event(
            session=session,
            actor=SYSTEM,
            name="Benchmark conference with a longer name",
            starts_at=start,
            ends_at=start + timedelta(hours=8),
            filming_notice="We photograph and film this event. " * 3,
        )
        bookings = [
            service.create_booking(
                session=session,
                actor=SYSTEM,
                event=event,
                name=f"Attendee Number {i}",
                email=f"a{i}@example.org",
                photo_opt_out=i % 3 == 0,
            )[0]
            for i in range(args.bookings)
        ]
        event_id = event.id

    # Badges: the sheet layout, end to end (drawing + PDF).
    with unit_of_work() as session:
        event = service.get_event(session=session, event_id=event_id)
        t0 = time.perf_counter()
        pdf = service.badges_pdf(session=session, event=event, layout="sheet")
        took = time.perf_counter() - t0
    pages = (args.bookings + 3) // 4
    print(
        f"badges.pdf   {args.bookings} badges, {pages} A4 pages in {took:.2f} s "
        f"({args.bookings / took:.0f} badges/s), {len(pdf) / 1e6:.1f} MB"
    )
    t0 = time.perf_counter()
    badges.draw_badge(badges.BadgeInfo("Kim Lee", "Conf", "1 May", "ABCDE23456", True))
    print(f"one badge    drawn in {(time.perf_counter() - t0) * 1000:.0f} ms")

    # Reference photo enrolment: decode + detect + encode + encrypt, per photo.
    data_dir = face_data_dir()
    if data_dir is None:
        print("reference    skipped: face photos not found (../shared/data/faces)")
    else:
        photos = sorted((data_dir / "people").glob("*/*"))[:40]
        from PIL import Image

        faces.detect(Image.new("RGB", (64, 64)))  # load the model outside the timing
        times, refused = [], 0
        opted = [b for b in bookings if b.photo_opt_out]
        for i, path in enumerate(photos):
            with unit_of_work() as session:
                booking = service.get_booking(session=session, booking_id=opted[i % len(opted)].id)
                event = service.get_event(session=session, event_id=event_id)
                for old in references.list_references(session=session, booking=booking):
                    references.delete_reference(
                        session=session, actor=SYSTEM, booking=booking, photo=old
                    )
                t0 = time.perf_counter()
                try:
                    references.add_reference(
                        session=session,
                        actor=SYSTEM,
                        booking=booking,
                        event=event,
                        data=path.read_bytes(),
                        biometric_consent=True,
                    )
                except Exception:
                    refused += 1
                times.append(time.perf_counter() - t0)
        print(
            f"reference    {len(times)} photos: p50 {statistics.median(times) * 1000:.0f} ms, "
            f"p99 {percentile(times, 0.99) * 1000:.0f} ms, {len(times) / sum(times):.1f} photos/s "
            f"({refused} refused: no face or several)"
        )

    # CSV import preview.
    lines = ["name;email;photo opt-out"] + [
        f"Guest {i};guest{i}@example.org;{'yes' if i % 5 == 0 else 'no'}" for i in range(args.rows)
    ]
    data = "\n".join(lines).encode()
    with unit_of_work() as session:
        event = service.get_event(session=session, event_id=event_id)
        t0 = time.perf_counter()
        preview = imports.preview(session=session, event=event, data=data)
        took = time.perf_counter() - t0
    print(
        f"csv preview  {len(preview.rows)} rows in {took:.2f} s "
        f"({len(preview.rows) / took:.0f} rows/s)"
    )


if __name__ == "__main__":
    main()
