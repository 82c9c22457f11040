"""Backup and check: the database, every stored file and the audit checkpoints as one archive
(`registry.restore` puts one back), and a check that nothing is missing, extra or damaged.

`registry backup -o FILE` writes a tar archive:
- `database/registry.sqlite3` (SQLite's online backup API: a consistent copy while the service
  runs) or `database/registry.pgdump` (`pg_dump`'s custom format, taken in a snapshot exported
  from the same transaction that lists the files, so rows and files agree);
- `storage/<kind>/ab/cd/<sha256>` for every file the copied database names (originals,
  renditions; thumbnails and previews of those originals when made), and `storage/records/...`
  (the signed audit checkpoints);
- `manifest.json` (last): the format, when, the database's kind and migration, a fingerprint of
  the keys (restore needs the same `REGISTRY_SECRET_KEY`: face templates are encrypted with a
  key derived from it), and each member's size and SHA-256.

A file uploaded while the backup runs is not in the copied database, so it is left out (the
archive is consistent); one deleted meanwhile (retention) fails the backup with a clear message.

`registry check` reports every media row or rendition without its file, every file no row names,
every file whose content is not its name's SHA-256, and the audit chain against the latest
signed checkpoint (non-zero exit on any); it changes nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlmodel import Session

from registry import checkpoints
from registry.config import Settings
from registry.crypto import key_fingerprint
from registry.media.storage import Storage, relative_key, sha256_of_file

FORMAT = "registry-backup/1"
MANIFEST = "manifest.json"
CHUNK = 1 << 20


class BackupError(RuntimeError):
    """Why a backup or a restore cannot be done (one line, for the operator)."""


# --- what the database names -------------------------------------------------------------------


@dataclass
class Expected:
    """Files the database's rows name, by (kind, key)."""

    required: set[tuple[str, str]] = field(default_factory=set)  # must exist
    optional: set[tuple[str, str]] = field(default_factory=set)  # may exist (derived copies)


def expected(connection: Connection) -> Expected:
    """Originals of every media stored (an upload refused at once has none), their rendition
    files, and their thumbnails and previews (made on demand, so optional)."""
    out = Expected()
    for sha, status, failure in connection.execute(
        text("SELECT sha256, status, failure FROM media")
    ):
        refused_at_upload = status == "failed" and failure and "missing" not in failure.lower()
        (out.optional if refused_at_upload else out.required).add(("originals", sha))
        out.optional.update({("thumbs", sha), ("previews", sha)})
    for (sha,) in connection.execute(text("SELECT sha256 FROM rendition WHERE sha256 <> ''")):
        out.required.add(("renditions", sha))
    # A video's redaction being made: its parts so far (a restored installation resumes it).
    for (key,) in connection.execute(
        text("SELECT key FROM rendition_part WHERE key IS NOT NULL AND key <> ''")
    ):
        out.optional.add(("parts", key))
    return out


# --- check ----------------------------------------------------------------------------------------


@dataclass
class Report:
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    audit: str = ""  # what is wrong with the audit chain ("" when intact)
    files: int = 0
    audit_entries: int = 0
    checkpoint: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.damaged or self.audit)


def _content_sha256(storage: Storage, kind: str, key: str) -> str:
    with storage.local_copy(key, kind=kind) as path:
        return sha256_of_file(path)


def check(*, session: Session, storage: Storage) -> Report:
    """Every row's file there, every file named by a row, every file's content its name; and
    the audit chain against the latest signed checkpoint."""
    report = Report()
    wanted = expected(session.connection())
    present: set[tuple[str, str]] = set()
    for kind, key in storage.walk():
        if kind == "records":
            continue
        present.add((kind, key))
        report.files += 1
        if (kind, key) not in wanted.required | wanted.optional:
            report.extra.append(f"{kind}/{key}")
        elif (
            kind in ("originals", "renditions", "parts")
            and _content_sha256(storage, kind, key) != key
        ):
            report.damaged.append(f"{kind}/{key}")
    report.missing = sorted(f"{kind}/{key}" for kind, key in wanted.required - present)
    verdict, point = checkpoints.verify(session=session)
    report.audit_entries = verdict.checked
    report.checkpoint = point.name if point else None
    if not verdict.ok:
        where = f" at entry {verdict.first_broken_seq}" if verdict.first_broken_seq else ""
        report.audit = f"audit chain broken{where}: {verdict.problem}"
    return report


# --- backup -------------------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    """The URL as pg_dump and pg_restore take it (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def client_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: install PostgreSQL's client tools (Debian: apt-get "
            f"install postgresql-client) at the same major version as the server"
        )
    return found


@contextmanager
def _database_copy(settings: Settings, work: Path) -> Iterator[tuple[Path, Connection]]:
    """A consistent copy of the database in `work`, and a connection seeing exactly the rows
    that copy holds (to list the files it names)."""
    url = settings.database_url
    if url.startswith("sqlite"):
        source = make_url(url).database or ""
        target = work / "registry.sqlite3"
        with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
            live.backup(copy)  # online: a consistent snapshot while others write
        engine = create_engine(f"sqlite:///{target}")
        with engine.connect() as connection:
            yield target, connection
        engine.dispose()
        return
    dump = work / "registry.pgdump"
    engine = create_engine(url)
    with engine.connect() as connection:
        connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        result = subprocess.run(
            [
                client_tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={dump}",
                libpq_url(url),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BackupError(f"pg_dump failed: {result.stderr.strip()[:500]}")
        yield dump, connection
    engine.dispose()


class _Hashing(io.RawIOBase):
    """A file read once for the archive, its SHA-256 computed on the way."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source, self.digest = source, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.source.read(len(buffer))
        self.digest.update(data)
        buffer[: len(data)] = data
        return len(data)


def _add(archive: tarfile.TarFile, name: str, path: Path, files: list[dict[str, Any]]) -> None:
    info = archive.gettarinfo(str(path), arcname=name)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o600
    with path.open("rb") as source:
        hashed = _Hashing(source)
        archive.addfile(info, hashed)
    files.append({"path": name, "size": info.size, "sha256": hashed.digest.hexdigest()})


def member_name(kind: str, key: str) -> str:
    if kind == "records":
        return f"storage/records/{key}"
    return f"storage/{relative_key(key, kind)}"


def backup(*, settings: Settings, storage: Storage, out: Path) -> dict[str, Any]:
    """Write the archive to `out` (through a temporary file beside it); the manifest."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    files: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="registry-backup-") as folder:
        work = Path(folder)
        with (
            _database_copy(settings, work) as (database, connection),
            tarfile.open(partial, "w") as archive,
        ):
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            wanted = expected(connection)
            _add(archive, f"database/{database.name}", database, files)
            present = set(storage.walk())
            gone = sorted(wanted.required - present)
            if gone:
                raise BackupError(
                    f"{len(gone)} file(s) the database names are not in storage (e.g. "
                    f"{gone[0][0]}/{gone[0][1]}): deleted while backing up, or lost; run "
                    "`registry check`, then the backup again"
                )
            chosen = sorted((wanted.required | wanted.optional) & present)
            chosen += sorted(p for p in present if p[0] == "records")
            for kind, key in chosen:
                if kind == "records":
                    target = work / "record"
                    target.write_bytes(storage.get_record(key))
                    _add(archive, member_name(kind, key), target, files)
                    continue
                with storage.local_copy(key, kind=kind) as path:
                    _add(archive, member_name(kind, key), path, files)
            manifest = {
                "format": FORMAT,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "database": {
                    "kind": "sqlite" if database.suffix == ".sqlite3" else "postgresql",
                    "file": f"database/{database.name}",
                    "revision": revision,
                },
                "keys": key_fingerprint(),
                "files": files,
            }
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(data), 0o600
            archive.addfile(info, io.BytesIO(data))
    os.replace(partial, out)
    return manifest
