"""Issue 34, item 3: one rejected file failed every job running beside it. `ImageRejected`
could not be unpickled in the pool's parent, which broke the process pool: four good photos
uploaded with one bad file all ended "Analysis failed (BrokenProcessPool)". Every exception the
registry defines pickles whole (a test per type, through a real process boundary), and an upload
of good and bad files clears the good ones and fails the bad ones with their own reasons (a real
server, its real embedded pool)."""

from __future__ import annotations

import importlib
import inspect
import io
import pickle
import pkgutil
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
from PIL import Image

import registry
from registry import errors
from registry.publishing.service import Refused
from registry.vision.images import ImageRejected
from tests.live import Live, new_event
from tests.video import dense_clip

# Page-only errors carry the page's loader (a function): they never leave the web process.
PAGE_ONLY = {errors.FormError, errors.RedirectWith}


def _registry_exceptions() -> list[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for module in pkgutil.walk_packages(registry.__path__, "registry."):
        if module.name.endswith(("__main__", ".launch", ".cli")):
            continue
        try:
            loaded = importlib.import_module(module.name)
        except Exception:  # noqa: S112 - an optional backend's module; its errors are not ours
            continue
        for _, value in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("registry."):
                found.add(value)
    return sorted(found - PAGE_ONLY, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _example(cls: type[BaseException]) -> BaseException:
    """An instance with every constructor argument given (keywords included)."""
    if issubclass(cls, errors.RateLimited):
        return cls("Try again later.", retry_after=42, field="email")
    if issubclass(cls, errors.RegistryError) and cls.__init__ is errors.RegistryError.__init__:
        return cls("Something is wrong with the input.", status_code=422, field="name")
    if cls is Refused:
        return cls(["It shows people who opted out.", "A consent was withdrawn."])
    if cls is ImageRejected:
        return cls("The file is damaged.", "corrupt")
    parameters = [
        p
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    return cls(*[f"value of {p.name}" for p in parameters if p.default is p.empty])


def _round_trip(error: BaseException) -> BaseException:
    """What a worker process's raise becomes in its parent."""
    raised: BaseException = pickle.loads(pickle.dumps(error))
    return raised


def _raise_in_worker(error: BaseException) -> None:
    raise error


@pytest.mark.parametrize("cls", _registry_exceptions(), ids=lambda c: c.__qualname__)
def test_every_registry_error_pickles_whole(cls: type[BaseException]) -> None:
    error = _example(cls)
    again = _round_trip(error)
    assert type(again) is cls
    assert str(again) == str(error)
    assert vars(again) == vars(error)


def test_an_image_rejected_in_a_worker_reaches_the_parent_with_its_reason() -> None:
    with ProcessPoolExecutor(max_workers=1) as pool:
        future = pool.submit(_raise_in_worker, ImageRejected("The file is damaged.", "corrupt"))
        with pytest.raises(ImageRejected) as caught:
            future.result(timeout=60)
        assert caught.value.reason == "corrupt"
        # The pool still works: the next job is not failed with it.
        assert pool.submit(pow, 2, 5).result(timeout=60) == 32


def _jpeg(seed: int) -> bytes:
    image = Image.new("RGB", (640, 480), (seed * 40 % 255, 120, 200 - seed * 30 % 200))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def test_good_files_beside_bad_ones_clear_and_the_bad_ones_fail_with_their_reasons(
    live: Live,
) -> None:
    good = [(f"good-{n}.jpg", _jpeg(n), "image/jpeg") for n in range(3)]
    truncated = ("truncated.jpg", _jpeg(7)[:600], "image/jpeg")
    lying = ("lying.mp4", dense_clip(), "video/mp4")  # 1000 frames a second: refused
    with live.client("comms") as staff:
        event = new_event(staff, name="Mixed upload day")
        answer = staff.post(
            "/api/media",
            files=[("files", f) for f in (*good, truncated, lying)],
            data={"event_id": event["id"]},
        )
        assert answer.status_code == 202, answer.text
        ids = [m["id"] for m in answer.json()]
        deadline = time.monotonic() + 240
        while True:
            media: list[dict[str, Any]] = [staff.get(f"/api/media/{i}").json() for i in ids]
            if not {"pending", "processing"} & {m["status"] for m in media}:
                break
            assert time.monotonic() < deadline, [m["status"] for m in media]
            time.sleep(0.5)
    statuses = [m["status"] for m in media]
    assert statuses[:3] == ["cleared"] * 3, media[:3]
    assert statuses[3:] == ["failed", "failed"], media[3:]
    for bad in media[3:]:
        why = " ".join([*bad["reasons"], bad.get("failure") or ""])
        assert "BrokenProcessPool" not in why
        assert why.strip(), bad
    assert "image" in media[3]["failure"], media[3]
    assert "240" in media[4]["failure"], media[4]
