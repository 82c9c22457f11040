"""An S3-compatible server on loopback for the S3 storage backend's tests.

No S3 server (MinIO, Ceph) installs from PyPI or Debian here; moto's standalone server does: it
speaks the S3 API over real HTTP, so boto3, signing, errors and retries are exercised as against a
real service. `s3_settings` points this process's settings at a fresh bucket.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from registry.config import get_settings
from tests.ports import free_port

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "registry-test",
    "AWS_SECRET_ACCESS_KEY": "registry-test-secret",
    "AWS_DEFAULT_REGION": "eu-west-2",
}


@dataclass(frozen=True)
class S3:
    endpoint: str
    bucket: str
    client: Any

    @property
    def env(self) -> dict[str, str]:
        return {
            **CREDENTIALS,
            "REGISTRY_STORAGE_URL": f"s3://{self.bucket}/registry",
            "REGISTRY_S3_ENDPOINT_URL": self.endpoint,
        }

    def keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.bucket)
        return sorted(o["Key"] for o in listed.get("Contents", []))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    """A fresh bucket, and this process's settings pointing at it."""
    from registry.media.storage import s3_client

    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    client = s3_client(endpoint_url=s3_endpoint, region=CREDENTIALS["AWS_DEFAULT_REGION"])
    bucket = f"registry-{uuid.uuid4().hex[:10]}"
    client.create_bucket(
        Bucket=bucket,
        CreateBucketConfiguration={"LocationConstraint": CREDENTIALS["AWS_DEFAULT_REGION"]},
    )
    store = S3(s3_endpoint, bucket, client)
    for key, value in store.env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield store
    monkeypatch.undo()
    get_settings.cache_clear()
