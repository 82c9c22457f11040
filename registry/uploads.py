"""Reading uploaded files with the configured size limit (shared by API routes and pages)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Generator, Iterable
from pathlib import Path

from fastapi import UploadFile

from registry.config import get_settings
from registry.errors import TooLarge
from registry.vision.video_probe import is_video

CHUNK = 1 << 20


def read_upload(file: UploadFile) -> bytes:
    """The uploaded bytes, refusing more than the configured limit without reading it all."""
    limit_mb = get_settings().max_upload_mb
    data = file.file.read(limit_mb * 1_000_000 + 1)
    if len(data) > limit_mb * 1_000_000:
        raise TooLarge(f"The file is larger than {limit_mb} MB.", field="file")
    return data


def media_limit(head: bytes) -> int:
    """The largest accepted media file starting with `head`, in bytes (videos have their own)."""
    settings = get_settings()
    mb = settings.max_video_mb if is_video(head) else settings.max_upload_mb
    return mb * 1_000_000


def read_capped(file: UploadFile) -> bytes | Path:
    """A photo's bytes, or a video copied to a temporary file a block at a time (the caller
    deletes it); at most one byte past the limit either way: enough for the caller to report
    the file as too large (per file, without failing the rest of a batch) and never more."""
    head = file.file.read(16)
    limit = media_limit(head)
    if not is_video(head):
        return head + file.file.read(limit + 1 - len(head))
    fd, name = tempfile.mkstemp(prefix="registry-upload-", suffix=".video")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(head)
            left = limit + 1 - len(head)
            while left > 0 and (block := file.file.read(min(CHUNK, left))):
                out.write(block)
                left -= len(block)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def received(files: Iterable[UploadFile]) -> Generator[tuple[str, bytes | Path]]:
    """Each upload's name and content (`read_capped`), read only when the consumer asks for it;
    a video's temporary copy is deleted as soon as the consumer moves on (or stops), so a batch
    never holds more than one file at a time."""
    for file in files:
        data = read_capped(file)
        try:
            yield file.filename or "upload", data
        finally:
            if isinstance(data, Path):
                data.unlink(missing_ok=True)
