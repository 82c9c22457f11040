"""`registry restore FILE`: a backup (`registry.backup`) put back into a new, empty installation
with the same keys, or nothing changed at all.

Nothing is written until the whole archive has been checked: every member a regular file (no
links, devices or folders), under a name a backup writes (no `..`, no absolute name, a known
kind and key), listed once in the manifest at its size, every listed file present, the keys and
the database's kind and migration ones this installation and version can take. Then every member
is streamed into a staging folder beside its destination, its SHA-256 computed on the way; the
database is migrated there (SQLite) or restored in one transaction and migrated (PostgreSQL,
dropped again if a later step fails); the files are moved in, and the SQLite file last. On any
failure a BackupError says why and the installation is as it was: empty.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from registry import migrations
from registry.backup import (
    CHUNK,
    FORMAT,
    MANIFEST,
    BackupError,
    client_tool,
    libpq_url,
    member_name,
)
from registry.config import Settings
from registry.crypto import key_fingerprint
from registry.db import engine_for
from registry.media.storage import LocalStorage, Storage, record_key, relative_key

_DATABASE_FILES = {"sqlite": "database/registry.sqlite3", "postgresql": "database/registry.pgdump"}
_REGULAR = (tarfile.REGTYPE, tarfile.AREGTYPE)
_NAMED_BY_CONTENT = ("originals", "renditions", "parts")  # a key is its content's SHA-256
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
MANIFEST_MAX = 256 * 1_000_000
Place = tuple[str, str]  # ("database", ""), (kind, key) or ("records", name)


@dataclass
class _Checked:
    """An archive checked whole: its manifest and each member to restore, in archive order,
    with its manifest entry and where it goes."""

    manifest: dict[str, Any]
    members: list[tuple[tarfile.TarInfo, dict[str, Any], Place]]


def _what(info: tarfile.TarInfo) -> str:
    if info.issym():
        return "symbolic link"
    if info.islnk():
        return "hard link"
    if info.isdir():
        return "directory"
    if info.isdev():
        return "device or FIFO"
    return "special member"


def _place(name: str) -> Place | None:
    """Where a storage member goes, if `name` is one a backup writes (None: it is not)."""
    parts = name.split("/")
    if parts[0] != "storage" or len(parts) < 3 or "\\" in name:
        return None
    if any(part == "" or part.startswith(".") for part in parts):  # "..", hidden names
        return None
    kind, rest = parts[1], "/".join(parts[2:])
    try:
        if kind == "records":
            record_key(rest)
            return kind, rest
        return (kind, parts[-1]) if name == member_name(kind, parts[-1]) else None
    except ValueError:
        return None


def _read_manifest(archive: tarfile.TarFile, info: tarfile.TarInfo | None) -> dict[str, Any]:
    member = archive.extractfile(info) if info is not None else None
    if info is None or member is None:
        raise BackupError("not a registry backup: it has no manifest.json")
    if info.size > MANIFEST_MAX:
        raise BackupError(f"manifest.json is {info.size:,} bytes: not a registry backup's")
    try:
        manifest = json.loads(member.read())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"manifest.json is not JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise BackupError(f"unknown backup format {found!r}")
    return manifest


def _entries(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    listed: dict[str, dict[str, Any]] = {}
    files = manifest.get("files")
    for entry in files if isinstance(files, list) else [None]:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and type(entry.get("size")) is int
            and entry["size"] >= 0
            and _SHA256.match(str(entry.get("sha256")))
        ):
            raise BackupError(f"the manifest's file list is malformed (at {entry!r:.200})")
        if entry["path"] in listed:
            raise BackupError(f"the manifest lists {entry['path']} twice")
        listed[entry["path"]] = entry
    return listed


def _database_kind(manifest: dict[str, Any], settings: Settings) -> str:
    """The backup's database kind, once it is known to suit this installation and version."""
    database = manifest.get("database")
    kind = str(database.get("kind")) if isinstance(database, dict) else ""
    if not isinstance(database, dict) or database.get("file") != _DATABASE_FILES.get(kind, ""):
        raise BackupError("the manifest names no database file a backup writes")
    url = settings.database_url
    if not url.startswith(kind):
        raise BackupError(
            f"this backup holds a {'SQLite' if kind == 'sqlite' else 'PostgreSQL'} database: "
            f"restore it on {'SQLite' if kind == 'sqlite' else 'PostgreSQL'}"
        )
    revision = database.get("revision")
    scripts = ScriptDirectory.from_config(migrations.alembic_config("sqlite://"))
    if revision not in {script.revision for script in scripts.walk_revisions()}:
        raise BackupError(
            f"the backup's database is at migration {revision!r}, which this version does not "
            "know: it was made by a newer version; restore it with that version"
        )
    return kind


def _checked(archive: tarfile.TarFile, settings: Settings) -> _Checked:
    """Every member a regular file the manifest lists at its size, under a name a backup writes;
    every listed file there; the keys and the database this installation's. Reads headers only."""
    by_name: dict[str, tarfile.TarInfo] = {}
    for info in archive.getmembers():
        if info.name in by_name:
            raise BackupError(f"{info.name} is in the archive twice: not a registry backup's")
        if info.type not in _REGULAR:
            raise BackupError(f"{info.name} is a {_what(info)}: a backup holds only regular files")
        by_name[info.name] = info
    manifest = _read_manifest(archive, by_name.pop(MANIFEST, None))
    if not hmac.compare_digest(str(manifest.get("keys")), key_fingerprint()):
        raise BackupError(
            "this installation's keys are not the ones the backup was made with: set the "
            "same REGISTRY_SECRET_KEY (and REGISTRY_BIOMETRIC_KEY, if one was set)"
        )
    database = _DATABASE_FILES[_database_kind(manifest, settings)]
    listed = _entries(manifest)
    unlisted = sorted(set(by_name) - set(listed))
    if unlisted:
        raise BackupError(f"{unlisted[0]} is in the archive but not in its manifest")
    if database not in listed:
        raise BackupError(f"the manifest does not list the database ({database})")
    members = []
    for name, entry in listed.items():
        member = by_name.get(name)
        if member is None:
            raise BackupError(f"{name} is missing from the archive")
        place = ("database", "") if name == database else _place(name)
        if place is None:
            raise BackupError(
                f"{name!r} is not a name a backup writes (database/… or storage/<kind>/…, "
                "never '..')"
            )
        if member.size != entry["size"]:
            raise BackupError(
                f"{name} has {member.size:,} bytes in the archive but {entry['size']:,} in its "
                "manifest"
            )
        if place[0] in _NAMED_BY_CONTENT and entry["sha256"] != place[1]:
            raise BackupError(f"{name}: the manifest's SHA-256 for it is not its name")
        members.append((member, entry, place))
    members.sort(key=lambda m: m[0].offset)  # one pass through the archive
    return _Checked(manifest, members)


def _empty(settings: Settings, storage: Storage) -> None:
    url = make_url(settings.database_url)
    if url.drivername.startswith("sqlite") and not Path(url.database or "").exists():
        tables = []  # (opening it would make the file)
    else:
        engine = create_engine(settings.database_url)
        try:
            tables = inspect(engine).get_table_names()
        finally:
            engine.dispose()
    if tables:
        raise BackupError(
            "the database is not empty: restore into a new installation (a new database and "
            "an empty media folder or bucket)"
        )
    if next(iter(storage.walk()), None) is not None:
        raise BackupError("the media storage is not empty: restore into an empty folder or bucket")


@contextmanager
def _staging(near: Path | None) -> Iterator[Path]:
    """A folder for the restore beside `near` (so it is moved in by renaming), or a temporary
    one; removed afterwards, whatever happens."""
    if near is not None:
        near.parent.mkdir(parents=True, exist_ok=True)
    parent = near.parent if near is not None else None
    folder = Path(tempfile.mkdtemp(prefix=".registry-restore-", dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _stream(
    archive: tarfile.TarFile, info: tarfile.TarInfo, entry: dict[str, Any], to: Path
) -> None:
    """Copy a member to `to`, hashing it on the way: refused unless it is the manifest's."""
    member = archive.extractfile(info)
    if member is None:
        raise BackupError(f"{info.name} cannot be read from the archive")
    digest = hashlib.sha256()
    to.parent.mkdir(parents=True, exist_ok=True)
    with to.open("xb") as out:
        while block := member.read(CHUNK):
            digest.update(block)
            out.write(block)
    if digest.hexdigest() != entry["sha256"]:
        raise BackupError(f"{info.name} is damaged in the archive (its SHA-256 differs)")


def _staged(folder: Path, place: Place) -> Path:
    kind, key = place
    if kind == "database":
        return folder / "database"
    return folder / (record_key(key) if kind == "records" else relative_key(key, kind))


def _sqlite_ready(path: Path) -> None:
    """Migrate the staged SQLite copy and fold its write-ahead log in (it moves as one file)."""
    url = f"sqlite:///{path}"
    migrations.upgrade(url)
    engine_for(url).dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


# Objects of the current schema, to drop what a failed restore made (it was empty before).
_PG_OBJECTS = text(
    """
    SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
           WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, quote_ident(c.relname)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
    UNION ALL
    SELECT 'FUNCTION', p.oid::regprocedure::text
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = current_schema()
    UNION ALL
    SELECT 'TYPE', quote_ident(t.typname)
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'd')
    """
)
_DROP_ORDER = ("VIEW", "MATERIALIZED VIEW", "TABLE", "SEQUENCE", "FUNCTION", "TYPE")


def _pg_objects(url: str) -> set[tuple[str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {(str(k), str(n)) for k, n in connection.execute(_PG_OBJECTS)}
    finally:
        engine.dispose()


def _pg_drop_since(url: str, before: set[tuple[str, str]]) -> None:
    """Drop what the restore made in the (empty before) PostgreSQL database."""
    made = sorted(_pg_objects(url) - before, key=lambda o: _DROP_ORDER.index(o[0]))
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for kind, name in made:
                connection.execute(text(f"DROP {kind} IF EXISTS {name} CASCADE"))
    finally:
        engine.dispose()


def _pg_restore(url: str, dump: Path) -> None:
    result = subprocess.run(
        [
            client_tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--single-transaction",  # all of it or nothing
            "--exit-on-error",
            f"--dbname={libpq_url(url)}",
            str(dump),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()[:500]}")


def _move_in(staged: Path, storage: Storage, undo: list[Callable[[], None]]) -> None:
    """Put the staged files in storage: moved into a local folder (renamed when it is on the
    same file system), or uploaded to a bucket (records last); each step can be undone."""
    files = sorted(p for p in staged.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.relative_to(staged).parts[0] == "records")
    for path in files:
        relative = path.relative_to(staged)
        kind = relative.parts[0]
        if isinstance(storage, LocalStorage):
            target = storage.root / relative
            made = [p for p in reversed(target.parents) if not p.exists()]
            target.parent.mkdir(parents=True, exist_ok=True)
            undo.extend(partial(Path.rmdir, p) for p in made)  # undone deepest first
            shutil.move(path, target)
            undo.append(partial(target.unlink, missing_ok=True))
        elif kind == "records":
            storage.put_record("/".join(relative.parts[1:]), path.read_bytes())
        else:
            storage.put_file(path, kind=kind, key=relative.name)
            undo.append(partial(storage.delete, relative.name, kind=kind))


def restore(*, settings: Settings, storage: Storage, archive_path: Path) -> dict[str, Any]:
    """Restore an archive into this empty installation; its manifest. The whole archive is
    checked before anything is written and restored through a staging area: on any failure
    (a BackupError) the installation is left as it was."""
    undo: list[Callable[[], None]] = []
    try:
        return _restore(settings, storage, archive_path, undo)
    except BaseException as exc:
        for step in reversed(undo):
            with suppress(Exception):
                step()
        if isinstance(exc, BackupError) or not isinstance(exc, Exception):
            raise
        if isinstance(exc, tarfile.TarError | OSError):
            raise BackupError(f"the restore failed, nothing was changed: {exc}") from exc
        raise BackupError(
            f"restoring the database failed, nothing was changed: {type(exc).__name__}: "
            f"{str(exc)[:500]}"
        ) from exc


def _restore(
    settings: Settings, storage: Storage, archive_path: Path, undo: list[Callable[[], None]]
) -> dict[str, Any]:
    url = settings.database_url
    sqlite_path = Path(make_url(url).database or "") if url.startswith("sqlite") else None
    with ExitStack() as stack, tarfile.open(archive_path, "r") as archive:
        checked = _checked(archive, settings)
        _empty(settings, storage)
        files = stack.enter_context(
            _staging(storage.root if isinstance(storage, LocalStorage) else None)
        )
        scratch = stack.enter_context(_staging(sqlite_path))
        for info, entry, place in checked.members:
            _stream(
                archive, info, entry, _staged(scratch if place[0] == "database" else files, place)
            )
        database = scratch / "database"
        if sqlite_path is not None:
            _sqlite_ready(database)
        else:
            undo.append(partial(_pg_drop_since, url, _pg_objects(url)))
            _pg_restore(url, database)
            migrations.upgrade(url)  # a backup from an older version: up to this one's head
        _move_in(files, storage, undo)
        if sqlite_path is not None:
            for log in ("-wal", "-shm"):  # an empty database's: not the restored one's
                sqlite_path.with_name(sqlite_path.name + log).unlink(missing_ok=True)
            os.replace(database, sqlite_path)
            engine_for(url).dispose()  # no pooled connection to the file it replaced
        return checked.manifest
