"""Scale-out: clearance throughput on 1 and 2 Celery workers over real Redis.

Composes 24 MP event photos from the shared face set (as bench/clearance.py does), uploads them to
one event (SQLite in a temp folder, or REGISTRY_DATABASE_URL, e.g. PostgreSQL), starts a real
`redis-server` on loopback (or uses REGISTRY_BENCH_REDIS_URL), then for 1 and then 2 `registry
worker --concurrency 1` processes (each one core, as separate machines would be) queues every
photo and times until all are decided. Between runs the photos are reset to pending.

    uv run python bench/scaleout.py [--photos 30] [--seed 3]

Prints photos/s for each, the ratio 2 workers / 1 worker, and p50/p99 job time from the workers'
logs. Then the recovery figure: with 2 workers (one running beat) and the default lease,
heartbeat and sweep, `kill -9` of the other worker's process group while both hold a photo, and
the seconds until every photo the dead worker held is final. Nothing is asserted: these are
figures.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import bench_env, free_port, percentile  # noqa: E402

REGISTRY = Path(sys.executable).parent / "registry"
JOB_TIME = re.compile(r"registry\.clear_media\[[^\]]+\] succeeded in ([0-9.]+)s")


def start_redis(folder: Path) -> tuple[str, subprocess.Popen[bytes] | None]:
    configured = os.environ.get("REGISTRY_BENCH_REDIS_URL")
    if configured:
        return configured, None
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return f"redis://127.0.0.1:{port}/0", process


def seed(photos: list[bytes]) -> list[object]:
    from registry.audit.service import CLI
    from registry.db import unit_of_work
    from registry.events import service as events
    from registry.media import service as media_service

    with unit_of_work() as session:
        event = events.create_event(
            session=session,
            actor=CLI,
            name="Scale-out bench",
            starts_at=datetime.now(UTC),
            filming_notice="We film this event.",
        )
        uploaded = media_service.upload(
            session=session,
            actor=CLI,
            files=[media_service.Upload(f"p{n}.jpg", data) for n, data in enumerate(photos)],
            event=event,
        )
    return [m.id for m, _ in uploaded]


def reset(ids: list[object]) -> None:
    from sqlmodel import col, delete, select

    from registry.db import unit_of_work
    from registry.media.models import Media, MediaBadge, MediaFace, MediaStatus

    with unit_of_work() as session:
        session.exec(delete(MediaFace).where(col(MediaFace.media_id).in_(ids)))
        session.exec(delete(MediaBadge).where(col(MediaBadge.media_id).in_(ids)))
        for media in session.exec(select(Media).where(col(Media.id).in_(ids))).all():
            media.status, media.attempts, media.lease_until = MediaStatus.pending, 0, None
            session.add(media)


def waiting(ids: list[object]) -> int:
    from sqlmodel import col, select

    from registry.db import unit_of_work
    from registry.media.models import Media, MediaStatus

    with unit_of_work() as session:
        return len(
            session.exec(
                select(Media.id).where(
                    col(Media.id).in_(ids),
                    col(Media.status).in_([MediaStatus.pending, MediaStatus.processing]),
                )
            ).all()
        )


def statuses(ids: list[object]) -> dict[object, str]:
    from sqlmodel import col, select

    from registry.db import unit_of_work
    from registry.media.models import Media

    with unit_of_work() as session:
        rows = session.exec(select(Media.id, Media.status).where(col(Media.id).in_(ids))).all()
        return {media_id: str(getattr(status, "value", status)) for media_id, status in rows}


def start_workers(
    env: dict[str, str], folder: Path, names: list[tuple[str, list[str]]]
) -> tuple[list[subprocess.Popen[bytes]], list[Path]]:
    logs, processes = [], []
    for name, extra in names:
        log = folder / f"{name}.log"
        with log.open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [str(REGISTRY), "worker", "--concurrency", "1", *extra],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        logs.append(log)
    deadline = time.monotonic() + 120
    while not all("ready." in log.read_text(errors="replace") for log in logs):
        if time.monotonic() > deadline:
            raise SystemExit("workers did not start:\n" + logs[0].read_text())
        time.sleep(0.2)
    return processes, logs


def recovery(env: dict[str, str], ids: list[object], folder: Path) -> list[float]:
    """Seconds from kill -9 of a busy worker's process group until each photo it held is final
    (default lease, heartbeat and sweep)."""
    from registry.dispatch.broker import send_clear

    reset(ids)
    processes, _ = start_workers(env, folder, [("survivor", ["--beat"]), ("victim", [])])
    try:
        time.sleep(2)
        send_clear(ids)  # type: ignore[arg-type]
        while list(statuses(ids).values()).count("processing") < 2:
            time.sleep(0.05)
        held = [m for m, s in statuses(ids).items() if s == "processing"]
        os.killpg(processes[1].pid, signal.SIGKILL)
        killed = time.perf_counter()
        final: dict[object, float] = {}
        while len(final) < len(held):
            now = time.perf_counter()
            for media_id, status in statuses(ids).items():
                if media_id in held and status not in ("pending", "processing"):
                    final.setdefault(media_id, now - killed)
            if now - killed > 900:
                break
            time.sleep(0.2)
        while any(s in ("pending", "processing") for s in statuses(ids).values()):
            time.sleep(0.5)
        return sorted(final.values())
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            process.wait(30)


def run(
    env: dict[str, str], ids: list[object], count: int, folder: Path
) -> tuple[float, list[float]]:
    from registry.dispatch.broker import send_clear

    reset(ids)
    processes, logs = start_workers(
        env, folder, [(f"run{count}-worker{n}", []) for n in range(count)]
    )
    try:
        time.sleep(2)  # the children load the face models once
        start = time.perf_counter()
        send_clear(ids)  # type: ignore[arg-type]
        while waiting(ids):
            time.sleep(0.1)
        elapsed = time.perf_counter() - start
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
    jobs = [float(m) for log in logs for m in JOB_TIME.findall(log.read_text(errors="replace"))]
    return len(ids) / elapsed, jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=30)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--recovery-only", action="store_true", help="skip the throughput runs")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="registry-bench-scaleout-"))
    env = bench_env(folder)
    redis_url, redis_process = start_redis(folder)
    env.update({"REGISTRY_BROKER_URL": redis_url, "REGISTRY_HOUSEKEEPING_HOURS": "0"})
    env["REGISTRY_LOG_LEVEL"] = "info"
    os.environ.update({k: v for k, v in env.items() if k.startswith("REGISTRY_")})
    from clearance import build

    from registry import migrations
    from tests.faces import face_data_dir

    faces_dir = face_data_dir()
    if faces_dir is None:
        raise SystemExit("face photos not found: set REGISTRY_FACE_DATA or put them at ../shared")
    try:
        migrations.upgrade(env["REGISTRY_DATABASE_URL"])
        start = time.perf_counter()
        photos, _, _ = build(faces_dir, args.photos, args.seed)
        ids = seed([p.jpeg for p in photos])
        print(
            f"{len(ids)} composed 24 MP photos ready in {time.perf_counter() - start:.0f} s "
            f"({env['REGISTRY_DATABASE_URL'].split(':')[0]}, Redis {redis_url}, "
            f"{os.cpu_count()} cores)"
        )
        results = {}
        for count in () if args.recovery_only else (1, 2):
            rate, jobs = run(env, ids, count, folder)
            results[count] = rate
            print(
                f"{count} worker(s): {rate:.2f} photos/s   job p50 {percentile(jobs, 0.5):.2f} s"
                f"   p99 {percentile(jobs, 0.99):.2f} s   ({len(jobs)} jobs)"
            )
        if results:
            print(f"2 workers / 1 worker: {results[2] / results[1]:.2f}x")
        held = recovery(env, ids, folder)
        print(
            "recovery after kill -9 of a worker holding a photo (default lease, heartbeat, "
            f"sweep): final after {', '.join(f'{s:.0f} s' for s in held)}"
        )
    finally:
        if redis_process is not None:
            redis_process.terminate()


if __name__ == "__main__":
    main()
