"""Issue 34, item 1: a caption check takes time in proportion to the caption, whatever it holds.

Against a real `registry serve` over HTTP: captions of 5,000 characters built to make a
backtracking matcher try every split (a label then thousands of spaces, the configured
hospital-number pattern included) each answer in under a second, a batch of twenty in under five,
and `/healthz` answers while they run. The configured pattern is compiled by RE2: one it cannot
run in linear time is a settings error, not a slow server."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from pydantic import ValidationError

from registry.config import Settings
from tests.live import Live, live_server, new_event

DEFAULT_PATTERN = str(Settings.model_fields["caption_hospital_number_pattern"].default)
# A trust's own format written as a naive regex would be: exponential in a backtracking
# matcher on a run of "x"s, linear in RE2.
EVIL_PATTERN = DEFAULT_PATTERN + r"|(?:x+x+)+y"

# (what it aims at, the caption): each exactly 5,000 characters.
ATTACKS = [
    ("date-of-birth label", "dob" + " " * 4996 + "x"),
    ("date-of-birth words", "date of birth" + " " * 4986 + "x"),
    ("hospital-number label", "MRN" + " " * 4996 + "x"),
    ("hospital-number words", "hospital number" + " " * 4984 + "x"),
    ("born on", "born on" + " " * 4992 + "x"),
    ("the configured pattern", "x" * 5000),
]
# Text that is slow for other reasons (many candidates, many findings), for the batches.
MORE = [
    ("email local part", "a." * 2499 + "a@"),
    ("spaced digits", "1 " * 2500),
    ("phone numbers side by side", ("07911 123456 " * 385)[:5000]),
    ("hidden letters", ("P\u200br\u00adi&#121;a S\u0301h\u0430h " * 200)[:5000]),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(
        tmp_path_factory.mktemp("captions"),
        "captions",
        mail=False,
        REGISTRY_CAPTION_HOSPITAL_NUMBER_PATTERN=EVIL_PATTERN,
    ) as live:
        yield live


@pytest.fixture(scope="module")
def media_id(server: Live, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A photo of an empty room, analysed (so no clearance work runs beside the timings)."""
    photo = tmp_path_factory.mktemp("photo") / "room.jpg"
    Image.new("RGB", (320, 240), (120, 140, 160)).save(photo, format="JPEG")
    with server.client("comms") as api:
        event = new_event(api, channels=["internal"])
        [uploaded] = api.post(
            "/api/media",
            files={"files": ("room.jpg", photo.read_bytes(), "image/jpeg")},
            data={"event_id": event["id"]},
        ).json()
        deadline = time.monotonic() + 120
        while api.get(f"/api/media/{uploaded['id']}").json()["status"] == "pending":
            assert time.monotonic() < deadline, "the photo was never analysed"
            time.sleep(0.3)
    return str(uploaded["id"])


@pytest.mark.parametrize(("aim", "caption"), ATTACKS, ids=[a for a, _ in ATTACKS])
def test_a_caption_built_to_backtrack_answers_within_a_second(
    server: Live, media_id: str, aim: str, caption: str
) -> None:
    with server.client("comms") as api:
        api.timeout = httpx.Timeout(20)
        started = time.perf_counter()
        answer = api.get(
            f"/api/media/{media_id}/publishable",
            params={"channel": "internal", "caption": caption},
        )
        took = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    assert took < 1.0, f"{aim}: {took:.2f} s"


def test_a_batch_of_twenty_answers_within_five_seconds_and_healthz_meanwhile(
    server: Live, media_id: str
) -> None:
    # Twenty different captions (nothing is answered twice from a cache).
    items = [
        {
            "media_id": media_id,
            "channel": "internal",
            "caption": attack[:-3] + f"{n:03d}",
        }
        for n, (_, attack) in zip(range(20), itertools.cycle(ATTACKS + MORE), strict=False)
    ]
    result: dict[str, object] = {}

    def batch() -> None:
        with server.client("comms") as api:
            api.timeout = httpx.Timeout(60)
            started = time.perf_counter()
            try:
                answer = api.post("/api/publishable", json={"items": items})
                result["status"] = answer.status_code
                result["allowed"] = [i["allowed"] for i in answer.json()["items"]]
            except httpx.HTTPError as exc:
                result["error"] = repr(exc)
            result["took"] = time.perf_counter() - started

    worker = threading.Thread(target=batch)
    health: list[float] = []
    missed = 0
    with httpx.Client(base_url=server.url, timeout=1.0) as probe:
        worker.start()
        time.sleep(0.05)
        while worker.is_alive() and len(health) + missed < 200:
            started = time.perf_counter()
            try:
                assert probe.get("/healthz").status_code == 200
                health.append(time.perf_counter() - started)
            except httpx.TimeoutException:
                missed += 1
            time.sleep(0.05)
        worker.join(timeout=60)
    assert "error" not in result, result
    assert result["status"] == 200, result
    assert result["took"] < 5.0, result  # type: ignore[operator]
    assert missed == 0, f"/healthz went unanswered {missed} times while the batch ran"
    assert health, "/healthz was never asked while the batch ran"
    assert max(health) < 1.0, health


def test_a_full_batch_of_long_different_captions_is_bounded(server: Live, media_id: str) -> None:
    """1,000 items of 5,000 characters each: refused as too much text for one request, and
    quickly; never a server held for minutes."""
    items = [
        {
            "media_id": media_id,
            "channel": "internal",
            "caption": attack[:-5] + f"{n:04d}" + attack[-1],
        }
        for n, (_, attack) in zip(range(1000), itertools.cycle(ATTACKS + MORE), strict=False)
    ]
    with server.client("comms") as api:
        api.timeout = httpx.Timeout(60)
        started = time.perf_counter()
        answer = api.post("/api/publishable", json={"items": items})
        took = time.perf_counter() - started
    # 1,000 different captions are ten times the text one request may have read.
    assert answer.status_code == 422, answer.text[:500]
    assert "captions of one request" in answer.text, answer.text[:500]
    assert took < 10.0, f"{took:.1f} s"


@pytest.mark.parametrize(
    "pattern",
    [r"(?<=MRN )\d{7}", r"MRN (\d)\1{6}", r"MRN \d{7}(?!\d)"],
    ids=["look-behind", "back-reference", "look-ahead"],
)
def test_a_hospital_pattern_that_cannot_run_in_linear_time_is_a_settings_error(
    pattern: str, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="RE2") as refused:
        Settings(var_dir=tmp_path, caption_hospital_number_pattern=pattern)
    assert "caption_hospital_number_pattern" in str(refused.value)
