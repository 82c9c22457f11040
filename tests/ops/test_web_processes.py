"""`registry serve --workers N` without a broker: N web processes, one clearance pool among them,
one sender process for mail; every one of them ends with the serve, even on kill -9."""

from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path

import httpx
from PIL import Image

from tests.live import Live, live_server, new_event


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid:
            child = int(entry.name)
            found |= {child} | _descendants(child)
    return found


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _photo(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (shade, 120, 200 - shade)).save(out, "PNG")
    return out.getvalue()


def _final(live: Live, media_ids: list[str], seconds: float = 120) -> dict[str, str]:
    deadline = time.monotonic() + seconds
    with live.client("comms") as staff:
        while True:
            statuses = {i: staff.get(f"/api/media/{i}").json()["status"] for i in media_ids}
            if not {"pending", "processing"} & set(statuses.values()):
                return statuses
            assert time.monotonic() < deadline, statuses
            time.sleep(0.5)


def test_two_web_processes_share_one_pool_and_one_sender_and_end_with_the_serve(
    tmp_path: Path,
) -> None:
    with live_server(tmp_path, "two", mail=True, workers=2) as live:
        assert live.inbox is not None
        tree = _descendants(live.process.pid)
        commands = {pid: _command(pid) for pid in tree}
        senders = [p for p, c in commands.items() if "registry sender" in c]
        assert len(senders) == 1, commands
        with live.client("comms") as staff:
            event = new_event(staff)
        # Bookings on fresh connections, so both web processes take some: each is confirmed
        # once, by the sender (a web process composes no mail when the sender listens).
        addresses = [f"attendee{i}@example.org" for i in range(12)]
        for address in addresses:
            with live.client("comms") as staff:
                answer = staff.post(
                    f"/api/events/{event['id']}/bookings", json={"name": "A", "email": address}
                )
                assert answer.status_code == 201, answer.text
        for address in addresses:
            assert len(live.inbox.settled(address, at_least=1, quiet=0.5)) == 1, address
        # Photos uploaded through either process are cleared by the one pool.
        media_ids: list[str] = []
        for shade in range(6):
            with live.client("comms") as staff:
                answer = staff.post(
                    "/api/media",
                    data={"event_id": event["id"]},
                    files={"files": (f"p{shade}.png", _photo(shade * 20), "image/png")},
                )
                assert answer.status_code == 202, answer.text
                media_ids += [m["id"] for m in answer.json()]
        assert set(_final(live, media_ids).values()) == {"cleared"}
        # One pool for the machine: the lock is held by exactly one web process.
        assert (tmp_path / "run" / "pool.sock").exists()
        tree = _descendants(live.process.pid)
        # Killed outright, the serve takes every process it started with it.
        os.kill(live.process.pid, signal.SIGKILL)
        live.process.wait()
        deadline = time.monotonic() + 20
        while _alive(tree) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(tree), {pid: _command(pid) for pid in _alive(tree)}
        try:
            httpx.get(f"{live.url}/healthz", timeout=2)
        except httpx.TransportError:
            pass
        else:
            raise AssertionError("a web process still answers after its serve was killed")
