"""torch module -> ONNX model file that carries its own description (extra ``train``: torch and onnx).

The file is the config: ``metadata_props["acutance"]`` holds a JSON object
``{"format": "acutance-onnx-1", "arch", "hyper_parameters", "scale", "name", "summary", "task", "tile",
"context", "pad_multiple", ...}`` that ``acutance.deep.runtime`` reads to describe and run the model without
torch. The graph takes ``input`` (N x 3 x H x W float32 in [0, 1], H and W dynamic) and gives ``output``
(N x 3 x H*scale x W*scale).

Every parameter of the module is an initializer named by its state-dict key (``body.0.weight``), so a
runtime can replace weights by name (network interpolation, ``runtime.load_onnx(..., blend=...)``). That is
why the TorchScript exporter runs with constant folding off (folding renames e.g. PReLU slopes to
``onnx::PRelu_32``) and why identical initializers that the exporter merged are split again.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from acutance.deep.runtime import FORMAT, INPUT, META_KEY, OUTPUT  # what the runtime reads back
from acutance.errors import ModelError

__all__ = ["FORMAT", "INPUT", "META_KEY", "OUTPUT", "checkpoint_meta", "describe", "export_onnx", "onnx_bytes"]
OPSET = 17


def runtime_advice(module: Any) -> dict:
    """Tiling advice for a known architecture: ``tile`` (input pixels), ``context`` (LR pixels of receptive
    field kept around each tile) and ``pad_multiple`` (H and W the graph needs to be multiples of)."""
    kind = type(module).__name__
    if kind == "SRVGGNetCompact":
        # Receptive field: one pixel per 3x3 conv at LR, exactly num_conv + 2 convs; bicubic skip reads 2.
        return {"tile": 512, "context": int(module.num_conv) + 2 + 2, "pad_multiple": 1}
    if kind == "RRDBNet":
        return {"tile": 256, "context": 16, "pad_multiple": 4 // int(module.scale)}
    if kind == "SwinIR":
        return {"tile": 256, "context": 16, "pad_multiple": int(module.window_size)}
    return {"tile": 256, "context": 16, "pad_multiple": 1}


def _torch():
    try:
        import onnx  # noqa: F401
        import torch
    except ImportError as error:
        raise ModelError(f"exporting to ONNX needs the 'train' extra (torch, onnx): {error}") from None
    return torch


def onnx_bytes(module: Any, scale: int, meta: dict | None = None, *, opset: int = OPSET) -> bytes:
    """The ONNX model of ``module`` (an x``scale`` SR net taking N x 3 x H x W in [0, 1]) as bytes.

    meta: description stored in the file; ``arch`` and ``hyper_parameters`` default to the module's class name
    and ``module.hyper_parameters()``; ``tile``/``context``/``pad_multiple`` to ``runtime_advice(module)``.
    Must be JSON-serialisable.
    """
    torch = _torch()
    import onnx

    meta = describe(module, scale, meta)
    multiple = int(meta["pad_multiple"])
    step = multiple * max(1, -(-8 // multiple))  # a multiple of pad_multiple, at least 8
    # H != W and neither a special size, so the tracer cannot bake a shape equality into the graph.
    dummy = torch.rand(1, int(meta.get("in_channels", 3)), 4 * step, 5 * step)
    was_training = module.training
    module.eval()
    buffer = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings
            torch.onnx.export(
                module,
                (dummy,),
                buffer,
                dynamo=False,  # the dynamo exporter needs onnxscript and renames parameters
                input_names=[INPUT],
                output_names=[OUTPUT],
                dynamic_axes={INPUT: {0: "batch", 2: "height", 3: "width"}, OUTPUT: {0: "batch", 2: "height_out", 3: "width_out"}},
                opset_version=opset,
                do_constant_folding=False,
            )
    finally:
        module.train(was_training)
    model = onnx.load_from_string(buffer.getvalue())
    _split_shared_initializers(model, module.state_dict())
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta, sort_keys=True)
    model.producer_name = "acutance"
    return model.SerializeToString()


def describe(module: Any, scale: int, meta: dict | None = None) -> dict:
    """The JSON description stored in the ONNX file (see the module docstring)."""
    meta = dict(meta or {})
    hyper = meta.get("hyper_parameters")
    if hyper is None:
        hyper = module.hyper_parameters() if hasattr(module, "hyper_parameters") else {}
    full = {
        "format": FORMAT,
        "arch": type(module).__name__,
        "hyper_parameters": hyper,
        "scale": int(scale),
        "name": f"{type(module).__name__.lower()}-x{int(scale)}",
        "summary": f"{type(module).__name__} x{int(scale)}",
        "task": "upscale",
        "in_channels": int(hyper.get("num_in_ch", 3)),
        **runtime_advice(module),
    }
    full.update({key: value for key, value in meta.items() if key != "format"})
    full["scale"] = int(scale)
    try:
        json.dumps(full)
    except TypeError as error:
        raise ModelError(f"ONNX metadata must be JSON-serialisable: {error}") from None
    return full


def checkpoint_meta(description: Any, source: str | os.PathLike, name: str | None = None) -> dict:
    """The description stored for a converted checkpoint (``acutance export``, or in memory at load time):
    its detected architecture and hyper-parameters, name (default: the file's stem) and source."""
    source = Path(source)
    return {
        "arch": description.arch,
        "hyper_parameters": description.hyper_parameters,
        "name": name or source.stem,
        "summary": f"{description.summary()} from {source.name}",
        "licence": "(your model)",
        "source": source.name,
    }


def _split_shared_initializers(model: Any, state_dict: dict) -> None:
    """Give every state-dict parameter its own initializer named by its key.

    The TorchScript exporter merges initializers with identical values (e.g. freshly initialised PReLU slopes)
    and routes the duplicates through ``Identity`` nodes; a runtime that overrides weights by name would then
    miss them, so the duplicates become initializers of their own again.
    """
    from onnx import numpy_helper

    initializers = {init.name: init for init in model.graph.initializer}
    keep = []
    for node in model.graph.node:
        if (
            node.op_type == "Identity"
            and node.output[0] in state_dict
            and node.output[0] not in initializers
            and node.input[0] in initializers
        ):
            copy = numpy_helper.from_array(numpy_helper.to_array(initializers[node.input[0]]), name=node.output[0])
            model.graph.initializer.append(copy)
            initializers[copy.name] = copy
        else:
            keep.append(node)
    if len(keep) != len(model.graph.node):
        del model.graph.node[:]
        model.graph.node.extend(keep)


def export_onnx(module: Any, path: str | os.PathLike, scale: int, meta: dict | None = None, *, overwrite: bool = False) -> Path:
    """Write ``module`` as an ONNX file at ``path`` (atomically; an existing file only with ``overwrite``)."""
    from acutance.io import atomic_write_bytes, check_writable_output

    target = check_writable_output(path, overwrite=overwrite)
    return atomic_write_bytes(target, onnx_bytes(module, scale, meta), overwrite=overwrite)


def max_abs_diff(module: Any, model_bytes: bytes, *, height: int = 48, width: int = 40, seed: int = 0) -> float:
    """Largest |torch - onnxruntime| over a random ``1 x C x height x width`` input (checks an export)."""
    torch = _torch()
    from acutance.deep.runtime import make_session

    generator = np.random.default_rng(seed)
    channels = int(describe(module, 1)["in_channels"])
    x = generator.random((1, channels, height, width), dtype=np.float32)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            expected = module(torch.from_numpy(x)).numpy()
    finally:
        module.train(was_training)
    got = make_session(model_bytes).run([OUTPUT], {INPUT: x})[0]
    if got.shape != expected.shape:
        raise ModelError(f"ONNX output shape {got.shape} differs from torch's {expected.shape}")
    return float(np.max(np.abs(got - expected)))
