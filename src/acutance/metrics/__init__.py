"""Full-reference fidelity metrics: PSNR, SSIM, MS-SSIM (MATLAB conventions, 0-255 scale, float64).

Functions take two float32 HxWx3 RGB images in [0, 1] of the same size. ``y_channel`` measures MATLAB
``rgb2ycbcr`` Y, ``gray`` MATLAB ``rgb2gray`` luminance, neither all three RGB channels; ``crop_border``
pixels are removed from every side first. File and folder evaluation is in :mod:`acutance.metrics.evaluate`.
"""

from acutance.metrics.psnr import psnr
from acutance.metrics.ssim import ms_ssim, ms_ssim_plane, ssim, ssim_plane

METRICS = {"psnr": psnr, "ssim": ssim, "ms_ssim": ms_ssim}

__all__ = ["METRICS", "ms_ssim", "ms_ssim_plane", "psnr", "ssim", "ssim_plane"]
