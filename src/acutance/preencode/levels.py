"""The sharpening levels of ``--pre-encode``: 0 (none) and five unsharp-mask strengths of increasing amount.

The unsharp mask is :func:`acutance.filters.unsharp_mask` at radius 1 px: it lifts the finest detail, which is
what an encoder quantises away first. The amounts were set before the benchmark from a first look at one clip
(bikes, 480x204, single cubic BD fit): VMAF NEG BD-rate was best near amount 0.3-0.6 and worse by 1.0. The
benchmark then found amount 0.2 (level 1) best on most clips (benchmarks/results/pre_encode.md).
"""

from __future__ import annotations

import numpy as np

from acutance.errors import OptionError
from acutance.filters import unsharp_mask

RADIUS = 1.0
AMOUNTS = (0.0, 0.2, 0.4, 0.6, 0.9, 1.3)  # level -> USM amount
LEVELS = tuple(range(len(AMOUNTS)))


def check_level(level) -> int:
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 0 <= int(level) < len(AMOUNTS):
        raise OptionError(f"--pre-encode must be 'auto' or a level 0..{len(AMOUNTS) - 1}, got {level!r}")
    return int(level)


def sharpen(rgb: np.ndarray, level: int) -> np.ndarray:
    """``rgb`` sharpened at ``level`` (level 0 returns it unchanged, not a copy)."""
    amount = AMOUNTS[check_level(level)]
    return rgb if amount == 0 else unsharp_mask(rgb, amount, RADIUS)
