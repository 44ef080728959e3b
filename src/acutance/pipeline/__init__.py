"""The layer between files and algorithms: tiling, alpha, scale checks, clipping."""

from acutance.pipeline.enhance import enhance, enhance_image, resolve_scale
from acutance.pipeline.tiling import run_tiled

__all__ = ["enhance", "enhance_image", "resolve_scale", "run_tiled"]
