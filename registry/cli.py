"""The `registry` command line."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tarfile
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from registry import backup as backups
from registry import crypto, metrics, migrations, reactions
from registry import demo as demo_data
from registry import restore as restoring
from registry.audit import checkpoints
from registry.audit.service import CLI
from registry.auth import service as auth_service
from registry.auth.models import Role
from registry.config import ConfigError, Settings, get_settings
from registry.db import DatabaseUnavailable, check_reachable, get_engine, redact_url, unit_of_work
from registry.errors import Invalid, NotFound, RegistryError
from registry.events import references
from registry.events import service as events
from registry.media import biometrics, rotation
from registry.media import service as media_service
from registry.media.models import Media, MediaStatus
from registry.media.storage import S3Storage, get_storage
from registry.publishing import certificates
from registry.publishing import facts as gate_facts
from registry.worker import broker, celery_app, jobs, periodic
from registry.worker.pool import LocalPool, start_fork_server

app = typer.Typer(
    help="Consent & event-media registry.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
user_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")


@app.callback()
def _start() -> None:
    """Bind signals and mail renderers before any command runs (as the web app and Celery
    workers do): seeding demo bookings, housekeeping's reminders and clearing a folder all send
    signals or queue mail."""
    reactions.wire()


# soft_wrap: long URLs stay on one line, so they can be copied from the terminal.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear line on stderr and a non-zero exit; no traceback for operator errors."""
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    try:
        settings = get_settings()
        settings.resolved_secret_key()
    except ConfigError as exc:
        fail(str(exc))
    except ValueError as exc:  # pydantic's ValidationError
        fail(f"invalid settings: {exc}")
    return settings


def _bucket_ready(settings: Settings) -> None:
    """With S3 storage, the bucket exists (made on a fresh deployment's first start)."""
    storage = get_storage()
    if isinstance(storage, S3Storage):
        try:
            if storage.ensure_bucket(settings.s3_region):
                err.print(f"created the bucket {storage.bucket}")
        except Exception as exc:  # noqa: BLE001 - any failure: one clear line, then exit
            fail(f"the storage bucket cannot be reached or made: {exc}")


def migrate_or_fail(settings: Settings) -> None:

    try:
        check_reachable()
        migrations.upgrade(settings.database_url)
    except DatabaseUnavailable as exc:
        fail(str(exc))
    except OperationalError as exc:
        fail(f"migration failed on {redact_url(settings.database_url)}: {exc.orig}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool, typer.Option(help="Seed a demo event, bookings and staff login.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            help="Web server processes. More than one needs REGISTRY_BROKER_URL (the in-process "
            "clearance pool lives in one process).",
            min=1,
            max=64,
        ),
    ] = 1,
) -> None:
    """Migrate the database and start the web app."""
    import uvicorn

    settings = load_settings()
    if demo and settings.env == "production":
        fail("--demo is refused when REGISTRY_ENV=production")
    if workers > 1 and not settings.broker_url:
        fail(
            "--workers > 1 needs REGISTRY_BROKER_URL: without a broker, clearance runs in one "
            "web process's pool"
        )
    # Every process this command starts (web processes, the pool's workers) counts in one
    # folder, summed by GET /metrics; emptied now, before any of them writes.
    metrics.use_folder(settings.var_dir / "metrics" / f"serve-{port}", fresh=True)
    if not settings.broker_url and settings.warm_workers:
        start_fork_server()  # the face models load while the web app starts
    migrate_or_fail(settings)
    _bucket_ready(settings)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    if "REGISTRY_BASE_URL" not in os.environ:
        # Links (manage, consent) must point at where this server actually listens.
        os.environ["REGISTRY_BASE_URL"] = url.rstrip("/")
    if demo:
        # The demo's mail is read in the log (only in dev: refused in production above).
        os.environ["REGISTRY_LOG_MAIL_BODIES"] = "true"
    get_settings.cache_clear()
    settings = load_settings()
    if demo:
        with unit_of_work() as session:
            info = demo_data.seed(session=session)
        out.rule("[bold]Demo data")
        out.print(f"Staff login:  [bold]{info.email}[/]  password [bold]{info.password}[/]")
        for line in info.lines:
            out.print(line)
        out.rule()
    out.print(
        f"Registry on [bold]{url}[/]  (database {settings.database_url.split(':')[0]}, "
        f"API docs {url}docs)"
    )
    uvicorn.run(
        "registry.main:create_app",
        factory=True,
        host=host,
        port=port,
        log_level=settings.log_level,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,  # only these may name the client
        workers=workers,
        # A web process that is still importing cannot answer the supervisor's ping; on a busy
        # machine that takes more than uvicorn's 5 s default, which killed (and restarted, and
        # killed) every child.
        timeout_worker_healthcheck=60,
    )


@app.command()
def worker(
    concurrency: Annotated[
        int,
        typer.Option(
            help="Processes running jobs (0: REGISTRY_WORKERS, else one per core).", min=0
        ),
    ] = 0,
    beat: Annotated[
        bool,
        typer.Option(
            "--beat",
            help="Also run the scheduler (lease sweep, daily housekeeping). Exactly one worker "
            "of a deployment should.",
        ),
    ] = False,
) -> None:
    """Run a Celery worker for clearance jobs (needs REGISTRY_BROKER_URL)."""

    settings = load_settings()
    if not settings.broker_url:
        fail("REGISTRY_BROKER_URL is not set: without a broker, `registry serve` runs the jobs")
    try:
        check_reachable()
    except DatabaseUnavailable as exc:
        fail(str(exc))
    if not migrations.is_at_head(settings.database_url):
        fail(
            f"the database at {redact_url(settings.database_url)} is not migrated: run "
            "`registry db upgrade` (or start `registry serve`) first"
        )
    _bucket_ready(settings)
    get_engine().dispose()  # no connection may cross the fork into the worker's children
    # This worker's children count in one folder of their own, served on metrics_port.
    metrics.use_folder(settings.var_dir / "metrics" / f"worker-{os.getpid()}", fresh=True)
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr="0.0.0.0", registry=metrics.registry())
        err.print(f"worker metrics on port {settings.metrics_port}")

    processes = concurrency or settings.workers or os.cpu_count() or 1
    argv = [
        "worker",
        f"--concurrency={processes}",
        f"--loglevel={settings.log_level.upper()}",
        f"--queues={','.join(broker.QUEUES)}",  # answers awaited, then dead workers' photos
        f"--hostname=registry-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    if beat:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        argv += ["--beat", f"--schedule={settings.var_dir / 'celerybeat-schedule'}"]
    err.print(
        f"worker: {processes} process(es) on {redact_url(settings.broker_url)}"
        + (" with the scheduler" if beat else "")
    )
    celery_app.worker_app().worker_main(argv)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    settings = load_settings()
    if revision == "head":
        migrate_or_fail(settings)
    else:
        migrations.upgrade(settings.database_url, revision)
    out.print(f"database at {migrations.current_revision(_engine())}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument()]) -> None:
    """Revert migrations down to REVISION (e.g. -1 or base)."""
    settings = load_settings()
    migrations.downgrade(settings.database_url, revision)
    out.print(f"database at {migrations.current_revision(_engine()) or 'base'}")


@db_app.command("check")
def db_check() -> None:
    """Fail when the database is not at head or the models differ from the migrations."""

    settings = load_settings()
    try:
        check_reachable()
    except DatabaseUnavailable as exc:
        fail(str(exc))
    current, head = migrations.current_revision(_engine()), migrations.head_revision()
    if current != head:
        fail(
            f"database is at {current or 'base'}, migrations end at {head}: "
            "run `registry db upgrade`"
        )
    diffs = migrations.drift(settings.database_url)
    if diffs:
        for diff in diffs:
            err.print(f"  {diff}")
        fail(f"models and migrations differ ({len(diffs)} change(s)); add a migration")
    out.print(f"ok: database at {head}, models match the migrations")


def _engine():  # type: ignore[no-untyped-def]
    return get_engine()


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Argument(help="Email address used to sign in.")],
    role: Annotated[str, typer.Option(help="admin or comms.")] = "comms",
    password: Annotated[
        str | None, typer.Option(help="Password (prompted for when omitted).")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="The person's name, shown in histories and logs.")
    ] = None,
) -> None:
    """Create a staff user."""

    if role not in Role.__members__:
        fail(f"unknown role {role!r}: use admin or comms")
    settings = load_settings()
    migrate_or_fail(settings)
    if password is None:
        if not sys.stdin.isatty():
            fail("no --password given and no terminal to ask for one")
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with unit_of_work() as session:
            user = auth_service.create_user(
                session=session,
                email=email,
                role=Role(role),
                password=password,
                actor=CLI,
                name=name,
            )
            out.print(f"created {user.email} ({user.role.value})")
    except RegistryError as exc:
        fail(exc.message)


def _set_active(email: str, active: bool) -> None:
    settings = load_settings()
    migrate_or_fail(settings)
    try:
        with unit_of_work() as session:
            user = auth_service.get_by_email(
                session=session, email=auth_service.normalise_email(email)
            )
            if user is None:
                fail(f"no staff user {email}")
            auth_service.set_active(session=session, actor=CLI, user=user, active=active)
            words = "enabled" if active else "disabled (every session and token ended)"
            out.print(f"{user.email} {words}")
    except RegistryError as exc:
        fail(exc.message)


@user_app.command("disable")
def user_disable(email: Annotated[str, typer.Argument(help="The account's email.")]) -> None:
    """Disable a staff account: every session and bearer token of it ends at once."""
    _set_active(email, False)


@user_app.command("enable")
def user_enable(email: Annotated[str, typer.Argument(help="The account's email.")]) -> None:
    """Enable a disabled staff account again."""
    _set_active(email, True)


@keys_app.command("rotate")
def keys_rotate(
    old_biometric_key: Annotated[
        str, typer.Option(help="The REGISTRY_BIOMETRIC_KEY used until now (if one was set).")
    ] = "",
    old_secret_key: Annotated[
        str,
        typer.Option(help="The REGISTRY_SECRET_KEY used until now (when no biometric key was)."),
    ] = "",
) -> None:
    """Re-seal every stored face template and thumbnail under the current biometric key, after
    changing REGISTRY_BIOMETRIC_KEY (or the secret key it is derived from)."""
    if not old_biometric_key and not old_secret_key:
        fail("give the old key: --old-biometric-key or --old-secret-key")
    settings = load_settings()
    migrate_or_fail(settings)
    try:
        old = crypto.key_from(biometric_key=old_biometric_key, secret_key=old_secret_key)
    except ConfigError as exc:
        fail(str(exc))
    with unit_of_work() as session:
        report = rotation.rotate(session=session, actor=CLI, old_key=old)
    out.print(
        f"ok: {report.resealed} re-sealed under the current key, {report.current} already were"
    )
    if report.unreadable:
        fail(
            f"{len(report.unreadable)} blob(s) are under neither key (left as they are): "
            + ", ".join(report.unreadable[:5])
        )


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain, then against the latest signed checkpoint kept outside
    the database (says which); report the first broken link, a rewrite or a truncation."""

    load_settings()
    with unit_of_work() as session:
        report, point = checkpoints.verify(session=session)
    if not report.ok:
        where = f" at entry {report.first_broken_seq}" if report.first_broken_seq else ""
        fail(f"audit chain broken{where}: {report.problem} ({report.checked} entries checked)")
    out.print(f"ok: {report.checked} audit entries, chain intact")
    if point is None:
        out.print(
            "no external checkpoint yet: run `registry audit checkpoint` (serve writes one hourly)"
        )
    else:
        signed = datetime.fromtimestamp(point.signed_at, UTC).isoformat(timespec="seconds")
        out.print(
            f"checked against checkpoint {point.name} (entry {point.seq}, signed {signed}): "
            "not rewritten, not truncated"
        )


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the audit chain's head now and store it outside the database (media storage)."""

    settings = load_settings()
    migrate_or_fail(settings)
    out.print(f"ok: checkpoint {periodic.checkpoint_once()} written")


@app.command()
def badges(
    event_id: Annotated[str, typer.Argument(help="The event's id.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="PDF file to write.")],
    layout: Annotated[
        str, typer.Option(help="sheet: 4 per A4 page with cut marks; single: one per A6 page.")
    ] = "sheet",
) -> None:
    """Write the event's badge sheet as a PDF."""

    if layout not in ("sheet", "single"):
        fail("--layout must be sheet or single")
    try:
        parsed = uuid.UUID(event_id)
    except ValueError:
        fail(f"not an event id: {event_id}")
    load_settings()
    with unit_of_work() as session:
        try:
            event = events.get_event(session=session, event_id=parsed)
        except NotFound as exc:
            fail(exc.message)
        count = sum(
            1 for b in events.list_bookings(session=session, event=event) if not b.cancelled_at
        )
        pdf = events.badges_pdf(
            session=session, event=event, layout="single" if layout == "single" else "sheet"
        )
    try:
        output.write_bytes(pdf)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    out.print(f"ok: {count} badge(s) for {event.name} written to {output}")


def _event_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"not an event id: {value}")


@app.command()
def signage(
    event_id: Annotated[str, typer.Argument(help="The event's id.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="PDF file to write.")],
    size: Annotated[str, typer.Option(help="Paper size: A4 or A3.")] = "A4",
) -> None:
    """Write the event's signage poster (filmed and photographed; how to opt out) as a PDF."""
    if size.upper() not in ("A4", "A3"):
        fail("--size must be A4 or A3")
    parsed = _event_id(event_id)
    load_settings()
    with unit_of_work() as session:
        try:
            event = events.get_event(session=session, event_id=parsed)
        except NotFound as exc:
            fail(exc.message)
        pdf = events.signage_pdf(
            session=session, event=event, size="A3" if size.upper() == "A3" else "A4"
        )
    try:
        output.write_bytes(pdf)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    out.print(f"ok: {size.upper()} signage poster for {event.name} written to {output}")


VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", *VIDEO_SUFFIXES}


def _photo_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
        elif path.is_file():
            files.append(path)
        else:
            fail(f"no such file or folder: {path}")
    return files


def _clear_here(workers: int, queued: list[Any], total: int, as_json: bool) -> None:
    """No broker: clear in a local pool of worker processes."""

    pool = LocalPool(workers)
    try:
        with (
            Progress(console=err, disable=as_json and not err.is_terminal) as progress,
            ThreadPoolExecutor(max_workers=pool.workers * 2) as threads,
        ):
            task = progress.add_task(f"Clearing {total} photo(s)", total=total)
            helpers: list[Future[Any]] = []

            def clear(media_id: uuid.UUID) -> None:
                def share(more: int) -> None:  # a long video's other parts, for other threads
                    helpers.extend(
                        threads.submit(jobs.clear_media, media_id, analyse=pool.analyse)
                        for _ in range(more)
                    )

                jobs.clear_media(media_id, analyse=pool.analyse, fan_out=share)

            todo = [threads.submit(clear, media_id) for media_id in queued]
            progress.advance(task, total - len(todo))
            for future in as_completed(todo):
                future.result()
                progress.advance(task)
            for helper in helpers:
                helper.result()
    finally:
        pool.shutdown()


def _clear_on_workers(queued: list[Any], total: int, as_json: bool) -> None:
    """A broker is configured: send the jobs to its workers and follow them to the end."""

    broker.send_clear(queued)
    waiting = (MediaStatus.pending, MediaStatus.processing)
    with Progress(console=err, disable=as_json and not err.is_terminal) as progress:
        task = progress.add_task(f"Clearing {total} photo(s) on the workers", total=total)
        progress.advance(task, total - len(queued))
        left = len(queued)
        while left:
            time.sleep(0.5)
            with unit_of_work() as session:
                now_left = len(
                    session.exec(
                        select(Media.id).where(
                            col(Media.id).in_(queued), col(Media.status).in_(waiting)
                        )
                    ).all()
                )
            progress.advance(task, left - now_left)
            left = now_left


@app.command()
def clear(
    event_id: Annotated[str, typer.Argument(help="The event the photos were taken at.")],
    paths: Annotated[list[Path], typer.Argument(help="Photo files or folders (searched deeply).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON result object per photo.")
    ] = False,
) -> None:
    """Upload and clear photos and videos for an event, with a progress bar."""

    try:
        parsed = uuid.UUID(event_id)
    except ValueError:
        fail(f"not an event id: {event_id}")
    settings = load_settings()
    files = _photo_files(paths)
    if not files:
        fail("no photos or videos found (JPEG, PNG, WebP, HEIC; MP4, MOV, WebM)")
    with unit_of_work() as session:
        try:
            event = events.get_event(session=session, event_id=parsed)
        except NotFound as exc:
            fail(exc.message)
    ids: list[tuple[Path, uuid.UUID, bool]] = []
    for path in files:
        with unit_of_work() as session:
            event = events.get_event(session=session, event_id=parsed)
            [(media, created)] = media_service.upload(
                session=session,
                actor=CLI,
                files=[
                    media_service.Upload(
                        path.name,
                        path if path.suffix.lower() in VIDEO_SUFFIXES else path.read_bytes(),
                    )
                ],
                event=event,
            )
            ids.append((path, media.id, created and media.status == "pending"))
    if settings.broker_url:
        _clear_on_workers([media_id for _, media_id, queued in ids if queued], len(ids), as_json)
    else:
        _clear_here(
            settings.workers, [media_id for _, media_id, queued in ids if queued], len(ids), as_json
        )
    counts: dict[str, int] = {}
    for path, media_id, _ in ids:
        with unit_of_work() as session:
            media = media_service.get_media(session=session, media_id=media_id)
            counts[media.status] = counts.get(media.status, 0) + 1
            if as_json:
                faces = media_service.faces_of(session=session, media=media)
                print(  # noqa: T201 - the command's output
                    json.dumps(
                        {
                            "file": str(path),
                            "id": str(media.id),
                            "status": media.status,
                            "reasons": media.reasons,
                            "failure": media.failure,
                            "faces": [
                                {
                                    "id": f.number,
                                    "box": {
                                        "top": f.top,
                                        "right": f.right,
                                        "bottom": f.bottom,
                                        "left": f.left,
                                    },
                                    "booking_id": str(f.booking_id) if f.booking_id else None,
                                    "distance": f.distance,
                                    "via": f.via,
                                    "decision": f.decision,
                                }
                                for f in faces
                            ],
                        }
                    )
                )
            else:
                out.print(
                    f"{media.status:<13} {path}"
                    + (f"  ({media.failure})" if media.failure else ""),
                    markup=False,
                )
                if media.status in ("flagged", "needs_review"):
                    # What a person must look at, and where: each reason, then the photo's page.
                    for reason in media.reasons or []:
                        out.print(f"{'':<13}   - {reason}", markup=False)
                    out.print(
                        f"{'':<13}   review: {settings.base_url.rstrip('/')}/media/{media.id}",
                        markup=False,
                    )
    summary = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(counts.items()))
    files_word = "file" if len(ids) == 1 else "files"
    err.print(f"ok: {len(ids)} {files_word}: {summary}")


@app.command()
def purge() -> None:
    """Delete biometric data (reference photos, photo face encodings) past retention."""

    load_settings()
    with unit_of_work() as session:
        removed = references.purge_expired(session=session)
        encodings = biometrics.purge_biometrics(session=session)
    out.print(
        f"ok: {removed} reference photo(s) and {encodings} photo face encoding(s) "
        "past retention deleted"
    )


@app.command()
def backup(
    output: Annotated[Path, typer.Option("-o", "--output", help="The archive to write (.tar).")],
) -> None:
    """Back up the database (a consistent copy, while the service runs), every stored file and
    the audit checkpoints into one archive with a manifest of sizes and SHA-256."""
    settings = load_settings()
    migrate_or_fail(settings)
    try:
        manifest = backups.backup(settings=settings, storage=get_storage(), out=output)
    except backups.BackupError as exc:
        fail(str(exc))
    size = sum(f["size"] for f in manifest["files"])
    out.print(
        f"ok: {output}: the {manifest['database']['kind']} database at migration "
        f"{manifest['database']['revision']} and {len(manifest['files']) - 1} file(s), "
        f"{size / 1e6:.1f} MB"
    )


@app.command()
def restore(
    archive: Annotated[Path, typer.Argument(help="An archive `registry backup` wrote.")],
) -> None:
    """Restore a backup into this empty installation (same REGISTRY_SECRET_KEY), then check
    it (as `registry check`). The whole archive is checked first; on any failure nothing is
    changed."""
    settings = load_settings()
    if not archive.is_file():
        fail(f"no file at {archive}")
    try:
        manifest = restoring.restore(settings=settings, storage=get_storage(), archive_path=archive)
    except (backups.BackupError, tarfile.TarError, OSError) as exc:
        fail(escape(str(exc)))  # names from the archive are not markup
    out.print(
        f"restored the backup of {manifest['created_at']} "
        f"({len(manifest['files']) - 1} file(s)); checking"
    )
    _check_or_fail()


@app.command()
def check() -> None:
    """Report every media row without its file, every file no row names, every file whose
    content is damaged, and the audit chain against the latest signed checkpoint; non-zero
    exit on any."""
    load_settings()
    _check_or_fail()


def _check_or_fail() -> None:
    with unit_of_work() as session:
        report = backups.check(session=session, storage=get_storage())
    for label, items in (
        ("missing (a row names it, storage has none)", report.missing),
        ("extra (stored, no row names it)", report.extra),
        ("damaged (content differs from its name)", report.damaged),
    ):
        for item in items:
            err.print(f"{label}: {item}")
    if report.audit:
        err.print(report.audit)
    if not report.ok:
        fail(
            f"{len(report.missing)} missing, {len(report.extra)} extra, {len(report.damaged)} "
            f"damaged file(s){'; the audit chain is broken' if report.audit else ''}"
        )
    against = (
        f"against checkpoint {report.checkpoint}" if report.checkpoint else "no checkpoint yet"
    )
    out.print(
        f"ok: {report.files} stored file(s), none missing, extra or damaged; "
        f"{report.audit_entries} audit entries, chain intact ({against})"
    )


@app.command()
def housekeeping() -> None:
    """Run the periodic jobs once: biometric purge, consent expiries, takedown notices,
    retention (`serve` runs them daily)."""

    load_settings()
    report = periodic.run_once()  # and sends any staff mail still waiting
    deleted = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.retention.items() if v)
    out.print(
        f"ok: {report.references_purged} reference photo(s) purged, "
        f"{report.photo_encodings_purged} photo face encoding(s) purged, "
        f"{report.consents_expired} consent(s) marked expired, "
        f"{report.takedowns_noticed} publication(s) newly due for takedown; "
        f"retention: {deleted or 'nothing due'}"
    )


@app.command()
def publishable(
    media_id: Annotated[str, typer.Argument(help="The media's id.")],
    channel: Annotated[str, typer.Option(help="The channel to publish on.")],
    rendition: Annotated[
        str | None, typer.Option(help="A rendition of the media (e.g. its redacted copy).")
    ] = None,
) -> None:
    """Ask the publish gate whether media may be published on a channel now (exit 0 if so,
    3 if not, with every reason)."""

    load_settings()
    try:
        media_uuid = uuid.UUID(media_id)
        rendition_uuid = uuid.UUID(rendition) if rendition else None
    except ValueError:
        fail("ids look like 3f2b8c4e-...: check the media and rendition ids")
    try:
        with unit_of_work() as session:
            item = media_service.get_media(session=session, media_id=media_uuid)
            verdict = gate_facts.publishable(
                session=session, media=item, channel=channel, rendition_id=rendition_uuid
            )
    except RegistryError as exc:
        fail(exc.message)
    if verdict.allowed:
        out.print(f"allowed: {item.filename} may be published on {channel} now")
        return
    out.print(f"refused: {item.filename} may not be published on {channel}:")
    for reason in verdict.reasons:
        out.print(f"  - {reason}")
    raise typer.Exit(3)


def _read_jwks(source: str) -> dict[str, object]:

    try:
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=10) as response:  # noqa: S310
                data = json.loads(response.read())
        else:
            data = json.loads(Path(source).read_text())
    except (OSError, ValueError) as exc:
        fail(f"cannot read the key set from {source}: {exc}")
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        fail(f"{source} is not a JWKS document (no 'keys' list)")
    return data


@app.command()
def verify(
    cert: Annotated[
        str, typer.Argument(help="A certificate file, '-' for stdin, or the certificate itself.")
    ],
    jwks: Annotated[
        str | None,
        typer.Option(
            help="Verify offline against this key set (a file, or the service's "
            "/.well-known/jwks.json URL) instead of this installation's own key."
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(help="Also check that this file is exactly the one the certificate names."),
    ] = None,
    offline: Annotated[
        bool, typer.Option(help="Do not ask the issuer whether the certificate was revoked.")
    ] = False,
) -> None:
    """Check a clearance certificate: signature, validity window, (with --file) the file, and
    (online) whether the issuer has revoked it since."""

    if cert == "-":
        token = sys.stdin.read()
    elif len(cert) < 400 and Path(cert).is_file():
        token = Path(cert).read_text()
    else:
        token = cert
    keys = _read_jwks(jwks) if jwks else None
    if keys is None:
        load_settings()
    try:
        claims = certificates.verify(token, keys=keys)
    except Invalid as exc:
        fail(f"invalid certificate: {exc.message}")
    if file is not None:
        try:
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror}")
        if f"urn:sha256:{digest}" != claims.get("sub"):
            fail(f"{file} is not the file this certificate clears (sha256 differs)")
    out.print(json.dumps(claims, indent=2))
    if offline:
        out.print("revocation: not checked (--offline)")
    else:
        status_url = (
            f"{str(claims.get('iss', '')).rstrip('/')}/api/certificates/{claims['jti']}/status"
        )
        try:
            with urllib.request.urlopen(status_url, timeout=10) as response:  # noqa: S310
                state = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500:
                # The issuer answered: it knows no such certificate. Not "could not ask".
                fail(
                    f"the issuer does not know this certificate ({exc.code} from {status_url}): "
                    "it was not issued there, or not as a certificate"
                )
            out.print(f"revocation: not checked: {status_url} answered {exc.code}; try again")
        except (OSError, ValueError) as exc:
            out.print(f"revocation: not checked: cannot reach {status_url} ({exc}); offline")
        else:
            if state.get("status") != "valid":
                fail(
                    f"revoked by the issuer ({state.get('reason')}, at "
                    f"{state.get('revoked_at')}): the basis for this publication has gone"
                )
            out.print(f"revocation: checked at {status_url}: not revoked")
    out.print(f"valid: cleared for {claims.get('channel')} until the certificate expires")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
