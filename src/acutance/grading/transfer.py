"""The classical colour-transfer baselines of the style benchmark, from the libraries:

- ``reinhard``: Reinhard et al. (2001) mean/std transfer, here in CIE Lab (OpenCV's sRGB/D65 conversion);
- ``histogram_match``: per-channel histogram matching (``skimage.exposure.match_histograms``).
"""

from __future__ import annotations

import numpy as np

from acutance.contract import check_rgb


def reinhard(rgb: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Each Lab channel of ``rgb`` shifted and scaled to the mean and standard deviation of ``ref``'s."""
    import cv2

    check_rgb(rgb, "input")
    check_rgb(ref, "reference")
    source = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2Lab)
    target = cv2.cvtColor(np.ascontiguousarray(ref), cv2.COLOR_RGB2Lab)
    mean_s, std_s = source.reshape(-1, 3).mean(0), source.reshape(-1, 3).std(0)
    mean_t, std_t = target.reshape(-1, 3).mean(0), target.reshape(-1, 3).std(0)
    lab = (source - mean_s) * (std_t / np.maximum(std_s, 1e-6)) + mean_t
    return np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB), 0, 1)


def histogram_match(rgb: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """scikit-image's per-channel histogram matching of ``rgb`` to ``ref`` (RGB)."""
    from skimage.exposure import match_histograms

    check_rgb(rgb, "input")
    check_rgb(ref, "reference")
    return np.clip(match_histograms(rgb, ref, channel_axis=-1), 0, 1).astype(np.float32)
