"""Face detection a request needs an answer to at once: finding the face in an attendee's
reference selfie, and checking a redacted copy before it is called verified.

Embedded (no broker): it runs here, as before. With a broker it runs on a worker, on a queue
workers serve ahead of clearance jobs, and the request waits for the answer (the web process never
loads the face models). Both the photo and the answer travel sealed with the biometric key
(`broker.seal`), and the answer is deleted from Redis once read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from registry.config import get_settings
from registry.vision import analysis, faces, images, qr
from registry.worker import broker

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
            }
            for f in result.faces
        ],
        "codes": [{"text": c.text, "box": list(c.box)} for c in result.codes],
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
            )
            for f in value["faces"]
        ],
        codes=[qr.QrSighting(text=str(c["text"]), box=_box(c["box"])) for c in value["codes"]],
    )


# --- the tasks (run on a worker) ---------------------------------------------------------------


def reference_faces_task(sealed: str, label: str, deadline: float) -> str | None:
    data = broker.open_job(sealed, label, deadline)
    if data is None:
        return None  # the caller stopped waiting: nothing computed, nothing kept
    image = images.decode(data).image
    return broker.seal_answer(faces_to_json(faces.find_reference_faces(image)), label)


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
