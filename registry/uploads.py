"""Reading uploaded files with the configured size limit (shared by API routes and pages)."""

from __future__ import annotations

from fastapi import UploadFile

from registry.config import get_settings
from registry.errors import TooLarge


def read_upload(file: UploadFile) -> bytes:
    """The uploaded bytes, refusing more than the configured limit without reading it all."""
    limit_mb = get_settings().max_upload_mb
    data = file.file.read(limit_mb * 1_000_000 + 1)
    if len(data) > limit_mb * 1_000_000:
        raise TooLarge(f"The file is larger than {limit_mb} MB.", field="file")
    return data


def read_capped(file: UploadFile) -> bytes:
    """At most one byte past the limit: enough for the caller to report the file as too large
    (per file, without failing the rest of a batch) and never more in memory."""
    return file.file.read(get_settings().max_upload_mb * 1_000_000 + 1)
