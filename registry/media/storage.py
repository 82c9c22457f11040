"""Where media files live: content-addressed by sha256, never at a path a user chose.

The local folder is the embedded default; an S3-compatible backend can implement the same
interface (Storage) for workers on other machines.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from registry.config import get_settings


class Storage(Protocol):
    def put(self, data: bytes, *, kind: str = "originals", key: str | None = None) -> str: ...

    def get(self, key: str, *, kind: str = "originals") -> bytes: ...

    def exists(self, key: str, *, kind: str = "originals") -> bool: ...

    def delete(self, key: str, *, kind: str = "originals") -> None: ...


# originals: uploads; renditions: redacted copies; thumbs/previews: small copies for pages,
# keyed by their original's sha256 (they can always be made again).
KINDS = ("originals", "renditions", "thumbs", "previews")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalStorage:
    """Files under root/kind/ab/cd/<sha256>, written atomically (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str, kind: str) -> Path:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError("not a sha256 key")
        if kind not in KINDS:
            raise ValueError("unknown kind")
        return self.root / kind / key[:2] / key[2:4] / key

    def put(self, data: bytes, *, kind: str = "originals", key: str | None = None) -> str:
        key = key or sha256_of(data)
        path = self._path(key, kind)
        if path.exists():
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return key

    def get(self, key: str, *, kind: str = "originals") -> bytes:
        return self._path(key, kind).read_bytes()

    def exists(self, key: str, *, kind: str = "originals") -> bool:
        return self._path(key, kind).exists()

    def delete(self, key: str, *, kind: str = "originals") -> None:
        self._path(key, kind).unlink(missing_ok=True)


def get_storage() -> Storage:
    return LocalStorage(get_settings().media_path())
