"""Where media files live: content-addressed by sha256, never at a path a user chose.

The local folder is the embedded default; with `REGISTRY_STORAGE_URL=s3://bucket/prefix` files
live in an S3-compatible bucket that every worker machine can reach. Both store the same keys
(kind/ab/cd/<sha256>), so a folder can be copied into a bucket as is.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from registry.config import get_settings


class Storage(Protocol):
    def put(self, data: bytes, *, kind: str = "originals", key: str | None = None) -> str: ...

    def get(self, key: str, *, kind: str = "originals") -> bytes: ...

    def put_file(self, path: Path, *, kind: str = "originals", key: str | None = None) -> str:
        """Store a file's content without reading it into memory (videos)."""
        ...

    def local_copy(self, key: str, *, kind: str = "originals") -> AbstractContextManager[Path]:
        """A local file with the content, for as long as the context lasts (read it only)."""
        ...

    def exists(self, key: str, *, kind: str = "originals") -> bool: ...

    def delete(self, key: str, *, kind: str = "originals") -> None: ...

    def put_record(self, name: str, data: bytes) -> None:
        """Write a small named record under records/ (never overwritten)."""
        ...

    def get_record(self, name: str) -> bytes: ...

    def list_records(self, prefix: str) -> list[str]:
        """Names under records/ that start with `prefix`, sorted."""
        ...

    def walk(self) -> Iterator[tuple[str, str]]:
        """Every stored file as (kind, key): kinds of `KINDS` with their sha256, and "records"
        with a record's name (backups and `registry check` read everything)."""
        ...


# originals: uploads; renditions: redacted copies; thumbs/previews: small copies for pages,
# keyed by their original's sha256 (they can always be made again); parts: the encoded parts of
# a video's redaction while it is made (deleted once joined).
KINDS = ("originals", "renditions", "thumbs", "previews", "parts")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


CHUNK = 1 << 20


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


_RECORD_NAME = re.compile(r"^[a-z0-9-]+/[A-Za-z0-9._-]+$")


def record_key(name: str) -> str:
    """records/<folder>/<name>: named records (audit checkpoints), checked like keys are."""
    if not _RECORD_NAME.match(name):
        raise ValueError("not a record name")
    return f"records/{name}"


def relative_key(key: str, kind: str) -> str:
    """kind/ab/cd/<sha256>: the one layout of both backends (and a guard against odd keys)."""
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise ValueError("not a sha256 key")
    if kind not in KINDS:
        raise ValueError("unknown kind")
    return f"{kind}/{key[:2]}/{key[2:4]}/{key}"


class LocalStorage:
    """Files under root/kind/ab/cd/<sha256>, written atomically (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str, kind: str) -> Path:
        return self.root / relative_key(key, kind)

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

    def put_file(self, path: Path, *, kind: str = "originals", key: str | None = None) -> str:
        key = key or sha256_of_file(path)
        target = self._path(key, kind)
        if target.exists():
            return key
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out, path.open("rb") as source:
                shutil.copyfileobj(source, out, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return key

    @contextmanager
    def local_copy(self, key: str, *, kind: str = "originals") -> Iterator[Path]:
        path = self._path(key, kind)
        if not path.exists():
            raise FileNotFoundError(f"{kind}/{key}")
        yield path

    def put_record(self, name: str, data: bytes) -> None:
        path = self.root / record_key(name)
        if path.exists():
            raise FileExistsError(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".record-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)

    def get_record(self, name: str) -> bytes:
        return (self.root / record_key(name)).read_bytes()

    def list_records(self, prefix: str) -> list[str]:
        folder, _, start = prefix.partition("/")
        base = self.root / "records" / folder
        if not base.is_dir():
            return []
        return sorted(
            f"{folder}/{p.name}"
            for p in base.iterdir()
            if p.name.startswith(start) and not p.name.startswith(".")
        )

    def get(self, key: str, *, kind: str = "originals") -> bytes:
        return self._path(key, kind).read_bytes()

    def walk(self) -> Iterator[tuple[str, str]]:
        for kind in KINDS:
            base = self.root / kind
            if base.is_dir():
                for path in sorted(base.glob("??/??/*")):
                    if path.is_file() and not path.name.startswith("."):
                        yield kind, path.name
        records = self.root / "records"
        if records.is_dir():
            for path in sorted(records.glob("*/*")):
                if path.is_file() and not path.name.startswith("."):
                    yield "records", f"{path.parent.name}/{path.name}"

    def exists(self, key: str, *, kind: str = "originals") -> bool:
        return self._path(key, kind).exists()

    def delete(self, key: str, *, kind: str = "originals") -> None:
        self._path(key, kind).unlink(missing_ok=True)


class S3Storage:
    """Objects at prefix/kind/ab/cd/<sha256> in one bucket of an S3-compatible service.

    Writes are whole-object PUTs (atomic on S3); a key that exists is not written again (the
    content is its name). A missing object is FileNotFoundError, as for the local folder.
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _key(self, key: str, kind: str) -> str:
        return self.prefix + relative_key(key, kind)

    @staticmethod
    def _missing(exc: Exception) -> bool:
        error = getattr(exc, "response", {}).get("Error", {})
        return str(error.get("Code")) in ("404", "NoSuchKey", "NotFound")

    def put(self, data: bytes, *, kind: str = "originals", key: str | None = None) -> str:
        key = key or sha256_of(data)
        if not self.exists(key, kind=kind):
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(key, kind),
                Body=data,
                ChecksumAlgorithm="SHA256",
            )
        return key

    def put_file(self, path: Path, *, kind: str = "originals", key: str | None = None) -> str:
        key = key or sha256_of_file(path)
        if not self.exists(key, kind=kind):
            # Multipart for large files, a part at a time: never the whole file in memory.
            self.client.upload_file(str(path), self.bucket, self._key(key, kind))
        return key

    @contextmanager
    def local_copy(self, key: str, *, kind: str = "originals") -> Iterator[Path]:
        from botocore.exceptions import ClientError

        fd, temp = tempfile.mkstemp(prefix="registry-s3-")
        os.close(fd)
        try:
            try:
                self.client.download_file(self.bucket, self._key(key, kind), temp)
            except ClientError as exc:
                if self._missing(exc):
                    raise FileNotFoundError(f"{kind}/{key}") from None
                raise
            yield Path(temp)
        finally:
            Path(temp).unlink(missing_ok=True)

    def get(self, key: str, *, kind: str = "originals") -> bytes:
        from botocore.exceptions import ClientError

        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._key(key, kind))[
                "Body"
            ].read()
        except ClientError as exc:
            if self._missing(exc):
                raise FileNotFoundError(f"{kind}/{key}") from None
            raise
        return body

    def exists(self, key: str, *, kind: str = "originals") -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key, kind))
        except ClientError as exc:
            if self._missing(exc):
                return False
            raise
        return True

    def delete(self, key: str, *, kind: str = "originals") -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key, kind))

    def put_record(self, name: str, data: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.prefix + record_key(name),
            Body=data,
            ChecksumAlgorithm="SHA256",
        )

    def get_record(self, name: str) -> bytes:
        body: bytes = self.client.get_object(
            Bucket=self.bucket, Key=self.prefix + record_key(name)
        )["Body"].read()
        return body

    def ensure_bucket(self, region: str = "") -> bool:
        """Create the bucket when it does not exist yet (a fresh deployment); True if made."""
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except ClientError as exc:
            if not self._missing(exc) and "NoSuchBucket" not in str(exc):
                raise
        options: dict[str, Any] = {"Bucket": self.bucket}
        if region and region != "us-east-1":
            options["CreateBucketConfiguration"] = {"LocationConstraint": region}
        self.client.create_bucket(**options)
        return True

    def walk(self) -> Iterator[tuple[str, str]]:
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        ):
            for item in page.get("Contents", []):
                relative = item["Key"][len(self.prefix) :]
                kind, _, rest = relative.partition("/")
                if kind == "records":
                    yield "records", rest
                elif kind in KINDS and rest.count("/") == 2:
                    yield kind, rest.rsplit("/", 1)[1]

    def list_records(self, prefix: str) -> list[str]:
        start = self.prefix + "records/" + prefix
        names: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start
        ):
            names += [
                o["Key"][len(self.prefix) + len("records/") :] for o in page.get("Contents", [])
            ]
        return sorted(names)


def s3_client(
    *, endpoint_url: str = "", region: str = "", access_key: str = "", secret_key: str = ""
) -> Any:
    """A boto3 S3 client (credentials from the usual AWS_* variables unless given). With an
    endpoint (an S3-compatible service) bucket names go in the path, which they all support."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region or None,
        aws_access_key_id=access_key or None,
        aws_secret_access_key=secret_key or None,
        config=Config(
            retries={"max_attempts": 5, "mode": "standard"},
            max_pool_connections=20,
            s3={"addressing_style": "path"} if endpoint_url else None,
        ),
    )


_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def get_storage() -> Storage:
    """The backend the settings name (one S3 client per process and endpoint: they are
    thread-safe and keep their connection pool)."""
    settings = get_settings()
    if not settings.storage_url:
        return LocalStorage(settings.media_path())
    parts = urlsplit(settings.storage_url)
    with _clients_lock:
        client = _clients.get((settings.s3_endpoint_url, settings.s3_region))
        if client is None:
            client = s3_client(endpoint_url=settings.s3_endpoint_url, region=settings.s3_region)
            _clients[(settings.s3_endpoint_url, settings.s3_region)] = client
    return S3Storage(client, parts.netloc, parts.path)
