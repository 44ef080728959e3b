"""edge-SR inference without torch, and the model file.

Luma only, like the luma LUT models: the image goes to MATLAB YCbCr (the float32 ``cv2.transform`` map of
``acutance.raisr.model``), the network upscales Y (in [0, 1]) and Cb/Cr get MATLAB bicubic; the result is
converted back with MATLAB ``ycbcr2rgb`` (the fused numba helper of the luma LUT models).

Two back ends compute the convolutions, the part that costs:

* ``onnxruntime`` (the default when it is installed): the conv stack (edge Pad, Conv, Tanh) as an ONNX graph
  written from the model's arrays at load time (protobuf messages, no ``onnx`` package needed);
  onnxruntime's im2col + GEMM convolution was 3-4x faster than OpenCV at these sizes (docs/edge_sr.md).
* ``opencv``: ``cv2.filter2D`` per (output, input) channel pair with ``BORDER_REPLICATE``; needs nothing
  beyond the core.

Both feed the filter outputs to one numba kernel (``kernels.combine``) that does the max / softmax over the C
channels and writes the pixel-shuffled HR luma directly.

The model file is the config: an ``.npz`` with ``meta`` (JSON: format, spec, training record) and float32
arrays ``w0, b0, w1, b1, ..., w{n}`` in torch's (out, in, k, k) layout, as ``acutance.edgesr.arch`` names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acutance.contract import check_rgb
from acutance.edgesr.arch import EsrSpec
from acutance.errors import ModelError
from acutance.models.descriptor import ModelInfo
from acutance.models.weights import check_scale, read_model_npz, write_model_npz

FORMAT = "acutance-edgesr-1"
BACKENDS = ("onnxruntime", "opencv")


@dataclass
class EsrModel:
    """An edge-SR model: its spec and float32 weights ``w0, b0, w1, b1, ..., w{last}`` (torch layout)."""

    spec: EsrSpec
    arrays: dict
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        expected = {}
        for n, (i, o, k, bias) in enumerate(self.spec.layers):
            expected[f"w{n}"] = (o, i, k, k)
            if bias:
                expected[f"b{n}"] = (o,)
        missing = sorted(set(expected) - set(self.arrays))
        extra = sorted(set(self.arrays) - set(expected))
        if missing or extra:
            raise ModelError(f"edge-SR {self.spec.name}: missing arrays {missing}, unexpected {extra}")
        for key, shape in expected.items():
            if tuple(self.arrays[key].shape) != shape:
                raise ModelError(f"edge-SR {self.spec.name}: {key} has shape {self.arrays[key].shape}, expected {shape}")
        self.arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in self.arrays.items()}

    @property
    def scale(self) -> int:
        return self.spec.scale


# ------------------------------------------------------------------------------------------ back ends


def _conv_opencv(model: EsrModel, y: np.ndarray) -> np.ndarray:
    import cv2

    x = y[None]
    layers = model.spec.layers
    for n, (n_in, n_out, _, bias) in enumerate(layers):
        w = model.arrays[f"w{n}"]
        out = np.empty((n_out, *y.shape), np.float32)
        for o in range(n_out):
            acc = cv2.filter2D(x[0], cv2.CV_32F, w[o, 0], borderType=cv2.BORDER_REPLICATE)
            for i in range(1, n_in):
                acc += cv2.filter2D(x[i], cv2.CV_32F, w[o, i], borderType=cv2.BORDER_REPLICATE)
            if bias:
                acc += model.arrays[f"b{n}"][o]
            out[o] = acc
        x = np.tanh(out, out=out) if n < len(layers) - 1 else out
    return x


def onnx_graph(model: EsrModel) -> bytes:
    """The conv stack (Pad edge, Conv, Tanh, ..., head Conv) as a serialised ONNX model (opset 13).

    Input ``y`` (1, 1, h, w) float32, output ``filters`` (1, G*C*s*s, h, w). Written with the ONNX message
    classes of ``acutance.deep.runtime`` (protobuf; no ``onnx`` package at run time).
    """
    from acutance.deep.runtime import ATTRIBUTE_INTS, ATTRIBUTE_STRING, onnx_messages, tensor_proto

    pb = onnx_messages()
    graph = pb.GraphProto(name="edgesr")
    x = "y"
    layers = model.spec.layers
    for n, (_, n_out, k, bias) in enumerate(layers):
        p = k // 2
        graph.initializer.append(tensor_proto(f"pads{n}", np.array([0, 0, p, p, 0, 0, p, p], np.int64)))
        mode = pb.AttributeProto(name="mode", s=b"edge", type=ATTRIBUTE_STRING)
        graph.node.append(pb.NodeProto(input=[x, f"pads{n}"], output=[f"pad{n}"], name=f"pad{n}", op_type="Pad", attribute=[mode]))
        graph.initializer.append(tensor_proto(f"w{n}", model.arrays[f"w{n}"]))
        inputs = [f"pad{n}", f"w{n}"]
        if bias:
            graph.initializer.append(tensor_proto(f"b{n}", model.arrays[f"b{n}"]))
            inputs.append(f"b{n}")
        last = n == len(layers) - 1
        output = "filters" if last else f"conv{n}"
        kernel = pb.AttributeProto(name="kernel_shape", ints=[k, k], type=ATTRIBUTE_INTS)
        graph.node.append(pb.NodeProto(input=inputs, output=[output], name=output, op_type="Conv", attribute=[kernel]))
        if not last:
            graph.node.append(pb.NodeProto(input=[f"conv{n}"], output=[f"act{n}"], name=f"act{n}", op_type="Tanh"))
        x = f"act{n}"

    def value(name: str, channels: int):
        dims = [pb.Dimension(dim_value=1), pb.Dimension(dim_value=channels), pb.Dimension(dim_param="h"),
                pb.Dimension(dim_param="w")]
        shape = pb.TensorShapeProto(dim=dims)
        return pb.ValueInfoProto(name=name, type=pb.TypeProto(tensor_type=pb.TensorTypeProto(elem_type=1, shape=shape)))

    graph.input.append(value("y", 1))
    graph.output.append(value("filters", model.spec.head_outputs))
    opset = pb.OperatorSetIdProto(domain="", version=13)
    return pb.ModelProto(ir_version=8, producer_name="acutance", graph=graph, opset_import=[opset]).SerializeToString()


# ------------------------------------------------------------------------------------------- inference


@dataclass
class EsrRunner:
    """A model ready to run: the back end's state (an onnxruntime session or none)."""

    model: EsrModel
    backend: str = "onnxruntime"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ModelError(f"edge-SR back end must be one of {BACKENDS}, got {self.backend!r}")
        self.session = None
        if self.backend == "onnxruntime":
            from acutance.deep.runtime import (
                make_session,  # one intra-op thread per core
            )

            self.session = make_session(onnx_graph(self.model))

    def filters(self, y: np.ndarray) -> np.ndarray:
        """The head's filter outputs (G*C*s*s, h, w) float32 of a luma plane y (h, w) in [0, 1]."""
        y = np.ascontiguousarray(y, dtype=np.float32)
        if self.session is None:
            return _conv_opencv(self.model, y)
        return self.session.run(None, {"y": y[None, None]})[0][0]

    def luma(self, y: np.ndarray, gain: float = 1.0) -> np.ndarray:
        """float32 (h, w) luma in [0, 1] -> float32 (sh, sw) HR luma times ``gain``."""
        from acutance.edgesr.kernels import KIND_CODES, combine

        spec = self.model.spec
        F = self.filters(y)
        out = np.empty((y.shape[0] * spec.scale, y.shape[1] * spec.scale), np.float32)
        combine(F, KIND_CODES[spec.kind], spec.channels, spec.scale, np.float32(gain), out)
        return out

    def upscale(self, rgb: np.ndarray) -> np.ndarray:
        """float32 HxWx3 RGB in [0, 1] -> float32 (sH)x(sW)x3 RGB (not clipped); chroma MATLAB bicubic."""
        from acutance.color.fast import upscale_luma

        check_rgb(rgb)
        scale = self.model.spec.scale
        return upscale_luma(rgb, lambda y: self.luma(y, gain=255.0), (rgb.shape[0] * scale, rgb.shape[1] * scale))


def default_backend() -> str:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "opencv"
    return "onnxruntime"


# ----------------------------------------------------------------------------------------------- files


def save_model(model: EsrModel, path: str | Path) -> Path:
    """Write the model file (npz, compressed, no pickle; ``meta`` JSON carries the spec); returns its path."""
    meta = dict(model.meta) | {"format": FORMAT, "spec": model.spec.to_dict(), "params": model.spec.params}
    return write_model_npz(path, meta, model.arrays)


def load_model_file(path: str | Path) -> EsrModel:
    """Read a model file strictly: the spec in ``meta`` and exactly the arrays it needs."""
    name = str(path)
    meta, arrays = read_model_npz(path, FORMAT, "edge-SR model file")
    try:
        spec = EsrSpec(**meta["spec"])
        return EsrModel(spec, arrays, meta)
    except ModelError as error:
        raise ModelError(f"{name}: {error}") from None
    except (KeyError, TypeError) as error:
        raise ModelError(f"{name}: invalid edge-SR model description: {error!r}") from None


# ------------------------------------------------------------------------------------------- enhancer


@dataclass(frozen=True)
class EsrEnhancer:
    """A loaded edge-SR model as an enhancer: ``model(rgb, scale) -> rgb`` with ``.info``."""

    info: ModelInfo
    runner: EsrRunner

    def __call__(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        check_scale(self.info, self.runner.model.scale, scale)
        return self.runner.upscale(rgb)

    @classmethod
    def from_model(cls, info: ModelInfo, model: EsrModel) -> "EsrEnhancer":
        """The family's enhancer: onnxruntime if installed, else OpenCV."""
        return cls(info=info, runner=EsrRunner(model, default_backend()))


Enhancer = EsrEnhancer.from_model
read = load_model_file
CHROMA_REACH = 2  # LR pixels MATLAB bicubic reads for the chroma, beside the luma network


def context(spec: EsrSpec) -> int:
    """Input pixels of reach on each side: the conv stack's, or the bicubic chroma's if larger."""
    return max(spec.context, CHROMA_REACH)


def describe(meta: dict) -> dict:
    """The descriptor facts of an edge-SR model file, from its ``meta`` (the spec)."""
    try:
        spec = EsrSpec(**meta["spec"])
    except (KeyError, TypeError) as error:
        raise ModelError(f"invalid edge-SR model description: {error!r}") from None
    return {"task": "upscale", "scales": (spec.scale,), "input": "luma", "context": context(spec),
            "default_scale": float(spec.scale)}


def load_file(path: str | Path, backend: str | None = None) -> EsrEnhancer:
    """A model file of your own (``acutance train edgesr -o MODEL``) as an enhancer (back end: onnxruntime
    if installed, else OpenCV, unless given)."""
    from acutance.models.registry import load_model_file

    enhancer = load_model_file(path)
    if backend is None:
        return enhancer  # type: ignore[return-value]
    return EsrEnhancer(info=enhancer.info, runner=EsrRunner(enhancer.runner.model, backend))  # type: ignore[attr-defined]
