"""Face detection a request needs an answer to at once: finding the face in an attendee's
reference selfie, and checking a redacted copy before it is called verified.

Embedded (no broker): it runs here, as before — a redacted video's check on the web app's worker
processes, its time ranges shared between them. With a broker it runs on workers, on a queue
workers serve ahead of clearance jobs, and the request waits for the answer (the web process never
loads the face models). Both the photo and the answer travel sealed with the biometric key
(`broker.seal`), and the answer is deleted from Redis once read; a video travels by its storage
key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from registry.config import get_settings
from registry.dispatch import broker
from registry.vision import analysis, faces, images, qr, video_tracks

# --- on the wire -------------------------------------------------------------------------------


def _box(value: Any) -> faces.Box:
    top, right, bottom, left = (int(v) for v in value)
    return (top, right, bottom, left)


def faces_to_json(found: list[faces.Face]) -> list[dict[str, Any]]:
    return [{"box": list(f.box), "encoding": f.encoding.tolist()} for f in found]


def faces_from_json(value: list[dict[str, Any]]) -> list[faces.Face]:
    return [
        faces.Face(box=_box(f["box"]), encoding=np.asarray(f["encoding"], dtype=np.float64))
        for f in value
    ]


def analysis_to_json(result: analysis.Analysis) -> dict[str, Any]:
    return {
        "width": result.width,
        "height": result.height,
        "min_face_px": result.min_face_px,
        "faces": [
            {
                "box": list(f.box),
                "encoding": None if f.encoding is None else f.encoding.tolist(),
                "score": f.score,
                "caution": f.caution,
            }
            for f in result.faces
        ],
        "codes": [{"text": c.text, "box": list(c.box)} for c in result.codes],
        "stages": result.stages,
    }


def analysis_from_json(value: dict[str, Any]) -> analysis.Analysis:
    return analysis.Analysis(
        width=int(value["width"]),
        height=int(value["height"]),
        min_face_px=int(value["min_face_px"]),
        faces=[
            analysis.DetectedFace(
                box=_box(f["box"]),
                encoding=None
                if f["encoding"] is None
                else np.asarray(f["encoding"], dtype=np.float64),
                score=f.get("score"),
                caution=f.get("caution"),
            )
            for f in value["faces"]
        ],
        codes=[qr.QrSighting(text=str(c["text"]), box=_box(c["box"])) for c in value["codes"]],
        stages={str(k): float(v) for k, v in value.get("stages", {}).items()},
    )


# --- the tasks (run on a worker) ---------------------------------------------------------------


def reference_faces_task(sealed: str, label: str, deadline: float) -> str | None:
    data = broker.open_job(sealed, label, deadline)
    if data is None:
        return None  # the caller stopped waiting: nothing computed, nothing kept
    image = images.decode(data).image
    return broker.seal_answer(faces_to_json(faces.find_reference_faces(image)), label)


# Opens a stored rendition by its key as a local file (the storage backend's `local_copy`).
OpenCopy = Callable[[str], AbstractContextManager[Path]]


def scan_task(sealed: str, label: str, deadline: float, open_copy: OpenCopy) -> str | None:
    data = broker.open_job(sealed, label, deadline)
    if data is None:
        return None
    job = json.loads(data)
    with open_copy(job["key"]) as path:
        found = video_tracks.scan(path, [tuple(r) for r in job["ranges"]], sample_fps=job["fps"])
    return broker.seal_answer([[t, analysis_to_json(a)] for t, a in found], label)


def analyse_task(sealed: str, label: str, deadline: float) -> str | None:
    data = broker.open_job(sealed, label, deadline)
    if data is None:
        return None
    return broker.seal_answer(analysis_to_json(analysis.analyse(data)), label)


# --- what callers use --------------------------------------------------------------------------


def reference_faces(data: bytes, image: Any | None = None) -> list[faces.Face]:
    """The faces in a reference photo (`image`: the already decoded `data`, if at hand)."""
    if get_settings().broker_url:
        return faces_from_json(broker.call(broker.REFERENCE_FACES, data))
    return faces.find_reference_faces(image if image is not None else images.decode(data).image)


def analyse(data: bytes) -> analysis.Analysis:
    """Faces and badges in an encoded image (e.g. a redacted copy being verified)."""
    if get_settings().broker_url:
        return analysis_from_json(broker.call(broker.ANALYSE, data))
    return analysis.analyse(data)


# A process pool's `submit` (the web app's worker processes, models loaded), when it runs one.
Submit = Callable[..., "Future[Any]"]
_processes: tuple[Submit, int] | None = None


def use_processes(submit: Submit | None, count: int = 0) -> None:
    """Let checks run on these processes (the embedded pool, set by the web app while it runs)."""
    global _processes
    _processes = (submit, count) if submit is not None and count > 1 else None


Ranges = Sequence[tuple[float, float]]
MIN_SHARE_S = 4.0  # a part of a check shorter than this is not worth its own process


def split(ranges: Ranges, parts: int) -> list[list[tuple[float, float]]]:
    """Time ranges (merged where they overlap) cut into up to `parts` lists of about equal
    length, in time order."""
    merged: list[list[float]] = []
    for a, b in sorted(ranges):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    total = sum(b - a for a, b in merged)
    parts = max(1, min(parts, int(total // MIN_SHARE_S)))
    share = total / parts
    out: list[list[tuple[float, float]]] = [[]]
    room = share
    for a, b in merged:
        while b - a > room + 1e-9 and len(out) < parts:
            out[-1].append((a, a + room))
            a += room
            out.append([])
            room = share
        out[-1].append((a, b))
        room -= b - a
    return [chunk for chunk in out if chunk]


def scan_video(
    path: Path, key: str, ranges: Ranges, *, sample_fps: float
) -> list[tuple[float, analysis.Analysis]]:
    """Faces and codes on the frames of a stored rendition (`key`, a local copy at `path`)
    inside `ranges`: with a broker on workers (the ranges shared between them), embedded on the
    web app's worker processes, else here."""
    if not ranges:
        return []
    settings = get_settings()
    if settings.broker_url:
        chunks = split(ranges, settings.video_parallel)
        jobs = [
            json.dumps({"key": key, "ranges": chunk, "fps": sample_fps}).encode()
            for chunk in chunks
        ]
        longest = max(sum(b - a for a, b in chunk) for chunk in chunks)
        answers = broker.call_many(broker.SCAN, jobs, wait=60.0 + 4.0 * longest)
        found = [(float(t), analysis_from_json(a)) for answer in answers for t, a in answer]
    elif _processes is not None:
        submit, count = _processes
        futures = [
            submit(video_tracks.scan, path, chunk, sample_fps=sample_fps)
            for chunk in split(ranges, count)
        ]
        found = [pair for future in futures for pair in future.result()]
    else:
        found = video_tracks.scan(path, ranges, sample_fps=sample_fps)
    return sorted(found, key=lambda pair: pair[0])


def scan_here(
    path: Path, key: str, ranges: Ranges, *, sample_fps: float
) -> list[tuple[float, analysis.Analysis]]:
    """`scan_video` in this process: a Celery task's check (a task never waits on other tasks:
    with every worker slot busy that would never end; the worker has the models loaded)."""
    return sorted(video_tracks.scan(path, ranges, sample_fps=sample_fps), key=lambda pair: pair[0])
