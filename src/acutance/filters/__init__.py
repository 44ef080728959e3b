"""Classical, training-free enhancers: pure functions on ``float32 HxWx3 RGB in [0, 1]``.

``usm.py`` unsharp mask; ``cas.py`` AMD FidelityFX Contrast Adaptive Sharpening; ``anime4k.py`` the
Anime4K v0.9 "push" refinement for line art. Each keeps the image contract and clips to [0, 1].
"""

from acutance.filters.anime4k import anime4k_push, anime4k_upscale
from acutance.filters.cas import cas_upscale, contrast_adaptive_sharpen
from acutance.filters.usm import unsharp_mask, usm_reach

__all__ = [
    "anime4k_push",
    "anime4k_upscale",
    "cas_upscale",
    "contrast_adaptive_sharpen",
    "unsharp_mask",
    "usm_reach",
]
