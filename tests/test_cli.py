"""The command line, run as a user would run it (a real subprocess)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ports import free_port


def _registry(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "registry", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_serve_with_unreachable_database_says_so_in_one_line(tmp_path: Path) -> None:
    env = {
        "REGISTRY_DATABASE_URL": f"postgresql://user:secretpw@127.0.0.1:{free_port()}/registry",
        "REGISTRY_VAR_DIR": str(tmp_path),
    }
    result = _registry("serve", "--port", "0", env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "cannot reach the database" in lines[0]
    assert "secretpw" not in result.stderr


def test_serve_in_production_without_secret_fails_clearly(tmp_path: Path) -> None:
    env = {
        "REGISTRY_ENV": "production",
        "REGISTRY_SECRET_KEY": "",
        "REGISTRY_VAR_DIR": str(tmp_path),
    }
    result = _registry("serve", env=env)
    assert result.returncode != 0
    assert "REGISTRY_SECRET_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.own_sqlite
def test_db_upgrade_check_user_create_and_audit_verify(tmp_path: Path) -> None:
    env = {
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "REGISTRY_VAR_DIR": str(tmp_path),
    }
    check_before = _registry("db", "check", env=env)
    assert check_before.returncode != 0
    assert "registry db upgrade" in check_before.stderr
    assert _registry("db", "upgrade", env=env).returncode == 0
    check = _registry("db", "check", env=env)
    assert check.returncode == 0, check.stderr
    created = _registry(
        "user",
        "create",
        "cli@example.org",
        "--role",
        "admin",
        "--password",
        "a long password",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    duplicate = _registry(
        "user",
        "create",
        "cli@example.org",
        "--role",
        "admin",
        "--password",
        "a long password",
        env=env,
    )
    assert duplicate.returncode == 1
    assert "exists already" in duplicate.stderr
    no_password = _registry("user", "create", "x@example.org", env=env)
    assert no_password.returncode == 1
    assert "no --password" in no_password.stderr
    verify = _registry("audit", "verify", env=env)
    assert verify.returncode == 0
    assert "1 audit entries" in verify.stdout
    assert "no external checkpoint yet" in verify.stdout
    point = _registry("audit", "checkpoint", env=env)
    assert point.returncode == 0, point.stderr
    assert "ok: checkpoint audit-checkpoints/" in point.stdout
    verify = _registry("audit", "verify", env=env)
    assert verify.returncode == 0, verify.stderr
    assert "checked against checkpoint audit-checkpoints/" in verify.stdout
    assert "(entry 1, signed" in verify.stdout


@pytest.mark.own_sqlite
def test_housekeeping_runs_on_a_migrated_database(tmp_path: Path) -> None:
    env = {
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "REGISTRY_VAR_DIR": str(tmp_path),
    }
    assert _registry("db", "upgrade", env=env).returncode == 0
    result = _registry("housekeeping", env=env)
    assert result.returncode == 0, result.stderr
    assert "0 consent(s) marked expired" in result.stdout
    assert "0 reference photo(s) purged" in result.stdout
    assert "retention: nothing due" in result.stdout


SEED_EVENT = """
from datetime import UTC, datetime
from registry.audit.service import CLI
from registry.db import unit_of_work
from registry.events import service
with unit_of_work() as session:
    event = service.create_event(session=session, actor=CLI, name="CLI event",
        starts_at=datetime(2030, 5, 1, 9, tzinfo=UTC), filming_notice="We film this event. " * 3)
    for i in range(5):
        service.create_booking(session=session, actor=CLI, event=event, name=f"Guest {i}",
            email=f"guest{i}@example.org", photo_opt_out=i == 2, send_confirmation=False)
    print(event.id)
"""


@pytest.fixture(scope="module")
def _seeded_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One migrated SQLite database with one event of five bookings, made once per test process
    (migrating and seeding each test's own took two commands a test); (file, event id)."""
    folder = tmp_path_factory.mktemp("cli-template")
    env = {
        "REGISTRY_DATABASE_URL": f"sqlite:///{folder / 'cli.db'}",
        "REGISTRY_VAR_DIR": str(folder),
    }
    assert _registry("db", "upgrade", env=env).returncode == 0
    seeded = subprocess.run(
        [sys.executable, "-c", SEED_EVENT],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return folder / "cli.db", seeded.stdout.strip()


@pytest.fixture
def seeded(tmp_path: Path, _seeded_template: tuple[Path, str]) -> tuple[dict[str, str], str]:
    """A copy of the seeded database for this test alone; (env, event id)."""
    template, event_id = _seeded_template
    with sqlite3.connect(template) as source, sqlite3.connect(tmp_path / "cli.db") as copy:
        source.backup(copy)
    env = {
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "REGISTRY_VAR_DIR": str(tmp_path),
    }
    return env, event_id


@pytest.mark.own_sqlite
def test_badges_writes_the_event_sheet(tmp_path: Path, seeded: tuple[dict[str, str], str]) -> None:
    env, event_id = seeded
    target = tmp_path / "badges.pdf"
    result = _registry("badges", event_id, "-o", str(target), env=env)
    assert result.returncode == 0, result.stderr
    assert "5 badge(s)" in result.stdout
    assert target.read_bytes().startswith(b"%PDF-")

    unknown = _registry("badges", "8d7f1f6e-0000-4000-8000-000000000000", "-o", "x.pdf", env=env)
    assert unknown.returncode == 1
    assert "No event" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    bad = _registry("badges", "not-a-uuid", "-o", "x.pdf", env=env)
    assert bad.returncode == 1
    assert "not an event id" in bad.stderr
    unwritable = _registry("badges", event_id, "-o", str(tmp_path / "no" / "dir.pdf"), env=env)
    assert unwritable.returncode == 1
    assert "cannot write" in unwritable.stderr


@pytest.mark.own_sqlite
def test_user_disable_and_enable(tmp_path: Path, seeded: tuple[dict[str, str], str]) -> None:
    env, _ = seeded
    made = _registry("user", "create", "x@example.org", "--password", "a long password", env=env)
    assert made.returncode == 0, made.stderr
    off = _registry("user", "disable", "X@example.org", env=env)
    assert off.returncode == 0, off.stderr
    assert "x@example.org disabled" in off.stdout
    assert _registry("user", "enable", "x@example.org", env=env).returncode == 0
    missing = _registry("user", "disable", "nobody@example.org", env=env)
    assert missing.returncode == 1
    assert "no staff user" in missing.stderr


@pytest.mark.own_sqlite
def test_keys_rotate_needs_the_old_key_and_reports(
    tmp_path: Path, seeded: tuple[dict[str, str], str]
) -> None:
    env, _ = seeded
    missing = _registry("keys", "rotate", env=env)
    assert missing.returncode == 1
    assert "give the old key" in missing.stderr
    bad = _registry("keys", "rotate", "--old-biometric-key", "short", env=env)
    assert bad.returncode == 1
    assert "32 bytes" in bad.stderr
    done = _registry("keys", "rotate", "--old-secret-key", "an-old-secret-key-" * 3, env=env)
    assert done.returncode == 0, done.stderr
    assert "ok: 0 re-sealed" in done.stdout


@pytest.mark.own_sqlite
def test_signage_writes_the_event_poster(
    tmp_path: Path, seeded: tuple[dict[str, str], str]
) -> None:
    import zxingcpp

    from tests.pdf import render_pdf

    env, event_id = seeded
    target = tmp_path / "poster.pdf"
    result = _registry("signage", event_id, "-o", str(target), "--size", "A3", env=env)
    assert result.returncode == 0, result.stderr
    assert "A3 signage poster for CLI event" in result.stdout
    [page] = render_pdf(target.read_bytes(), tmp_path, dpi=100)
    [code] = zxingcpp.read_barcodes(page)
    assert code.text.endswith(f"/events/{event_id}/notice")
    assert b"/MediaBox [0 0 841.89" in target.read_bytes()  # A3: 297 mm wide
    wrong = _registry("signage", event_id, "-o", str(target), "--size", "B5", env=env)
    assert wrong.returncode == 1
    assert "--size must be A4 or A3" in wrong.stderr
    unknown = _registry("signage", "8d7f1f6e-0000-4000-8000-000000000000", "-o", "x.pdf", env=env)
    assert unknown.returncode == 1
    assert "No event" in unknown.stderr


@pytest.mark.own_sqlite
def test_clear_uploads_and_clears_photos_with_json_output(
    tmp_path: Path, seeded: tuple[dict[str, str], str], faces_dir: Path
) -> None:
    import json
    import random

    from tests.vision import compose

    env, event_id = seeded
    folder = tmp_path / "shoot"
    (folder / "day1").mkdir(parents=True)
    canvas = compose.background(faces_dir, (1600, 1000), random.Random(2))
    compose.paste_face(canvas, compose.portraits(faces_dir)["joe_biden"][0], 150, (800, 500))
    canvas.save(folder / "day1" / "crowd.JPG", quality=90)
    (folder / "notes.txt").write_text("not a photo")  # skipped: not a photo suffix
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    result = _registry("clear", event_id, str(folder), str(broken), "--json", env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    by_file = {Path(r["file"]).name: r for r in lines}
    assert set(by_file) == {"crowd.JPG", "broken.jpg"}
    assert by_file["crowd.JPG"]["status"] == "cleared"
    assert len(by_file["crowd.JPG"]["faces"]) == 1
    assert by_file["broken.jpg"]["status"] == "failed"
    assert by_file["broken.jpg"]["failure"]
    assert "2 files: 1 cleared, 1 failed" in result.stderr
    unknown = _registry("clear", event_id, str(tmp_path / "nope"), env=env)
    assert unknown.returncode == 1
    assert "no such file or folder" in unknown.stderr


def test_worker_needs_a_broker(tmp_path: Path) -> None:
    """(`serve --workers N` does not: tests/ops/test_web_processes.py.)"""
    env = {"REGISTRY_VAR_DIR": str(tmp_path), "REGISTRY_BROKER_URL": ""}
    worker = _registry("worker", env=env)
    assert worker.returncode == 1
    assert "REGISTRY_BROKER_URL is not set" in worker.stderr
    assert "Traceback" not in worker.stderr


@pytest.mark.own_sqlite
def test_worker_refuses_a_database_that_is_not_migrated(tmp_path: Path) -> None:
    env = {
        "REGISTRY_VAR_DIR": str(tmp_path),
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}",
        "REGISTRY_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    result = _registry("worker", env=env)
    assert result.returncode == 1
    assert "is not migrated" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


@pytest.mark.own_sqlite
def test_the_quick_start_demo_serves_its_seeded_event(tmp_path: Path) -> None:
    """`serve --demo` in a fresh process (as README's quick start runs it): the demo bookings
    are seeded (their confirmation mail queued), the login is printed and the app answers."""
    import time
    import urllib.request

    port = free_port()
    env = {
        **os.environ,
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "REGISTRY_VAR_DIR": str(tmp_path),
        "REGISTRY_WARM_WORKERS": "false",
    }
    env.pop("REGISTRY_BASE_URL", None)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "registry", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                pass
            text = (tmp_path / "serve.log").read_text(errors="replace")
            assert process.poll() is None, text
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
        text = (tmp_path / "serve.log").read_text(errors="replace")
        assert "Staff login:" in text
        assert "Traceback" not in text
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


BADGE_OF_GUEST_2 = """
from sqlmodel import select
from registry.db import unit_of_work
from registry.events.models import Booking
with unit_of_work() as session:
    print(session.exec(select(Booking.badge_code).where(Booking.name == "Guest 2")).one())
"""


@pytest.mark.own_sqlite
def test_clear_prints_each_flagged_files_reasons_and_its_page(
    tmp_path: Path, seeded: tuple[dict[str, str], str], faces_dir: Path
) -> None:
    import random

    from tests.vision import compose

    env, event_id = seeded
    code = subprocess.run(
        [sys.executable, "-c", BADGE_OF_GUEST_2],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    canvas = compose.background(faces_dir, (1600, 1000), random.Random(3))
    canvas.paste(compose.badge_image(code, 8), (700, 400))  # Guest 2 opted out
    photo = tmp_path / "guest2.jpg"
    canvas.save(photo, quality=92)
    result = _registry("clear", event_id, str(photo), env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("flagged"), result.stdout
    assert any("opted out" in line and line.strip().startswith("- ") for line in lines[1:]), lines
    [page] = [line for line in lines if "review: " in line]
    assert re.search(r"review: http://127\.0\.0\.1:8000/media/[0-9a-f-]{36}$", page.strip())
    assert "1 file: 1 flagged" in result.stderr
