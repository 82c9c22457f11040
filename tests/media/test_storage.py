"""Both storage backends keep the same contract; the S3 one runs against a real S3-API server."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.actors import SYSTEM
from registry.events.models import Event
from registry.media import service
from registry.media.models import MediaStatus
from registry.media.storage import LocalStorage, S3Storage, Storage, get_storage, sha256_of
from tests.media.samples import png
from tests.s3 import S3
from tests.video import Walker, compose_clip


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path)
    s3: S3 = request.getfixturevalue("s3")
    return S3Storage(s3.client, s3.bucket, "prefix/")


def test_the_storage_contract(storage: Storage) -> None:
    data = b"some bytes" * 1000
    key = storage.put(data)
    assert key == sha256_of(data)
    assert storage.exists(key)
    assert storage.get(key) == data
    assert storage.put(data) == key  # the same content again: the same key, nothing rewritten
    assert not storage.exists(key, kind="renditions")
    storage.put(data, kind="renditions")
    assert storage.get(key, kind="renditions") == data
    storage.delete(key)
    assert not storage.exists(key)
    with pytest.raises(FileNotFoundError):
        storage.get(key)
    storage.delete(key)  # deleting what is gone is not an error
    missing = sha256_of(b"never stored")
    with pytest.raises(FileNotFoundError):
        storage.get(missing, kind="thumbs")


def test_files_go_in_and_out_without_being_read_whole(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(b"frame" * 600_000)  # 3 MB: more than one block (and one S3 part)
    key = storage.put_file(source)
    assert key == sha256_of(source.read_bytes())
    assert storage.get(key) == source.read_bytes()
    with storage.local_copy(key) as copy:
        assert copy.read_bytes() == source.read_bytes()
    assert storage.put_file(source) == key
    with pytest.raises(FileNotFoundError), storage.local_copy(sha256_of(b"absent")):
        pass


def test_named_records_list_in_order_and_refuse_odd_names(storage: Storage) -> None:
    assert storage.list_records("audit-checkpoints/") == []
    for name in ("20261122T0900Z-2.jwt", "20261122T0800Z-1.jwt", "20261122T1000Z-3.jwt"):
        storage.put_record(f"audit-checkpoints/{name}", name.encode())
    storage.put_record("other/x.jwt", b"x")
    assert storage.list_records("audit-checkpoints/") == [
        "audit-checkpoints/20261122T0800Z-1.jwt",
        "audit-checkpoints/20261122T0900Z-2.jwt",
        "audit-checkpoints/20261122T1000Z-3.jwt",
    ]
    assert storage.get_record("audit-checkpoints/20261122T1000Z-3.jwt") == b"20261122T1000Z-3.jwt"
    for odd in ("../x", "audit-checkpoints/../../x", "noslash", "a/b/c"):
        with pytest.raises(ValueError, match="record name"):
            storage.put_record(odd, b"x")


@pytest.mark.parametrize("key", ["../../etc/passwd", "A" * 64, "ab", ""])
def test_odd_keys_and_kinds_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError, match="sha256"):
        storage.get(key)
    with pytest.raises(ValueError, match="kind"):
        storage.get(sha256_of(b"x"), kind="../originals")


def test_s3_uses_the_local_layout_under_its_prefix(s3: S3) -> None:
    store = get_storage()
    assert isinstance(store, S3Storage)
    key = store.put(b"photo")
    assert s3.keys() == [f"registry/originals/{key[:2]}/{key[2:4]}/{key}"]


def test_upload_clearance_and_renditions_through_s3(
    s3: S3,
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    session: Session,
    run_job: Callable[[uuid.UUID], MediaStatus | None],
) -> None:
    event = make_event()
    response = client.post(
        "/api/media",
        files=[("files", ("a.png", png((3, 2, 1)), "image/png"))],
        data={"event_id": str(event.id)},
        headers=comms_headers,
    )
    assert response.status_code == 202, response.text
    media_id = uuid.UUID(response.json()[0]["id"])
    assert any(k.startswith("registry/originals/") for k in s3.keys())
    assert run_job(media_id) == MediaStatus.cleared  # the job read the photo from the bucket
    made = client.post(f"/api/media/{media_id}/redact", headers=comms_headers)
    assert made.status_code == 201, made.text
    assert any(k.startswith("registry/renditions/") for k in s3.keys())
    download = client.get(made.json()["url"], headers=comms_headers)
    assert download.status_code == 200
    assert download.content.startswith(b"\xff\xd8")
    media = service.get_media(session=session, media_id=media_id)
    assert media.status == MediaStatus.cleared


def test_a_file_missing_from_the_bucket_fails_the_photo_with_a_reason(
    s3: S3,
    session: Session,
    make_event: Callable[..., Event],
    run_job: Callable[[uuid.UUID], MediaStatus | None],
) -> None:
    [(media, _)] = service.upload(
        session=session,
        actor=SYSTEM,
        files=[service.Upload("b.png", png((8, 8, 8)))],
        event=make_event(),
    )
    get_storage().delete(media.sha256)
    assert run_job(media.id) == MediaStatus.failed
    assert media.failure == "The file is missing."


def test_a_video_through_s3_is_streamed_cleared_and_redacted(
    s3: S3,
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    run_job: Callable[[uuid.UUID], MediaStatus | None],
    faces_dir: Path,
    redact_video: Callable[..., dict[str, Any]],
) -> None:
    portrait = sorted((faces_dir / "people" / "joe_biden").glob("*.jpg"))[0].read_bytes()
    clip = compose_clip([Walker(portrait, (100, 20), (140, 20), 0.0, 2.0, height=300)], seconds=2)
    before = set(Path(tempfile.gettempdir()).glob("registry-upload-*"))
    response = client.post(
        "/api/media",
        files=[("files", ("clip.mp4", clip, "video/mp4"))],
        data={"event_id": str(make_event().id)},
        headers=comms_headers,
    )
    assert response.status_code == 202, response.text
    assert set(Path(tempfile.gettempdir()).glob("registry-upload-*")) == before  # cleaned up
    media_id = uuid.UUID(response.json()[0]["id"])
    assert run_job(media_id) == MediaStatus.cleared  # read from the bucket into a local file
    made = redact_video(client, comms_headers, media_id)
    assert not any(k.startswith("registry/parts/") for k in s3.keys())  # joined, then deleted
    download = client.get(made["url"], headers=comms_headers)
    assert download.headers["content-type"] == "video/mp4"
    assert download.content[4:8] == b"ftyp"


def test_walk_lists_every_stored_file_once(storage: Storage) -> None:
    """What backups and `registry check` read: every file of every kind, and the records."""
    photo, copy = b"a photo" * 100, b"a redacted copy" * 100
    storage.put(photo)
    storage.put(photo, kind="thumbs", key=sha256_of(photo))
    storage.put(copy, kind="renditions")
    storage.put_record("audit-checkpoints/20261204T1000Z-9.jwt", b"signed")
    assert sorted(storage.walk()) == sorted(
        [
            ("originals", sha256_of(photo)),
            ("thumbs", sha256_of(photo)),
            ("renditions", sha256_of(copy)),
            ("records", "audit-checkpoints/20261204T1000Z-9.jwt"),
        ]
    )
