"""What a command checks before its work: valid settings, a migrated database, a storage
bucket. Each failure is one line for the operator, not a traceback."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import OperationalError

from registry import migrations
from registry.cli.console import err, fail
from registry.config import ConfigError, Settings, get_settings
from registry.db import DatabaseUnavailable, check_reachable, redact_url
from registry.media.storage import S3Storage, get_storage


def load_settings() -> Settings:
    """The settings, with the secret key resolved now, so a bad one fails before any work."""
    try:
        settings = get_settings()
        settings.resolved_secret_key()
    except ConfigError as exc:
        fail(str(exc))
    except ValueError as exc:  # pydantic's ValidationError
        fail(f"invalid settings: {exc}")
    return settings


def bucket_ready(settings: Settings) -> None:
    """With S3 storage, the bucket exists (made on a fresh deployment's first start)."""
    storage = get_storage()
    if isinstance(storage, S3Storage):
        try:
            if storage.ensure_bucket(settings.s3_region):
                err.print(f"created the bucket {storage.bucket}")
        except Exception as exc:  # noqa: BLE001 - any failure: one clear line, then exit
            fail(f"the storage bucket cannot be reached or made: {exc}")


def migrate_or_fail(settings: Settings) -> None:
    """Bring the database to head, or say in one line why it cannot be reached or migrated."""
    try:
        check_reachable()
        migrations.upgrade(settings.database_url)
    except DatabaseUnavailable as exc:
        fail(str(exc))
    except OperationalError as exc:
        fail(f"migration failed on {redact_url(settings.database_url)}: {exc.orig}")


def event_id(value: str) -> uuid.UUID:
    """An event id from the command line, or a clear refusal."""
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"not an event id: {value}")
