"""`registry backup`, `registry restore` and `registry check`: one archive of everything, put
back into an empty installation, and the check that stored files and the audit chain are whole."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from registry import backup as backups
from registry import restore as restoring
from registry.cli.console import err, fail, out
from registry.cli.startup import load_settings, migrate_or_fail
from registry.db import unit_of_work
from registry.media.storage import get_storage


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
