"""An IRN as its two ONNX files (extra ``train``), in ``acutance.deep.export``'s format.

``NAME.onnx``: LR -> HR with z = 0, task ``upscale`` (a deep SR net any runtime of ours runs: the registry
row's file); ``NAME.down.onnx``: HR (sides multiples of the scale) -> LR, task ``downscale``. Both carry the
hyper-parameters, so the pair is reproducible from either file's description.
"""

from __future__ import annotations

import os
from pathlib import Path

from acutance.rescale.irn import Downscaler, InvRescaleNet, Upscaler
from acutance.rescale.runtime import down_path


def context(net: InvRescaleNet) -> int:
    """LR pixels of receptive field of the upscaler: per block two subnets in a row of three 3x3 convolutions
    (counted at the LR's size on every level, an overestimate for x4's first), plus the restoration CNN."""
    blocks = sum(net.spec.level_blocks(level) for level in range(net.spec.levels))
    return 6 * blocks + (3 if net.spec.restore else 0) + 2


def export_pair(net: InvRescaleNet, path: str | os.PathLike, name: str, summary: str, extra: dict | None = None,
                *, overwrite: bool = False) -> tuple[Path, Path]:
    from acutance.deep.export import onnx_bytes
    from acutance.io import atomic_write_bytes, check_writable_output

    s = net.spec.scale
    base = {"arch": "InvRescaleNet", "name": name, "licence": "Apache-2.0", "pad_multiple": 1, "tile": 512,
            "context": context(net), **(extra or {})}  # fmt: skip
    up = onnx_bytes(Upscaler(net), s, base | {"task": "upscale", "summary": summary})
    down = onnx_bytes(Downscaler(net), s, base | {"task": "downscale", "pad_multiple": s,
                                                  "summary": f"{summary} (the downscaler)"})  # fmt: skip
    written = []
    for target, data in ((Path(path), up), (down_path(path), down)):
        check_writable_output(target, overwrite=overwrite)
        written.append(atomic_write_bytes(target, data, overwrite=overwrite))
    return written[0], written[1]
