"""SSIM and MS-SSIM exactly as Wang et al.'s MATLAB code (``ssim_index.m`` / ``ssim.m``, ``msssim.m``).

Both work in float64 on the 0-255 scale:

* window: 11x11 Gaussian, sigma 1.5, normalised to sum 1 (``fspecial('gaussian', 11, 1.5)``);
* filtering is 'valid' (``filter2(w, x, 'valid')``): no padding, the map is (H-10)x(W-10);
* C1 = (0.01*255)^2, C2 = (0.03*255)^2; SSIM is the mean of the map.

``downsample=True`` adds the automatic downsampling of the 2009 ``ssim.m``: with
``f = max(1, round(min(H, W) / 256))`` and ``f > 1`` both images are filtered with an f x f box
(``imfilter(x, ones(f)/f^2, 'symmetric', 'same')``) and every f-th pixel is kept from the first.
The calibration anchors (``../shared/data/iqa/results_official.csv``, TID2013 512x384 images) are reproduced
WITHOUT it, on MATLAB ``rgb2gray`` luminance of the 8-bit images rounded to 8 bit (``rgb2gray`` on a uint8
``imread`` result): all 5 values to 4 decimals. ``ssim(..., gray=True)`` (unrounded luminance, as ``rgb2gray``
on double input) is within 0.0013; ``downsample=True`` (f = 2 there) is off by up to 0.11.

MS-SSIM follows ``msssim.m``: 5 scales, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); at scales 1-4 the
mean contrast-structure term ``mean(cs_map)``, at scale 5 the mean full SSIM map; between scales a 2x2 box
filter with symmetric padding ('same') and keeping every 2nd pixel from the first. The product
``prod(mcs[:4] ** w[:4]) * mssim[4] ** w[4]`` is taken with negative terms clamped to 0 (MATLAB would return
a complex number there).
"""

from __future__ import annotations

import cv2
import numpy as np

from acutance.errors import OptionError
from acutance.metrics.psnr import prepare_channels

WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
C1 = (0.01 * 255.0) ** 2
C2 = (0.03 * 255.0) ** 2
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def gaussian_window_1d(size: int = WINDOW_SIZE, sigma: float = WINDOW_SIGMA) -> np.ndarray:
    """Normalised 1D Gaussian; its outer product with itself is MATLAB ``fspecial('gaussian', size, sigma)``."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


_WIN = gaussian_window_1d()


def _filter_valid(image: np.ndarray) -> np.ndarray:
    """Separable Gaussian filtering of a float64 HxW plane, 'valid' part only ((H-10)x(W-10))."""
    out = cv2.sepFilter2D(image, cv2.CV_64F, _WIN, _WIN, borderType=cv2.BORDER_REFLECT)
    r = WINDOW_SIZE // 2
    return out[r:-r, r:-r]


def _ssim_maps(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SSIM map and contrast-structure map of two float64 HxW planes (0-255), as ``ssim_index_new``."""
    mu1 = _filter_valid(a)
    mu2 = _filter_valid(b)
    sigma1_sq = _filter_valid(a * a)
    sigma2_sq = _filter_valid(b * b)
    sigma12 = _filter_valid(a * b)
    mu1_sq = mu1 * mu1
    mu2_sq = mu2 * mu2
    mu1_mu2 = mu1 * mu2
    # In place from here on (these are 2 MB arrays for a 512x512 plane); same arithmetic as ssim_index.m.
    sigma1_sq -= mu1_sq
    sigma2_sq -= mu2_sq
    sigma12 -= mu1_mu2
    cs_map = sigma12
    cs_map *= 2.0
    cs_map += C2
    sigma1_sq += sigma2_sq
    sigma1_sq += C2
    cs_map /= sigma1_sq  # (2 sigma12 + C2) / (sigma1^2 + sigma2^2 + C2)
    ssim_map = mu1_mu2
    ssim_map *= 2.0
    ssim_map += C1
    mu1_sq += mu2_sq
    mu1_sq += C1
    ssim_map /= mu1_sq  # luminance term (2 mu1 mu2 + C1) / (mu1^2 + mu2^2 + C1)
    ssim_map *= cs_map
    return ssim_map, cs_map


def _box_downsample(plane: np.ndarray, f: int) -> np.ndarray:
    """``x = imfilter(x, ones(f)/f^2, 'symmetric', 'same'); x = x(1:f:end, 1:f:end)`` on a float64 plane."""
    # imfilter's kernel centre for an even/odd size f is floor((f+1)/2) (1-based): window rows i-(c-1)..i+(f-c).
    before = (f + 1) // 2 - 1
    after = f - 1 - before
    padded = np.pad(plane, ((before, after), (before, after)), mode="symmetric")
    kernel = np.full(f, 1.0 / f)
    filtered = cv2.sepFilter2D(padded, cv2.CV_64F, kernel, kernel, anchor=(0, 0), borderType=cv2.BORDER_REFLECT)
    filtered = filtered[: plane.shape[0], : plane.shape[1]]
    return filtered[::f, ::f]


def _check_size(plane: np.ndarray, what: str) -> None:
    if min(plane.shape) < WINDOW_SIZE:
        raise OptionError(
            f"{what} needs images of at least {WINDOW_SIZE}x{WINDOW_SIZE} pixels after cropping"
            f" (and downsampling), got {plane.shape[0]}x{plane.shape[1]}"
        )


def ssim_plane(a: np.ndarray, b: np.ndarray, *, downsample: bool = False) -> float:
    """SSIM of two float64 HxW planes on the 0-255 scale (no checks on range)."""
    if downsample:
        f = max(1, int(np.floor(min(a.shape) / 256.0 + 0.5)))  # MATLAB round: half away from zero
        if f > 1:
            a = _box_downsample(a, f)
            b = _box_downsample(b, f)
    _check_size(a, "SSIM")
    ssim_map, _ = _ssim_maps(a, b)
    return float(ssim_map.mean())


def ms_ssim_plane(a: np.ndarray, b: np.ndarray) -> float:
    """5-scale MS-SSIM of two float64 HxW planes on the 0-255 scale (Wang's ``msssim.m``, 'product')."""
    levels = len(MS_SSIM_WEIGHTS)
    smallest = min(a.shape)
    for _ in range(levels - 1):
        smallest = (smallest + 1) // 2
    if smallest < WINDOW_SIZE:
        raise OptionError(
            f"MS-SSIM needs images of at least 176x176 pixels (11 at the 5th scale), got {a.shape[0]}x{a.shape[1]}"
        )
    result = 1.0
    for level, weight in enumerate(MS_SSIM_WEIGHTS):
        ssim_map, cs_map = _ssim_maps(a, b)
        if level == levels - 1:
            value = float(ssim_map.mean())
        else:
            value = float(cs_map.mean())
            a = _box_downsample(a, 2)
            b = _box_downsample(b, 2)
        result *= max(value, 0.0) ** weight
    return result


def ssim(
    ref: np.ndarray,
    dist: np.ndarray,
    *,
    crop_border: int = 0,
    y_channel: bool = False,
    gray: bool = False,
    downsample: bool = False,
) -> float:
    """SSIM of two float32 HxWx3 RGB images in [0, 1]; RGB mode is the mean of the per-channel SSIMs.

    ``downsample=True`` applies ``ssim.m``'s automatic downsampling (off by default; see the module notes).
    """
    a, b = prepare_channels(ref, dist, crop_border=crop_border, y_channel=y_channel, gray=gray)
    values = [ssim_plane(a[..., c], b[..., c], downsample=downsample) for c in range(a.shape[2])]
    return float(np.mean(values))


def ms_ssim(
    ref: np.ndarray, dist: np.ndarray, *, crop_border: int = 0, y_channel: bool = False, gray: bool = False
) -> float:
    """MS-SSIM of two float32 HxWx3 RGB images in [0, 1]; RGB mode is the mean of the per-channel values."""
    a, b = prepare_channels(ref, dist, crop_border=crop_border, y_channel=y_channel, gray=gray)
    values = [ms_ssim_plane(a[..., c], b[..., c]) for c in range(a.shape[2])]
    return float(np.mean(values))
