"""The learned inpainter at run time (onnxruntime, no torch). Filled in below."""

from __future__ import annotations

from acutance.errors import ModelError


def inpaint_learned(rgb, fill, model=None):
    raise ModelError("the learned inpainter's weights are not shipped yet (inpaint-gc.onnx)")
