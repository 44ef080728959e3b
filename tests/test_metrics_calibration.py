"""Calibration of PSNR / SSIM / MS-SSIM against the official scores in ../shared/data/iqa (5 TID2013 pairs).

``results_official.csv`` holds one row per method and one column per image (``I03.bmp``; the files here are
lossless PNG copies). Findings (see acutance.metrics.ssim):

* psnr: RGB, all three channels, no crop, peak 255 (skimage's peak_signal_noise_ratio): within 0.01 dB.
* ssim: Wang's ssim_index without the automatic downsampling, on MATLAB rgb2gray luminance. Rounding the
  luminance to 8 bit (rgb2gray on uint8 imread output) reproduces all 5 values to 4 decimals; the unrounded
  ``ssim(..., gray=True)`` stays within 0.002.
* ms_ssim: Wang's msssim.m on rounded rgb2gray is within 0.005 (largest gaps I19, I03); recorded, loosely
  checked.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from acutance.color.ycbcr import rgb_to_gray
from acutance.metrics import ms_ssim, ms_ssim_plane, psnr, ssim, ssim_plane

pytestmark = pytest.mark.slow


def load(path: Path) -> np.ndarray:
    return (np.asarray(Image.open(path).convert("RGB")).astype(np.float32) / 255).astype(np.float32)


def gray_uint8(rgb: np.ndarray) -> np.ndarray:
    """MATLAB rgb2gray on a uint8 image: luminance rounded (half away from zero) to 8 bit, as float64 0-255."""
    return np.floor(rgb_to_gray(rgb) * 255.0 + 0.5)


@pytest.fixture(scope="module")
def iqa(shared_data: Path):
    """``(official, pairs)``: official[method][stem] -> float, pairs[stem] -> (ref, dist) float32 RGB."""
    root = shared_data / "iqa"
    table = root / "results_official.csv"
    if not table.is_file():
        pytest.skip(f"{table} not found: the IQA calibration needs it")
    with open(table, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        stems = [Path(name).stem for name in header[1:]]
        official = {row[0]: dict(zip(stems, map(float, row[1:]))) for row in reader if row}
    pairs = {}
    for stem in stems:
        ref = next((root / "ref_dir").glob(f"{stem}.*"))
        dist = next((root / "dist_dir").glob(f"{stem}.*"))
        pairs[stem] = (load(ref), load(dist))
    assert len(pairs) == 5
    return official, pairs


def test_psnr_rgb_matches_official(iqa):
    official, pairs = iqa
    for stem, (ref, dist) in pairs.items():
        assert psnr(ref, dist) == pytest.approx(official["psnr"][stem], abs=0.01), stem


def test_ssim_rgb2gray_matches_official(iqa):
    official, pairs = iqa
    for stem, (ref, dist) in pairs.items():
        assert ssim(ref, dist, gray=True) == pytest.approx(official["ssim"][stem], abs=0.002), stem
        # 8-bit rgb2gray luminance reproduces the 4 published decimals
        exact = ssim_plane(gray_uint8(ref), gray_uint8(dist))
        assert exact == pytest.approx(official["ssim"][stem], abs=1e-4), stem


def test_ms_ssim_close_to_official(iqa, record_property):
    official, pairs = iqa
    lines = [f"{'image':6} {'psnr':>8} {'official':>8} {'ssim':>7} {'official':>8} {'ms_ssim':>7} {'official':>8}"]
    for stem, (ref, dist) in pairs.items():
        value = ms_ssim_plane(gray_uint8(ref), gray_uint8(dist))
        record_property(f"ms_ssim_{stem}", f"{value:.4f} (official {official['ms_ssim'][stem]:.4f})")
        lines.append(
            f"{stem:6} {psnr(ref, dist):8.4f} {official['psnr'][stem]:8.2f} "
            f"{ssim(ref, dist, gray=True):7.4f} {official['ssim'][stem]:8.4f} "
            f"{value:7.4f} {official['ms_ssim'][stem]:8.4f}"
        )
        assert value == pytest.approx(official["ms_ssim"][stem], abs=0.01), stem
        assert ms_ssim(ref, dist, gray=True) == pytest.approx(official["ms_ssim"][stem], abs=0.01), stem
    print("\n" + "\n".join(lines))
