"""dlib's face-recognition ResNet, run by OpenCV's DNN module: the same 128-d descriptors as
`dlib.face_recognition_model_v1`, about ten times faster on a CPU.

The dlib wheel we can install is built without BLAS, so its network computes convolutions with
plain loops (~70-200 ms a face here). This module reads the very same weights from the model file
face_recognition_models ships (dlib's serialisation: layer names, small integers, and tensors of
raw little-endian float32), writes the network as an ONNX graph (a few protocol-buffer messages,
encoded here, so no extra dependency), and hands it to ONNX Runtime (or `cv2.dnn`), whose
convolutions use the CPU's vector units. The descriptors match dlib's to about 1e-6 (tests
compare them on real faces), so stored encodings, thresholds and reference photos are
unchanged.

Architecture (dlib's dnn_face_recognition_ex.cpp): a 7x7/2 convolution, 3x3/2 max pooling, then
residual blocks of two 3x3 convolutions each (32, 64, 128 and 256 filters; the first block of
each width halves the size, its shortcut an average pooling added with zero padding where the
shapes differ), global average pooling and a 256->128 fully connected layer. Each convolution is
followed by an affine (frozen batch-norm) layer, folded into its weights here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

LAYER_NAMES = re.compile(
    rb"\x01([\x04-\x16])(con_4|affine_|relu_|max_pool_2|avg_pool_2|add_prev_|fc_2|"
    rb"input_rgb_image_sized)"
)


class _Reader:
    """dlib's serialisation: integers as a control byte (length, sign) then little-endian bytes;
    floats as an integer mantissa and exponent; tensors (version 2) as shape then raw float32."""

    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def integer(self) -> int:
        control = self.data[self.pos]
        size = control & 0x0F
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if control & 0x80 else value

    def string(self) -> str:
        size = self.integer()
        text = self.data[self.pos : self.pos + size].decode()
        self.pos += size
        return text

    def real(self) -> float:
        mantissa = self.integer()
        return float(mantissa * 2.0 ** self.integer())

    def tensor(self) -> np.ndarray:
        if self.integer() != 2:
            raise ValueError("unsupported dlib tensor version")
        shape = [self.integer() for _ in range(4)]
        count = int(np.prod(shape))
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos).copy()
        self.pos += 4 * count
        return values


@dataclass
class _Layer:
    kind: str
    weights: np.ndarray | None = None
    bias: np.ndarray | None = None
    stride: int = 1
    pad: int = 0
    window: int = 0


def read_layers(data: bytes) -> tuple[np.ndarray, list[_Layer]]:
    """The input's channel means and the layers, from the input up (affines folded in)."""
    means = np.zeros(3, np.float32)
    layers: list[_Layer] = []
    for match in LAYER_NAMES.finditer(data):
        if match.group(1)[0] != len(match.group(2)):
            continue
        reader = _Reader(data, match.start())
        kind = reader.string()
        if kind == "input_rgb_image_sized":
            means = np.array([reader.real() for _ in range(3)], np.float32)
        elif kind == "con_4":
            params = reader.tensor()
            filters, rows, cols, stride, _sx, pad, _px = (reader.integer() for _ in range(7))
            inputs = (params.size - filters) // (filters * rows * cols)
            split = filters * inputs * rows * cols
            layers.append(
                _Layer(
                    "conv",
                    params[:split].reshape(filters, inputs, rows, cols),
                    params[split:],
                    stride,
                    pad,
                )
            )
        elif kind == "affine_":
            params = reader.tensor()
            gamma, beta = params[: params.size // 2], params[params.size // 2 :]
            conv = layers[-1]
            if conv.kind != "conv" or conv.weights is None or conv.bias is None:
                raise ValueError("an affine layer that does not follow a convolution")
            conv.weights = conv.weights * gamma[:, None, None, None]
            conv.bias = conv.bias * gamma + beta
        elif kind == "relu_":
            layers.append(_Layer("relu"))
        elif kind in ("max_pool_2", "avg_pool_2"):
            window, _nc, stride, _sx, pad, _px = (reader.integer() for _ in range(6))
            layers.append(_Layer(kind[:3], stride=stride, pad=pad, window=window))
        elif kind == "add_prev_":
            layers.append(_Layer("add"))
        elif kind == "fc_2":
            outputs, inputs = reader.integer(), reader.integer()
            layers.append(_Layer("fc", reader.tensor().reshape(inputs, outputs)))
    return means, layers


# --- a minimal ONNX writer (protocol buffers: varints and length-delimited fields) ----------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _text(number: int, text: str) -> bytes:
    return _field(number, text.encode())


def _ints_attribute(name: str, values: list[int]) -> bytes:
    # AttributeProto: name=1, ints=8 (repeated int64), type=20 (INTS=7)
    body = _text(1, name) + b"".join(_int_field(8, v) for v in values) + _int_field(20, 7)
    return body


def _node(op: str, inputs: list[str], outputs: list[str], **attributes: list[int]) -> bytes:
    # NodeProto: input=1, output=2, op_type=4, attribute=5
    body = b"".join(_text(1, i) for i in inputs) + b"".join(_text(2, o) for o in outputs)
    body += _text(4, op)
    body += b"".join(_field(5, _ints_attribute(k, v)) for k, v in attributes.items())
    return body


def _initializer(name: str, array: np.ndarray) -> bytes:
    # TensorProto: dims=1, data_type=2 (FLOAT=1, INT64=7), name=8, raw_data=9
    kind = 7 if array.dtype == np.int64 else 1
    raw = array.astype("<i8" if kind == 7 else "<f4").tobytes()
    dims = b"".join(_int_field(1, d) for d in array.shape)
    return dims + _int_field(2, kind) + _text(8, name) + _field(9, raw)


def _value_info(name: str, dims: list[int | str]) -> bytes:
    # ValueInfoProto{name=1, type=2{tensor_type=1{elem_type=1, shape=2{dim=1{value=1|param=2}}}}}
    shape = b"".join(
        _field(1, _text(2, d) if isinstance(d, str) else _int_field(1, d)) for d in dims
    )
    tensor = _int_field(1, 1) + _field(2, shape)
    return _text(1, name) + _field(2, _field(1, tensor))


@dataclass
class _Graph:
    nodes: list[bytes] = field(default_factory=list)
    initializers: list[bytes] = field(default_factory=list)
    count: int = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def constant(self, array: np.ndarray, prefix: str) -> str:
        name = self.name(prefix)
        self.initializers.append(_initializer(name, array))
        return name

    def add(self, op: str, inputs: list[str], **attributes: list[int]) -> str:
        out = self.name(op.lower())
        self.nodes.append(_node(op, inputs, [out], **attributes))
        return out


def _pad_to(graph: _Graph, name: str, shape: tuple[int, int], target: tuple[int, int]) -> str:
    """Zero-pad (channels, size) at the end up to `target` (a no-op when already there)."""
    if shape == target:
        return name
    extra_c, extra_h = target[0] - shape[0], target[1] - shape[1]
    pads = np.array([0, 0, 0, 0, 0, extra_c, extra_h, extra_h], np.int64)
    return graph.add("Pad", [name, graph.constant(pads, "pads")])


def onnx_model(layers: list[_Layer]) -> bytes:
    """The network as a serialised ONNX ModelProto (opset 13), input `x` (N,3,150,150)."""
    graph = _Graph()
    # The current tensor, with its (channels, height = width); and the residual block's input
    # (dlib's tag1) and its average-pooled shortcut (for the blocks that halve the size).
    x, shape = "x", (3, 150)
    block, block_shape = x, shape
    shortcut: tuple[str, tuple[int, int]] | None = None
    previous = ""
    for layer in layers:
        if layer.kind == "conv":
            assert layer.weights is not None
            assert layer.bias is not None
            if previous in ("max", "relu after add"):
                block, block_shape = x, shape
            filters, _, rows, cols = layer.weights.shape
            x = graph.add(
                "Conv",
                [x, graph.constant(layer.weights, "w"), graph.constant(layer.bias, "b")],
                kernel_shape=[rows, cols],
                strides=[layer.stride] * 2,
                pads=[layer.pad] * 4,
            )
            shape = (filters, 1 + (shape[1] + 2 * layer.pad - rows) // layer.stride)
        elif layer.kind == "relu":
            x = graph.add("Relu", [x])
        elif layer.kind == "max":
            x = graph.add(
                "MaxPool", [x], kernel_shape=[layer.window] * 2, strides=[layer.stride] * 2
            )
            shape = (shape[0], 1 + (shape[1] - layer.window) // layer.stride)
        elif layer.kind == "avg" and layer.window == 0:
            pass  # dlib's avg_pool_everything: the global pooling before the fc layer below
        elif layer.kind == "avg":
            pooled = graph.add(
                "AveragePool", [block], kernel_shape=[layer.window] * 2, strides=[layer.stride] * 2
            )
            shortcut = (
                pooled,
                (block_shape[0], 1 + (block_shape[1] - layer.window) // layer.stride),
            )
        elif layer.kind == "add":
            skip, skip_shape = shortcut or (block, block_shape)
            shortcut = None
            # dlib adds tensors of different shapes as if the smaller were zero-padded.
            target = (max(shape[0], skip_shape[0]), max(shape[1], skip_shape[1]))
            x = graph.add(
                "Add",
                [_pad_to(graph, x, shape, target), _pad_to(graph, skip, skip_shape, target)],
            )
            shape = target
        elif layer.kind == "fc":
            assert layer.weights is not None
            pooled = graph.add("Flatten", [graph.add("GlobalAveragePool", [x])])
            weights = graph.constant(layer.weights, "fc")
            graph.nodes.append(_node("MatMul", [pooled, weights], ["y"]))
        previous = "relu after add" if layer.kind == "relu" and previous == "add" else layer.kind
    body = b"".join(_field(1, n) for n in graph.nodes) + _text(2, "dlib_face_resnet")
    body += b"".join(_field(5, t) for t in graph.initializers)
    body += _field(11, _value_info("x", ["N", 3, 150, 150]))
    body += _field(12, _value_info("y", ["N", 128]))
    opset = _text(1, "") + _int_field(2, 13)
    # ModelProto: ir_version=1, producer_name=2, graph=7, opset_import=8
    return _int_field(1, 7) + _text(2, "registry") + _field(7, body) + _field(8, opset)


class Encoder:
    """Face descriptors from aligned 150x150 RGB face chips (as dlib.get_face_chip makes them).

    The graph runs in ONNX Runtime (about 4 ms a face on one core here, against 8 ms in
    OpenCV's dnn module, which takes over where ONNX Runtime cannot be imported); both give
    dlib's descriptors to about 1e-6."""

    BATCH = 8

    def __init__(self, model_file: Path) -> None:
        means, layers = read_layers(model_file.read_bytes())
        self.means = means
        graph = onnx_model(layers)
        try:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1  # one core per worker process
            options.inter_op_num_threads = 1
            self.session = onnxruntime.InferenceSession(
                graph, options, providers=["CPUExecutionProvider"]
            )
            self.input = self.session.get_inputs()[0].name
            self.net = None
        except ImportError:
            import cv2

            self.session = None
            self.net = cv2.dnn.readNetFromONNX(np.frombuffer(graph, np.uint8))
            self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
            self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)

    def _forward(self, blob: np.ndarray) -> np.ndarray:
        if self.session is not None:
            return np.asarray(self.session.run(None, {self.input: blob})[0], np.float64)
        assert self.net is not None
        self.net.setInput(blob)
        return np.asarray(self.net.forward(), np.float64)

    def __call__(self, chips: list[np.ndarray]) -> np.ndarray:
        """(len(chips), 128) float64 descriptors."""
        out = []
        for start in range(0, len(chips), self.BATCH):
            batch = np.asarray(chips[start : start + self.BATCH], np.float32)
            # dlib's input layer: (pixel - channel mean) / 256, channels first.
            blob = np.ascontiguousarray(((batch - self.means) / 256.0).transpose(0, 3, 1, 2))
            out.append(self._forward(blob))
        return np.concatenate(out) if out else np.zeros((0, 128))
