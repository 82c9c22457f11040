"""Reading uploaded files with the configured size limit (shared by API routes and pages)."""

from __future__ import annotations

from fastapi import UploadFile

from registry.config import get_settings
from registry.errors import TooLarge
from registry.vision.video import is_video


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


def read_capped(file: UploadFile) -> bytes:
    """At most one byte past the limit (a video's, if it is one): enough for the caller to report
    the file as too large (per file, without failing the rest of a batch) and never more."""
    head = file.file.read(16)
    return head + file.file.read(media_limit(head) + 1 - len(head))
