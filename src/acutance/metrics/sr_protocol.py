"""The standard super-resolution test protocol, the one every published SR figure uses.

1. HR cropped so both sides are multiples of the scale ("modcrop");
2. LR = MATLAB ``imresize(HR, 1/scale, 'bicubic')`` (antialiased), stored as 8 bit;
3. the model upscales LR; its output is stored as 8 bit;
4. PSNR/SSIM on MATLAB ``rgb2ycbcr`` Y (not rounded), ``scale`` pixels cropped from each border.
   A single-channel file is its own Y (MATLAB scripts convert only 3-channel images).
"""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acutance.contract import to_uint
from acutance.metrics.registry import compute
from acutance.resize import imresize


@dataclass(frozen=True)
class SrScore:
    name: str
    psnr: float
    ssim: float
    seconds: float  # the model's call only
    output_megapixels: float
    peak_bytes: int  # peak memory the model's call allocated (numpy arrays included), tracemalloc


def quantise(image: np.ndarray) -> np.ndarray:
    """Round to 8-bit levels and back to float32, as storing to a PNG would."""
    return to_uint(image, 8).astype(np.float32) / np.float32(255.0)


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    height, width = image.shape[:2]
    return image[: height - height % scale, : width - width % scale]


def make_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """The protocol's LR image of an (already modcropped) HR: MATLAB bicubic, 8-bit levels."""
    return quantise(imresize(hr, 1.0 / scale, method="bicubic"))


def score_sr(hr: np.ndarray, sr: np.ndarray, scale: int, *, single_channel: bool) -> tuple[float, float]:
    """(Y-PSNR, Y-SSIM) of an 8-bit-quantised SR result against the HR, ``scale`` border cropped."""
    sr = quantise(sr)
    if single_channel:
        hr, sr = hr[:, :, 0], sr[:, :, 0]
    return (
        compute("psnr", hr, sr, crop_border=scale, y_channel=True),
        compute("ssim", hr, sr, crop_border=scale, y_channel=True),
    )


def evaluate_sr_image(upscale, path: Path, scale: int) -> SrScore:
    """Run ``upscale(lr) -> sr`` (float32 HxWx3 in, float32 out) on one HR file under the protocol."""
    from acutance.io import read_image

    image = read_image(path)
    hr = modcrop(image.rgb, scale)
    lr = make_lr(hr, scale)
    tracemalloc.start()
    start = time.perf_counter()
    sr = upscale(lr)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    if sr.shape != hr.shape:
        raise ValueError(f"{path.name}: model returned {sr.shape}, expected {hr.shape}")
    quality, similarity = score_sr(hr, sr, scale, single_channel=image.meta.grayscale)
    return SrScore(path.stem, quality, similarity, seconds, sr.shape[0] * sr.shape[1] / 1e6, peak)
