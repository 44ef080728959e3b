"""Acceptance: the SR protocol with MATLAB bicubic reproduces the published bicubic baselines.

Published (Y-PSNR / SSIM): the figures every SR paper tabulates for bicubic interpolation.
Tolerance: 0.03 dB and 0.002, as the foundation issue asks.
"""

from __future__ import annotations

import numpy as np
import pytest

from acutance.io import list_images
from acutance.metrics.sr_protocol import evaluate_sr_image
from acutance.resize import imresize

PUBLISHED = {
    ("Set5", 2): (33.66, 0.9299), ("Set5", 3): (30.39, 0.8682), ("Set5", 4): (28.42, 0.8104),
    ("Set14", 2): (30.24, 0.8688), ("Set14", 3): (27.55, 0.7742), ("Set14", 4): (26.00, 0.7027),
    ("BSD100", 2): (29.56, 0.8431), ("BSD100", 3): (27.21, 0.7385), ("BSD100", 4): (25.96, 0.6675),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("dataset,scale", sorted(PUBLISHED))
def test_bicubic_reproduces_published_baseline(shared_data, dataset, scale):
    folder = shared_data / "sr" / dataset
    images, _ = list_images(folder)
    assert images, f"no images in {folder}"
    scores = [evaluate_sr_image(lambda lr: imresize(lr, scale), path, scale) for path in images]
    mean_psnr = float(np.mean([s.psnr for s in scores]))
    mean_ssim = float(np.mean([s.ssim for s in scores]))
    want_psnr, want_ssim = PUBLISHED[(dataset, scale)]
    print(f"{dataset} x{scale}: {mean_psnr:.3f} dB / {mean_ssim:.4f} (published {want_psnr} / {want_ssim})")
    assert abs(mean_psnr - want_psnr) <= 0.03
    assert abs(mean_ssim - want_ssim) <= 0.002
