"""Invertible image rescaling (IRN-style): a downscaler and an upscaler learned together, so an LR made by
``acutance downscale --model irn-x2`` is a normal-looking thumbnail that ``acutance upscale --model irn-x2``
restores far better than any SR model can from a bicubic LR.

- ``irn``: the bijective network (Haar + affine coupling blocks) in torch, and its two exported graphs;
- ``jpeg``: the JPEG of the training (differentiable proxy and the real codec, straight-through);
- ``train``: the ``acutance train irn`` recipe on ``acutance.train``;
- ``export``: the two ONNX files (``NAME.onnx`` upscaler in the deep family, ``NAME.down.onnx``);
- ``runtime``: downscaling without torch (onnxruntime; ``bicubic`` is MATLAB's), padding to the scale;
- ``tag``: the tag an LR file carries (which model made it, the original size) and the upscale notice.
See docs/irn.md.
"""
