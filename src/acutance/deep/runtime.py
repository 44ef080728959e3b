"""Deep SR networks at inference: ONNX files run by onnxruntime (extra ``onnx``), no torch.

An ``acutance-onnx-1`` file (written by ``acutance.deep.export``) describes itself in its metadata (scale,
tiling advice, name); an ONNX file without that metadata still runs if its H and W are dynamic (its scale is
found by running it once on a small input). A ``.pth`` / ``.pt`` / ``.safetensors`` checkpoint is read
safely and converted to ONNX in memory (that needs torch: extra ``train``), then runs the same way.

Weights can be blended by name at load time (ESRGAN network interpolation): ``blend=(other, alpha)`` gives
``(1 - alpha) * other[key] + alpha * file[key]`` for every key of ``other``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from acutance.contract import check_rgb
from acutance.errors import ModelError
from acutance.models.descriptor import ModelInfo
from acutance.models.families import FAMILIES
from acutance.models.weights import check_scale

FORMAT = "acutance-onnx-1"
META_KEY = "acutance"
INPUT, OUTPUT = "input", "output"
CHECKPOINT_SUFFIXES = tuple(s for s in FAMILIES["deep"].suffixes if s != ".onnx")  # torch checkpoints
_PROBE = 32  # input size used to find the scale of an ONNX file without metadata


@dataclass(frozen=True)
class OnnxEnhancer:
    """A loaded ONNX SR net as an ``Enhancer``: ``enhancer(rgb, scale) -> rgb`` with ``.info``.

    pad_multiple: H and W the graph needs to be multiples of (pixel-unshuffle nets: 2 or 4; SwinIR: its
        window); the image is reflect-padded up to it and the output cropped.
    meta: the file's description (``acutance`` metadata), empty for foreign ONNX files.
    """

    info: ModelInfo
    session: Any
    scale: int
    pad_multiple: int = 1
    meta: Mapping[str, Any] = field(default_factory=dict)
    _keep: tuple = field(default=(), repr=False)  # OrtValues of overridden initializers must outlive the session

    def __call__(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        check_rgb(rgb)
        check_scale(self.info, self.scale, scale)
        height, width = rgb.shape[:2]
        m = self.pad_multiple
        pad_h, pad_w = -height % m, -width % m
        x = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)
        if pad_h or pad_w:
            x = np.pad(x, ((0, 0), (0, 0), (0, pad_h), (0, pad_w)), mode="reflect" if min(height, width) > 1 else "edge")
        try:
            out = self.session.run([self.session.get_outputs()[0].name], {self.session.get_inputs()[0].name: x})[0]
        except Exception as error:  # noqa: BLE001 (onnxruntime's Fail, InvalidArgument, ...: a broken graph)
            raise ModelError(f"{self.info.name}: the ONNX model failed on a {width}x{height} input: {_first_line(error)}") from None
        if out.ndim != 4 or out.shape[0] < 1 or out.shape[1] != 3 or out.shape[2] < height * self.scale or out.shape[3] < width * self.scale:
            raise ModelError(f"{self.info.name}: the ONNX model gave {out.shape} for a {width}x{height} input at x{self.scale}")
        out = out[0, :, : height * self.scale, : width * self.scale]
        return np.ascontiguousarray(out.transpose(1, 2, 0), dtype=np.float32)


def _ort():
    try:
        import onnxruntime
    except ImportError as error:
        raise ModelError(f"deep models need the 'onnx' extra (onnxruntime): {error}") from None
    return onnxruntime


def make_session(model: bytes | str | os.PathLike, initializers: Mapping[str, np.ndarray] | None = None):
    """An onnxruntime CPU session on ``model`` (bytes or a path) using every core.

    initializers: weights that replace the file's ones by name. Returns ``(session, keep)`` when given
    (``keep`` must live as long as the session), else the session.
    """
    ort = _ort()
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.inter_op_num_threads = 1
    # ORT_ENABLE_ALL's layout transforms (NCHWc) read the file's weights and ignore overridden initializers
    # (onnxruntime 1.31), so a session with overrides stops at the extended level.
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED if initializers else ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    )
    # onnxruntime's warnings about unused initializers are noise here, and its errors become our one line.
    options.log_severity_level = 4
    keep = []
    for name, array in (initializers or {}).items():
        value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array))
        options.add_initializer(name, value)
        keep.append(value)
    source = model if isinstance(model, bytes) else str(model)
    _check_attributes(model)
    try:
        session = ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 (onnxruntime raises its own types: Fail, InvalidProtobuf, ...)
        what = "ONNX model" if isinstance(model, bytes) else str(model)
        raise ModelError(f"{what}: cannot load as an ONNX model: {str(error).strip().splitlines()[0]}") from None
    _check_signature(session, "ONNX model" if isinstance(model, bytes) else str(model))
    return (session, tuple(keep)) if initializers is not None else session


# Convolution geometry of the image nets we run is small (kernels up to 7, pads up to 3); a file asking for
# pads of a million makes every intermediate tensor of a small input gigabytes (found by benchmarks/fuzz.py).
_GEOMETRY = ("pads", "kernel_shape", "strides", "dilations", "output_padding")
_GEOMETRY_LIMIT = 64


def _check_attributes(model: bytes | str | os.PathLike) -> None:
    from google.protobuf.message import DecodeError

    what = "ONNX model" if isinstance(model, bytes) else str(model)
    try:
        data = model if isinstance(model, bytes) else Path(model).read_bytes()
        graph = onnx_messages().ModelProto.FromString(data).graph
    except (DecodeError, OSError):
        return  # onnxruntime says what is wrong with the file
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.name in _GEOMETRY and any(abs(value) > _GEOMETRY_LIMIT for value in attribute.ints):
                raise ModelError(f"{what}: node {node.name or node.op_type!r} has {attribute.name} "
                                 f"{list(attribute.ints)[:4]}, beyond {_GEOMETRY_LIMIT}: not an image net we can bound")


def _check_signature(session, what: str) -> None:
    """One image in, one out, names readable: onnxruntime decodes names as UTF-8 only when asked, and an
    empty input list would be an IndexError at the first run (both found by benchmarks/fuzz.py)."""
    try:
        inputs, outputs = session.get_inputs(), session.get_outputs()
        for arg in inputs + outputs:
            arg.name, arg.shape  # noqa: B018 (decoded on access)
    except UnicodeDecodeError:
        raise ModelError(f"{what}: the ONNX model's input or output names are not valid UTF-8") from None
    if not inputs or not outputs:
        raise ModelError(f"{what}: the ONNX model has {len(inputs)} inputs and {len(outputs)} outputs; an image net has one of each")


# --- ONNX messages through the protobuf library ----------------------------------------------------------
# onnxruntime reads ONNX files but exposes neither their weights nor a way to build a graph, and the ``onnx``
# package (extra ``train``) costs most of a second to import. So the few messages used here are declared for
# protobuf (which onnxruntime depends on) with the field numbers of onnx.proto; protobuf does the encoding,
# keeps the fields not declared here untouched, and checks the bytes.

_ONNX_SUBSET = {  # message -> (field, number, type); "*" repeated, ".X" the message X
    "ModelProto": [("ir_version", 1, "int64"), ("producer_name", 2, "string"), ("graph", 7, ".GraphProto"),
                   ("opset_import", 8, "*.OperatorSetIdProto")],
    "OperatorSetIdProto": [("domain", 1, "string"), ("version", 2, "int64")],
    "GraphProto": [("node", 1, "*.NodeProto"), ("name", 2, "string"), ("initializer", 5, "*.TensorProto"),
                   ("input", 11, "*.ValueInfoProto"), ("output", 12, "*.ValueInfoProto")],
    "NodeProto": [("input", 1, "*string"), ("output", 2, "*string"), ("name", 3, "string"), ("op_type", 4, "string"),
                  ("attribute", 5, "*.AttributeProto")],
    "AttributeProto": [("name", 1, "string"), ("s", 4, "bytes"), ("ints", 8, "*int64"), ("type", 20, "int32")],
    "TensorProto": [("dims", 1, "*int64"), ("data_type", 2, "int32"), ("float_data", 4, "*float"), ("name", 8, "string"),
                    ("raw_data", 9, "bytes")],
    "ValueInfoProto": [("name", 1, "string"), ("type", 2, ".TypeProto")],
    "TypeProto": [("tensor_type", 1, ".TensorTypeProto")],
    "TensorTypeProto": [("elem_type", 1, "int32"), ("shape", 2, ".TensorShapeProto")],
    "TensorShapeProto": [("dim", 1, "*.Dimension")],
    "Dimension": [("dim_value", 1, "int64"), ("dim_param", 2, "string")],
}
# TensorProto.DataType -> numpy, and AttributeProto.AttributeType codes used here
TENSOR_TYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 5: np.int16, 6: np.int32, 7: np.int64, 10: np.float16, 11: np.float64}
ATTRIBUTE_STRING, ATTRIBUTE_INTS = 3, 7


@lru_cache(maxsize=1)
def onnx_messages() -> SimpleNamespace:
    """The message classes of ``_ONNX_SUBSET`` (``onnx_messages().ModelProto.FromString(data)``)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    scalars = {"int64": field.TYPE_INT64, "int32": field.TYPE_INT32, "string": field.TYPE_STRING,
               "bytes": field.TYPE_BYTES, "float": field.TYPE_FLOAT}
    file = descriptor_pb2.FileDescriptorProto(name="acutance/onnx_subset.proto", package="acutance.onnx", syntax="proto2")
    for message, entries in _ONNX_SUBSET.items():
        proto = file.message_type.add(name=message)
        for name, number, kind in entries:
            repeated, kind = kind.startswith("*"), kind.lstrip("*")
            entry = proto.field.add(name=name, number=number, label=field.LABEL_REPEATED if repeated else field.LABEL_OPTIONAL)
            if kind.startswith("."):
                entry.type, entry.type_name = field.TYPE_MESSAGE, f".acutance.onnx{kind}"
            else:
                entry.type = scalars[kind]
                if repeated and kind == "float":
                    entry.options.packed = True  # as onnx.proto declares float_data
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return SimpleNamespace(**{m: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"acutance.onnx.{m}"))
                              for m in _ONNX_SUBSET})


def tensor_proto(name: str, array: np.ndarray):
    """A TensorProto of ``array`` (raw little-endian data)."""
    codes = {np.dtype(v): k for k, v in TENSOR_TYPES.items()}
    array = np.ascontiguousarray(array)
    return onnx_messages().TensorProto(dims=array.shape, data_type=codes[array.dtype], name=name,
                                       raw_data=array.astype(array.dtype.newbyteorder("<")).tobytes())


def _parse_model(model: bytes | str | os.PathLike):
    from google.protobuf.message import DecodeError

    data = model if isinstance(model, bytes) else Path(model).read_bytes()
    try:
        return onnx_messages().ModelProto.FromString(data)
    except DecodeError as error:
        where = "ONNX model" if isinstance(model, bytes) else str(model)
        raise ModelError(f"{where}: cannot read its weights (truncated or not ONNX?): {error}") from None


def _array(tensor) -> np.ndarray | None:
    dtype = TENSOR_TYPES.get(tensor.data_type)
    if dtype is None:
        return None
    if tensor.raw_data:
        array = np.frombuffer(tensor.raw_data, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
    elif tensor.float_data and dtype is np.float32:
        array = np.asarray(tensor.float_data, dtype=np.float32)
    else:
        return None  # external or other storage: not needed for SR nets
    return array.reshape(tuple(tensor.dims))


def read_initializers(model: bytes | str | os.PathLike) -> dict[str, np.ndarray]:
    """The weights (graph initializers) of an ONNX model, by name, read without the ``onnx`` package."""
    result: dict[str, np.ndarray] = {}
    for tensor in _parse_model(model).graph.initializer:
        array = _array(tensor)
        if array is not None:
            result[tensor.name] = array
    return result


def blended_weights(file_weights: Mapping[str, np.ndarray], other: Mapping[str, Any], alpha: float, *, where: str = "model") -> dict[str, np.ndarray]:
    """``(1 - alpha) * other + alpha * file`` for every key of ``other`` (state-dict keys = initializer names)."""
    if not 0.0 <= alpha <= 1.0:
        raise ModelError(f"blend alpha must be in [0, 1], got {alpha}")
    mixed = {}
    for key, value in other.items():
        if key not in file_weights:
            raise ModelError(f"{where}: cannot blend {key!r}: no weight of that name in the file")
        value = np.asarray(value, dtype=np.float32)
        mine = file_weights[key]
        if value.shape != mine.shape:
            raise ModelError(f"{where}: cannot blend {key!r}: shape {value.shape} vs the file's {mine.shape}")
        mixed[key] = ((1.0 - alpha) * value + alpha * mine.astype(np.float32)).astype(mine.dtype)
    return mixed


def metadata_text(session) -> str | None:
    """The ``acutance`` metadata entry of a session's model; onnxruntime decodes every entry as UTF-8 when
    asked, so a file with a damaged entry is refused here (found by benchmarks/fuzz.py)."""
    try:
        return session.get_modelmeta().custom_metadata_map.get(META_KEY)
    except UnicodeDecodeError:
        raise ModelError("ONNX metadata is not valid UTF-8") from None


def read_meta(session) -> dict:
    """The ``acutance`` metadata of a session's model ({} if it has none)."""
    text = metadata_text(session)
    if not text:
        return {}
    try:
        meta = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ModelError(f"bad acutance metadata in ONNX model: {_first_line(error)}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"ONNX metadata format {meta.get('format') if isinstance(meta, dict) else meta!r}, expected {FORMAT!r}")
    return _checked_meta(meta)


# The numbers an acutance ONNX description may hold (name: (low, high)); anything else could fail later
# with a Python error, or pad or tile absurdly (found by benchmarks/fuzz.py).
_META_RANGES = {"scale": (1, 16), "tile": (0, 1 << 16), "context": (0, 1024), "pad_multiple": (1, 1024)}


def _checked_meta(meta: dict) -> dict:
    for key, (low, high) in _META_RANGES.items():
        value = meta.get(key, low if key != "scale" else None)
        if type(value) is not int or not low <= value <= high:
            raise ModelError(f"ONNX metadata: {key!r} must be a whole number in {low}..{high}, got {value!r:.40}")
    if not isinstance(meta.get("task", "upscale"), str):
        raise ModelError("ONNX metadata: 'task' must be a string")
    return meta


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _probe_scale(session, where: str) -> int:
    """Scale of a foreign ONNX SR net: run it once on a small input."""
    inp = session.get_inputs()[0]
    channels = inp.shape[1] if isinstance(inp.shape[1], int) else 3
    if any(isinstance(dim, int) for dim in inp.shape[2:]):
        raise ModelError(f"{where}: ONNX input {inp.name!r} has a fixed size {inp.shape}; a dynamic H and W is needed")
    try:
        out = session.run(None, {inp.name: np.zeros((1, channels, _PROBE, _PROBE), np.float32)})[0]
    except Exception as error:  # noqa: BLE001 (any failure to run it means: not an SR net)
        raise ModelError(f"{where}: cannot run the ONNX model on a {_PROBE}x{_PROBE} input: {_first_line(error)}") from None
    if out.ndim != 4 or out.shape[2] % _PROBE or out.shape[2] != out.shape[3]:
        raise ModelError(f"{where}: not an image-to-image ONNX model (output {out.shape} for a {_PROBE}x{_PROBE} input)")
    return out.shape[2] // _PROBE


def enhancer_from_session(session, meta: dict, *, name: str, source: str, keep: tuple = (), info: ModelInfo | None = None) -> OnnxEnhancer:
    """Wrap a session in an ``OnnxEnhancer`` whose descriptor is ``describe(meta)`` (or ``info``)."""
    model = OnnxModel(session, meta if meta else {"scale": _probe_scale(session, source)}, keep, file_meta=meta)
    if info is None:
        info = ModelInfo(
            name=name,
            summary=meta.get("summary") or f"{meta.get('arch', 'ONNX')} x{model.scale} from {source}",
            licence=meta.get("licence", "(your model)"),
            loader=__name__,
            **describe(model.meta),
        )
    elif info.scales is not None and tuple(info.scales) != (model.scale,):
        raise ModelError(f"{source}: model is x{model.scale}, descriptor {info.name!r} says scales {info.scales}")
    return Enhancer(info, model)


# ------------------------------------------------------------------------------------------- the family


@dataclass(frozen=True)
class OnnxModel:
    """What ``read`` gives: the session, its description (``acutance`` metadata, or for a foreign file only
    the scale found by running it), the overridden weights it needs kept alive, and the file's own metadata."""

    session: Any
    meta: Mapping[str, Any]
    keep: tuple = ()
    file_meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def scale(self) -> int:
        return int(self.meta["scale"])


def describe(meta: Mapping[str, Any]) -> dict:
    """The descriptor facts of a deep SR net, from its description (the export's tiling advice; a foreign
    file gets the cautious defaults)."""
    scale = int(meta["scale"])
    return {
        "task": str(meta.get("task", "upscale")),
        "scales": (scale,),
        "requires": ("onnxruntime",),
        "tile": int(meta.get("tile", 256)),
        "context": int(meta.get("context", 16)),
        "default_scale": float(scale),
    }


def Enhancer(info: ModelInfo, model: OnnxModel) -> OnnxEnhancer:  # noqa: N802 (the family face's constructor)
    return OnnxEnhancer(info=info, session=model.session, scale=model.scale,
                        pad_multiple=int(model.meta.get("pad_multiple", 1)), meta=model.file_meta, _keep=model.keep)


def read(path: str | os.PathLike, blend: tuple[Mapping[str, Any], float] | None = None) -> OnnxModel:
    """An ``.onnx`` file, or a torch checkpoint converted in memory (see the module docstring)."""
    suffix = Path(path).suffix.lower()
    if suffix in CHECKPOINT_SUFFIXES:
        if blend is not None:
            raise ModelError(f"{path}: weight blending is for ONNX files")
        enhancer = load_checkpoint_file(path)
    elif suffix == ".onnx":
        enhancer = load_onnx(path, blend=blend)
    else:
        raise ModelError(f"{path}: not a deep model file (known: .onnx, {', '.join(CHECKPOINT_SUFFIXES)})")
    return OnnxModel(enhancer.session, enhancer.meta or {"scale": enhancer.scale}, enhancer._keep, enhancer.meta)


def read_onnx_meta(path: str | os.PathLike) -> dict:
    """The ``acutance`` metadata of an ONNX file ({} if it has none), read by onnxruntime without optimising
    the graph (cheap enough for a registry lookup)."""
    ort = _ort()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4  # its errors become our one line
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 (onnxruntime raises its own types)
        raise ModelError(f"{path}: cannot load as an ONNX model: {str(error).strip().splitlines()[0]}") from None
    try:
        text = metadata_text(session)
    except ModelError as error:
        raise ModelError(f"{path}: {error}") from None
    if not text:
        return {}
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelError(f"{path}: bad {META_KEY} metadata in the ONNX file: {error}") from None
    if not isinstance(meta, dict):
        raise ModelError(f"{path}: the {META_KEY} metadata of the ONNX file must be a JSON object")
    return meta


def load_onnx(
    path: str | os.PathLike | bytes,
    *,
    name: str | None = None,
    blend: tuple[Mapping[str, Any], float] | None = None,
    info: ModelInfo | None = None,
) -> OnnxEnhancer:
    """An ONNX model file (or its bytes) as an enhancer.

    name: the model's name in messages and output file names (default: the metadata's, else the file stem).
    blend: ``(other_weights, alpha)``: every weight named in ``other_weights`` (state-dict key -> array)
        becomes ``(1 - alpha) * other + alpha * file`` (network interpolation; alpha 1 is the file as is).
    info: a registry descriptor to use instead of one built from the metadata (its scale is checked).
    """
    source = "ONNX model" if isinstance(path, bytes) else str(path)
    if not isinstance(path, bytes) and not Path(path).is_file():
        raise ModelError(f"model file {path} not found")
    keep: tuple = ()
    if blend is None:
        session = make_session(path)
    else:
        other, alpha = blend
        proto = _parse_model(path)
        weights = {t.name: a for t in proto.graph.initializer if (a := _array(t)) is not None}
        mixed = blended_weights(weights, other, float(alpha), where=source)
        # Blended weights replace the file's in the model itself (not as session overrides, which
        # ORT_ENABLE_ALL's layout transforms would ignore), so the session is optimised as the plain file's.
        for tensor in proto.graph.initializer:
            if tensor.name in mixed:
                tensor.CopyFrom(tensor_proto(tensor.name, mixed[tensor.name]))
        session = make_session(proto.SerializeToString())
    try:
        meta = read_meta(session)
    except ModelError as error:
        raise ModelError(f"{source}: {error}") from None
    default = Path(path).stem if not isinstance(path, bytes) else "onnx"
    return enhancer_from_session(session, meta, name=name or (default if not meta else meta.get("name", default)), source=source, keep=keep, info=info)


def load_checkpoint_file(path: str | os.PathLike, *, name: str | None = None) -> OnnxEnhancer:
    """A ``.pth`` / ``.pt`` / ``.safetensors`` checkpoint: detected, built in torch, converted to ONNX in
    memory (nothing written) and run by onnxruntime."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ModelError(f"{path}: running a torch checkpoint needs the 'train' extra (torch); or convert it "
                         "once with 'acutance export' on a machine that has torch and use the .onnx file") from None
    from acutance.deep.checkpoint import load_checkpoint
    from acutance.deep.export import checkpoint_meta, onnx_bytes

    loaded = load_checkpoint(path)
    stem = name or Path(path).stem
    data = onnx_bytes(loaded.module, loaded.description.scale, checkpoint_meta(loaded.description, path, stem))
    session = make_session(data)
    return enhancer_from_session(session, read_meta(session), name=stem, source=str(path))


def load_file(path: str | os.PathLike) -> OnnxEnhancer:
    """A user's model file: ``.onnx``, or a torch checkpoint (see module docstring)."""
    from acutance.models.registry import load_model_file

    return load_model_file(path)  # type: ignore[return-value]
