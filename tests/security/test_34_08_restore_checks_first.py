"""Issue 34, item 8: `registry restore` checks the whole archive before it changes anything
(member types, names, sizes against the manifest, every hash while streaming), restores into a
staging area and swaps it in at the end: any bad archive gets one clear error line, a non-zero
exit and an installation left as it was (an empty database, no file written in or beside it).
Through the real CLI, with archives crafted here from a real backup, on the suite's database
(SQLite, or a new PostgreSQL database per installation)."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import create_engine, inspect

from registry import backup as backups
from registry.config import get_settings
from registry.media.storage import LocalStorage
from tests.live import drop_database, new_database

ZEROS = 60 * 1_000_000
ORIGINAL = "ab" * 32  # named like an original: its name claims this SHA-256
ORIGINAL_PATH = f"storage/originals/ab/ab/{ORIGINAL}"


@dataclass
class Installation:
    folder: Path
    database: str
    env: dict[str, str]

    def registry(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "registry", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def tables(self) -> list[str]:
        engine = create_engine(self.database)
        try:
            return inspect(engine).get_table_names()
        finally:
            engine.dispose()


@contextlib.contextmanager
def installation(folder: Path, name: str) -> Iterator[Installation]:
    """A new, empty installation (its own database and media folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    database = new_database(folder, name)
    env = {
        **os.environ,
        "REGISTRY_ENV": "test",
        # The suite's key: the restore that runs in this process below needs the same.
        "REGISTRY_SECRET_KEY": get_settings().resolved_secret_key(),
        "REGISTRY_VAR_DIR": str(folder),
        "REGISTRY_DATABASE_URL": database,
        "REGISTRY_BROKER_URL": "",
        "REGISTRY_STORAGE_URL": "",
        "REGISTRY_SMTP_URL": "",
        "REGISTRY_CHECKPOINT_MINUTES": "0",
    }
    env.pop("REGISTRY_MEDIA_DIR", None)
    try:
        yield Installation(folder, database, env)
    finally:
        drop_database(database)


@dataclass
class Backup:
    """A real backup's members (the manifest aside) and its manifest."""

    members: list[tuple[tarfile.TarInfo, bytes]]
    manifest: dict[str, Any]

    def database(self) -> tuple[tarfile.TarInfo, bytes]:
        name = self.manifest["database"]["file"]
        return next((info, data) for info, data in self.members if info.name == name)


@pytest.fixture(scope="module")
def backup(tmp_path_factory: pytest.TempPathFactory) -> Backup:
    folder = tmp_path_factory.mktemp("restore-source")
    archive = folder / "backup.tar"
    with installation(folder / "source", "restoresource") as source:
        for command in (
            ["db", "upgrade"],
            ["user", "create", "kept@example.org", "--role", "admin", "--password", "x" * 16],
            ["audit", "checkpoint"],
            ["backup", "-o", str(archive)],
        ):
            done = source.registry(*command)
            assert done.returncode == 0, (command, done.stdout, done.stderr)
    members = []
    with tarfile.open(archive) as opened:
        for info in opened.getmembers():
            source_file = opened.extractfile(info)
            assert source_file is not None
            members.append((info, source_file.read()))
    assert members[-1][0].name == "manifest.json"
    return Backup(members[:-1], json.loads(members[-1][1]))


class Zeros(io.RawIOBase):
    """`size` zero bytes, made as they are read (a 60 MB member without 60 MB in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def _zeros_sha256(size: int) -> str:
    digest, block = hashlib.sha256(), bytes(1 << 20)
    for start in range(0, size, len(block)):
        digest.update(block[: min(len(block), size - start)])
    return digest.hexdigest()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, IO[bytes], dict[str, Any]]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o600
    entry = {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return info, io.BytesIO(data), entry


def _link(name: str, kind: bytes, target: str, entry: dict[str, Any]) -> tuple[Any, ...]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None, {**entry, "path": name}


Crafted = tuple[list[tuple[tarfile.TarInfo, IO[bytes] | None]], list[dict[str, Any]]]


def _write(out: Path, backup: Backup, crafted: Crafted, edit: Callable[..., None] | None) -> Path:
    """The real backup's members, the crafted ones, and the manifest listing the crafted
    entries (then edited), last as a backup writes it."""
    added, entries = crafted
    manifest = copy.deepcopy(backup.manifest)
    manifest["files"] += entries
    if edit is not None:
        edit(manifest)
    with tarfile.open(out, "w") as archive:
        for info, data in backup.members:
            archive.addfile(info, io.BytesIO(data))
        for info, source in added:
            archive.addfile(info, source)
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return out


def _symlink(backup: Backup) -> Crafted:
    info, _, entry = _link(ORIGINAL_PATH, tarfile.SYMTYPE, "/etc/passwd", _file("x", b"")[2])
    return [(info, None)], [entry]


def _hard_link_to_the_database(backup: Backup) -> Crafted:
    database, data = backup.database()
    entry = _file("x", data)[2]
    info, _, entry = _link(ORIGINAL_PATH, tarfile.LNKTYPE, database.name, entry)
    return [(info, None)], [entry]


def _hard_link_outside(backup: Backup) -> Crafted:
    info, _, entry = _link(ORIGINAL_PATH, tarfile.LNKTYPE, "../../etc/shadow", _file("x", b"")[2])
    return [(info, None)], [entry]


def _named(name: str) -> Callable[[Backup], Crafted]:
    def crafted(backup: Backup) -> Crafted:
        info, source, entry = _file(name, b"a record that climbs out\n")
        return [(info, source)], [entry]

    return crafted


def _not_in_manifest(backup: Backup) -> Crafted:
    info, source, _ = _file(ORIGINAL_PATH, b"not listed")
    return [(info, source)], []


def _twice(backup: Backup) -> Crafted:
    database, _ = backup.database()
    info, source, _ = _file(database.name, b"SQLite format 3\x00 but not the one listed")
    return [(info, source)], []


def _zeros(claimed_size: int | None) -> Callable[[Backup], Crafted]:
    """60 MB of zeros named as an original; the manifest claims another size, or the right
    size and the hash the name claims."""

    def crafted(backup: Backup) -> Crafted:
        info = tarfile.TarInfo(ORIGINAL_PATH)
        info.size, info.mode = ZEROS, 0o600
        entry = {"path": ORIGINAL_PATH, "size": claimed_size or ZEROS, "sha256": ORIGINAL}
        if claimed_size is not None:
            entry["sha256"] = _zeros_sha256(ZEROS)
        return [(info, Zeros(ZEROS))], [entry]  # type: ignore[list-item]

    return crafted


def _listed_not_there(backup: Backup) -> Crafted:
    return [], [{"path": ORIGINAL_PATH, "size": 3, "sha256": ORIGINAL}]


def _newer_version(manifest: dict[str, Any]) -> None:
    manifest["database"]["revision"] = "f00dfacef00d"


CASES: dict[str, tuple[Callable[[Backup], Crafted], Callable[..., None] | None, str]] = {
    "symlink": (_symlink, None, "symbolic link"),
    "hard link to a member": (_hard_link_to_the_database, None, "hard link"),
    "hard link outside": (_hard_link_outside, None, "hard link"),
    "dot-dot record": (_named("storage/records/../../../escape.txt"), None, "not a name"),
    "absolute name": (_named("/tmp/registry-escape.txt"), None, "not a name"),
    "unknown kind": (_named(f"storage/secrets/ab/ab/{ORIGINAL}"), None, "not a name"),
    "not in the manifest": (_not_in_manifest, None, "not in its manifest"),
    "a member twice": (_twice, None, "twice"),
    "zeros of another size": (_zeros(1024), None, "bytes"),
    "zeros with a false hash": (_zeros(None), None, "damaged"),
    "listed but missing": (_listed_not_there, None, "missing"),
    "a newer version's database": (lambda backup: ([], []), _newer_version, "newer version"),
}


def _tree(root: Path, database: str) -> dict[str, int]:
    """Every file under `root` (the SQLite database file aside: opening it may create it)."""
    skip = database.removeprefix("sqlite:///")
    return {
        str(p): p.lstat().st_size
        for p in root.rglob("*")
        if not p.is_dir() and str(p) != skip and not str(p).endswith(".db-journal")
    }


def test_a_real_backup_restores(tmp_path: Path, backup: Backup) -> None:
    archive = _write(tmp_path / "backup.tar", backup, ([], []), None)
    with installation(tmp_path / "target", "restoreok") as target:
        done = target.registry("restore", str(archive))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "none missing, extra or damaged" in done.stdout
        assert "alembic_version" in target.tables()
        assert not [p for p in tmp_path.rglob("*") if "restor" in p.name and p.is_dir()]


@pytest.mark.parametrize("case", CASES)
def test_a_bad_archive_changes_nothing(tmp_path: Path, backup: Backup, case: str) -> None:
    craft, edit, words = CASES[case]
    archive = _write(tmp_path / "crafted.tar", backup, craft(backup), edit)
    with installation(tmp_path / "target", "restorebad") as target:
        before = _tree(tmp_path, target.database)
        done = target.registry("restore", str(archive))
        assert done.returncode != 0, done.stdout
        assert "Traceback" not in done.stderr, done.stderr
        assert "error:" in done.stderr
        assert words in done.stderr, done.stderr
        assert target.tables() == []  # the database was never touched
        assert _tree(tmp_path, target.database) == before  # nor a file, in it or beside it
        assert not Path("/tmp/registry-escape.txt").exists()


def test_a_failure_at_the_last_step_undoes_the_database_and_the_files(
    tmp_path: Path, backup: Backup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files half moved in when the disk fills: the restored database (PostgreSQL) is
    dropped again, the files moved are removed, the SQLite copy never replaces the target."""
    from registry import restore as restoring

    archive = _write(tmp_path / "backup.tar", backup, ([], []), None)
    real = restoring._move_in

    def fails_after_moving(staged: Path, storage: Any, undo: list[Any]) -> None:
        real(staged, storage, undo)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(restoring, "_move_in", fails_after_moving)
    with installation(tmp_path / "target", "restoreundo") as target:
        settings = get_settings().model_copy(update={"database_url": target.database})
        before = _tree(tmp_path, target.database)
        with pytest.raises(backups.BackupError, match="No space left"):
            restoring.restore(
                settings=settings,
                storage=LocalStorage(target.folder / "media"),
                archive_path=archive,
            )
        assert target.tables() == []
        assert _tree(tmp_path, target.database) == before
        assert not (target.folder / "media").exists()
