"""Pre-encoding sharpening: sharpen before the encoder at a level chosen per scene from frequency features.

``levels`` the level table (unsharp-mask strengths); ``features`` DCT band shares, SI, Laplacian variance;
``scenes`` a causal cut detector; ``chooser`` the fitted per-level BD-rate predictor; ``video`` the
``pre-encode`` stage of ``acutance video``. Measured in ``benchmarks/results/pre_encode.md``.
"""

from acutance.preencode.levels import AMOUNTS, LEVELS, sharpen

__all__ = ["AMOUNTS", "LEVELS", "sharpen"]
